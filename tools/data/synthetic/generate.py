"""Generate the synthetic sign language dataset (PHOENIX14 layout, optional mp4 videos).

Example::

    python tools/data/synthetic/generate.py data/synthetic
    python tools/data/synthetic/generate.py data/synthetic_tiny --image-size 32 \
        --num-train 100 --num-dev 20 --num-test 20 --videos

writes ``<root>/phoenix-2014-multisigner`` (corpus CSVs, PNG frame folders, STM ground
truth), ``<root>/gloss_vocab.json`` and ``<root>/synthetic_meta.json``; with ``--videos``
also ``<root>/videos/<split>/<id>.mp4`` and the list files ``<root>/<split>.txt``. The same
options and seed give byte-identical files. See docs/synthetic.md.
"""
import argparse
import os
import sys
from typing import Optional, Sequence

from mmsign.datasets.synthetic import (
    MAX_GLOSSES,
    ensure_synthetic_dataset,
    generate_synthetic_dataset,
)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='output folder (replaced if it holds an earlier '
                        'synthetic dataset)')
    parser.add_argument('--num-glosses', type=int, default=16,
                        help=f'vocabulary size, 2 to {MAX_GLOSSES} (default: %(default)s)')
    parser.add_argument('--num-train', type=int, default=400,
                        help='training sentences (default: %(default)s)')
    parser.add_argument('--num-dev', type=int, default=60,
                        help='dev sentences (default: %(default)s)')
    parser.add_argument('--num-test', type=int, default=60,
                        help='test sentences (default: %(default)s)')
    parser.add_argument('--image-size', type=int, default=64,
                        help='height and width of the frames in pixels (default: %(default)s)')
    parser.add_argument('--min-glosses', type=int, default=2,
                        help='shortest sentence (default: %(default)s)')
    parser.add_argument('--max-glosses', type=int, default=8,
                        help='longest sentence (default: %(default)s)')
    parser.add_argument('--num-train-signers', type=int, default=12,
                        help='signers of the train split (default: %(default)s)')
    parser.add_argument('--num-dev-signers', type=int, default=2,
                        help='held-out signers of the dev split (default: %(default)s)')
    parser.add_argument('--num-test-signers', type=int, default=2,
                        help='held-out signers of the test split (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: %(default)s)')
    parser.add_argument('--videos', action='store_true',
                        help='also write mp4 videos and the <split>.txt list files')
    parser.add_argument('--fps', type=int, default=25,
                        help='frame rate of the mp4 videos (default: %(default)s)')
    parser.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1),
                        help='worker processes; the output does not depend on it '
                        '(default: %(default)s)')
    parser.add_argument('--if-missing', action='store_true',
                        help='keep an existing dataset made with the same options')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Generate the dataset and print a summary; returns the exit status."""
    args = parse_args(argv)
    options = dict(num_glosses=args.num_glosses, num_train=args.num_train,
                   num_dev=args.num_dev, num_test=args.num_test, image_size=args.image_size,
                   min_glosses=args.min_glosses, max_glosses=args.max_glosses,
                   num_train_signers=args.num_train_signers,
                   num_dev_signers=args.num_dev_signers,
                   num_test_signers=args.num_test_signers, seed=args.seed,
                   write_videos=args.videos, fps=args.fps, num_workers=args.workers)
    try:
        if args.if_missing:
            summary = ensure_synthetic_dataset(args.root, **options)
        else:
            summary = generate_synthetic_dataset(args.root, **options)
    except (ValueError, FileExistsError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    verb = 'generated' if summary['generated'] else 'already present'
    print(f"synthetic dataset {verb} in {summary['root']} ({summary['seconds']} s): "
          f"{len(summary['glosses'])} glosses")
    for split, info in summary['splits'].items():
        print(f"  {split:5s} {info['num_videos']:5d} videos {info['num_frames']:7d} frames "
              f"({info['min_frames']}-{info['max_frames']} per video), signers "
              f"{', '.join(info['signers'])}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
