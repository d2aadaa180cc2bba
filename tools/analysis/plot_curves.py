"""Plot the training loss and the dev WER of a training run.

Example:
    python tools/analysis/plot_curves.py work_dirs/adaptsign_synthetic --out curves.png

Reads ``WORK_DIR/<latest timestamp>/vis_data/scalars.json``, which mmengine's
``LocalVisBackend`` (``configs/_base_/default_runtime.py``) writes during
``tools/train.py``: the loss and its terms every ``default_hooks.logger.interval``
iterations and the validation metrics after every epoch. Writes a PNG with the loss per
iteration (and its mean per epoch) and the dev WER per epoch. The same scalars go to
TensorBoard: ``tensorboard --logdir WORK_DIR``.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from mmsign.visualization import latest_scalars_file, plot_curves, read_scalars


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Plot loss and dev WER of a training run')
    parser.add_argument('work_dir', help='the --work-dir of tools/train.py')
    parser.add_argument('--out', help='PNG to write (default: WORK_DIR/curves.png)')
    parser.add_argument('--metrics', nargs='+',
                        help='validation keys to plot (default: the WERs of both branches, '
                        'wer/seq and wer/conv)')
    parser.add_argument('--title', help='figure title (default: the run\'s timestamp)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    source = latest_scalars_file(args.work_dir)
    curves = read_scalars(source)
    out = args.out or osp.join(args.work_dir, 'curves.png')
    plot_curves(curves, out, metrics=args.metrics, title=args.title)
    epochs = sorted({int(row['epoch']) for row in curves.train})
    print(f'{source}: {len(curves.train)} training log lines over {len(epochs)} epochs, '
          f'{len(curves.val)} validations')
    for row in curves.val:
        metrics = ', '.join(f'{k} {row[k]:.2f}' for k in args.metrics or curves.metric_keys())
        print(f'  epoch {row["step"]}: {metrics}')
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
