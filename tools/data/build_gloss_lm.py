"""Build a gloss n-gram language model (ARPA) from the training split of a dataset.

Example::

    python tools/data/build_gloss_lm.py --dataset phoenix2014 \\
        --root data/phoenix2014/phoenix-2014-multisigner --order 3 \\
        --out work_dirs/lm/phoenix2014_train_3gram.arpa

The sentences are the raw annotation glosses of the split (the classes the model
predicts), each between ``<s>`` and ``</s>``. Smoothing is interpolated modified
Kneser-Ney (``--plain-kn``: one discount per order), estimated by
:mod:`mmsign.models.decoders.ngram`; the ARPA file loads in KenLM (``build_binary``,
``query``), flashlight-text and SRILM. Decode with it through
``CTCBeamSearchDecoder(lm=..., lm_weight=..., word_score=..., vocab=...)`` and choose the
weights with ``tools/analysis/tune_decoder.py``. The synthetic data is in the PHOENIX14
layout: ``--dataset phoenix2014 --root data/synthetic/phoenix-2014-multisigner``.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Sequence

from mmsign.datasets import SIGN_DATASETS, CustomSignDataset, SignDataError
from mmsign.models.decoders.ngram import estimate_kneser_ney


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--dataset', required=True, choices=[*SIGN_DATASETS, 'custom'])
    parser.add_argument('--root', required=True,
                        help='the dataset root (the data_root of the dataset config)')
    parser.add_argument('--out', required=True, help='the ARPA file to write')
    parser.add_argument('--order', type=int, default=3, help='n-gram order (default: 3)')
    parser.add_argument('--split', default='train',
                        help='split whose sentences are counted (default: train); never '
                        'the split you evaluate on')
    parser.add_argument('--plain-kn', action='store_true',
                        help='Kneser-Ney with one discount per order instead of modified '
                        'Kneser-Ney')
    parser.add_argument('--ann-file', default='{split}.txt',
                        help='custom only: list file relative to --root, {split} is '
                        'replaced by the split (default: %(default)s)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Build and write the model; returns the exit status."""
    args = parse_args(argv)
    if args.order < 1:
        print(f'error: --order must be at least 1, got {args.order}', file=sys.stderr)
        return 2
    try:
        if args.dataset == 'custom':
            records = CustomSignDataset.read_annotations(args.root, args.split,
                                                         ann_file=args.ann_file)
        else:
            records = SIGN_DATASETS[args.dataset].read_annotations(args.root, args.split)
    except SignDataError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    sentences = [r['gloss_text'] for r in records if r['gloss_text']]
    if not sentences:
        print(f'error: the {args.split} split of {args.root} has no annotated sentence',
              file=sys.stderr)
        return 1
    lm, used = estimate_kneser_ney(sentences, args.order, modified=not args.plain_kn)
    kind = 'Kneser-Ney' if args.plain_kn else 'modified Kneser-Ney'
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    lm.write_arpa(args.out, [
        f'mmsign gloss {args.order}-gram, interpolated {kind}',
        f'dataset {args.dataset}, root {args.root}, split {args.split}, '
        f'{len(sentences)} sentences',
        'discounts (D1, D2, D3+) per order: ' + '; '.join(
            ', '.join(f'{d:.4f}' for d in ds) for ds in used),
    ])
    sizes = ', '.join(f'{len(t)} {n + 1}-grams' for n, t in enumerate(lm.entries))
    print(f'{args.dataset} {args.split}: {len(sentences)} sentences, '
          f'{len(lm.vocab) - 3} glosses; {kind} {sizes} written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
