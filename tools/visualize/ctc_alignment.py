"""Draw the CTC output over time for a sample of a dataset split.

Example:
    python tools/visualize/ctc_alignment.py configs/adaptsign_synthetic.py \
        work_dirs/adaptsign_synthetic/best_wer_seq_epoch_9.pth --split test --index 0 \
        --out ctc.png

Per output frame, the probability of blank and of each recognised gloss (sequence branch),
and under it the decoded glosses at the times their alignment gives them, with the
sample's reference glosses. The sample's frames are read as ``tools/demo/recognize.py``
reads a video (``recognize.py VIDEO --plot FILE`` draws the same picture for any video).
"""
import argparse
import sys
from typing import List, Optional

PROG = 'tools/visualize/ctc_alignment.py'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='mmsign checkpoint')
    parser.add_argument('--split', default='test', choices=['train', 'val', 'test'],
                        help='the dataloader whose dataset holds the sample (default: test)')
    parser.add_argument('--index', type=int, default=0, help='sample index (default: 0)')
    parser.add_argument('--fps', type=float, default=25.0,
                        help='frame rate of the frames, for the time axis (default: 25, '
                        'PHOENIX)')
    parser.add_argument('--out', default='ctc.png', help='PNG to write (default: ctc.png)')
    parser.add_argument('--device', default='cpu', help='device (default: cpu)')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='override config entries, e.g. '
                        'test_dataloader.dataset.data_root=DIR')
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of a known failure (also: MMSIGN_DEBUG=1)')
    return parser.parse_args(argv)


def draw(args: argparse.Namespace) -> int:
    """Recognise the sample and save its CTC picture."""
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope

    from mmsign.apis import inference_recognizer, init_recognizer
    from mmsign.cli.command import require_paths
    from mmsign.cli.runtime import load_config, parse_cfg_options
    from mmsign.engine.checkpoint import check_checkpoint_file
    from mmsign.visualization import plot_recognition

    require_paths(config=args.config, checkpoint=args.checkpoint)
    check_checkpoint_file(args.checkpoint)
    options = parse_cfg_options(args.cfg_options)
    cfg = load_config(args.config, options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    dataset_cfg = dict(cfg[f'{args.split}_dataloader']['dataset'], pipeline=[])
    dataset = DATASETS.build(dataset_cfg)
    if not 0 <= args.index < len(dataset):
        raise ValueError(f'--index {args.index}: the {args.split} split has {len(dataset)} '
                         f'samples (0 .. {len(dataset) - 1})')
    info = dataset.get_data_info(args.index)
    video = info.get('frame_dir') or info['filename']
    model = init_recognizer(args.config, args.checkpoint, device=args.device,
                            cfg_options=options)
    result = inference_recognizer(model, video, source_fps=args.fps, progress=False)
    plot_recognition(args.out, result, model.vocab.glosses, model.head.geometry.stride,
                     fps=args.fps, reference=info['gloss_text'],
                     title=f'{info["sample_id"]} ({args.split} split): CTC output')
    print(f'{info["sample_id"]}: reference {" ".join(info["gloss_text"])}')
    print(f'{info["sample_id"]}: decoded   {" ".join(result.glosses)}')
    print(f'wrote {args.out}')
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mmsign.cli.command import run_cli
    return run_cli(lambda: draw(args), PROG, debug=args.debug or None)


if __name__ == '__main__':
    sys.exit(main())
