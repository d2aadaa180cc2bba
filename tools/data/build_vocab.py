"""Build the gloss vocabulary of a dataset from its annotation files (no frames needed).

Example::

    python tools/data/build_vocab.py --dataset phoenix2014 \
        --root data/phoenix2014/phoenix-2014-multisigner --out vocab.json

writes ``{"blank_id": 0, "glosses": [...]}``: class ``i + 1`` is ``glosses[i]``, the
sorted set of the raw annotation glosses of all splits, as the released models were
built. ``--train-only`` reads only the training split.
"""
import argparse
import sys
from typing import Optional, Sequence

from mmsign.datasets import SIGN_DATASETS, CustomSignDataset, SignDataError


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--dataset', required=True, choices=[*SIGN_DATASETS, 'custom'])
    parser.add_argument('--root', required=True,
                        help='the dataset root (the data_root of the dataset config)')
    parser.add_argument('--out', required=True, help='the vocabulary JSON to write')
    parser.add_argument('--train-only', action='store_true',
                        help='build from the training split only')
    parser.add_argument('--ann-file', default='{split}.txt',
                        help='custom only: list file relative to --root, {split} is '
                        'replaced by the split (default: %(default)s)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Build and save the vocabulary; returns the exit status."""
    args = parse_args(argv)
    splits = ['train'] if args.train_only else None
    try:
        if args.dataset == 'custom':
            vocab = CustomSignDataset.build_vocabulary(args.root, splits,
                                                       ann_file=args.ann_file)
        else:
            vocab = SIGN_DATASETS[args.dataset].build_vocabulary(args.root, splits)
    except SignDataError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    vocab.save(args.out)
    print(f'{args.dataset}: {len(vocab)} glosses ({vocab.num_classes} classes with the '
          f'blank) written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
