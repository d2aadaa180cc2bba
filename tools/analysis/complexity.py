"""Parameters and FLOPs per frame of a recipe's AdaptSign backbone vs. the plain CLIP ViT.

Example:
    python tools/analysis/complexity.py configs/adaptsign_phoenix14.py
    python tools/analysis/complexity.py configs/adaptsign_phoenix14.py --json complexity.json

FLOPs: matrix products, convolutions and attention (2 per multiply-add), counted by
torch.utils.flop_counter on the meta device (no weights are loaded or downloaded).
"""
import argparse
import json
import sys

from mmsign.cli.runtime import DictAction, load_config
from mmsign.models.complexity import recognizer_complexity


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Trainable / frozen parameters and FLOPs per frame of AdaptSign')
    parser.add_argument('config', help='config file (e.g. configs/adaptsign_phoenix14.py)')
    parser.add_argument('--num-frames', type=int, default=16,
                        help='frames of the video measured (default: %(default)s)')
    parser.add_argument('--json', help='also write the numbers to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.backbone.arch=ViT-L-14')
    return parser.parse_args(argv)


def report(stats: dict) -> str:
    """The numbers as a table."""
    p, f = stats['params'], stats['flops_per_frame']
    b, h = p['backbone'], p['head']
    g = 1e9
    lines = [
        f'{stats["arch"]}, {stats["image_size"]}x{stats["image_size"]} frames, video of '
        f'{stats["num_frames"]} frames',
        '',
        'parameters              trainable        frozen         total',
        f'  backbone          {b["trainable"]:>13,} {b["frozen"]:>13,} '
        f'{b["trainable"] + b["frozen"]:>13,}',
        f'  head              {h["trainable"]:>13,} {h["frozen"]:>13,} '
        f'{h["trainable"] + h["frozen"]:>13,}',
        f'  plain CLIP ViT    {"":>13} {"":>13} {p["clip_vit"]:>13,}',
        '',
        'GFLOPs per frame',
        f'  plain CLIP ViT          {f["clip_vit"] / g:9.3f}',
        f'  AdaptSign backbone      {f["adaptsign"] / g:9.3f}',
        f'  added                   {f["added"] / g:9.3f}   '
        f'({100 * f["added_fraction"]:.1f} % of the plain ViT; the paper reports about 3.2 %)',
    ]
    for part, flops in f['added_parts'].items():
        lines.append(f'    {part:<22}{flops / g:9.3f}   ({100 * flops / f["clip_vit"]:.1f} %)')
    lines.append(f'  CTC head                {f["head"] / g:9.3f}')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model_cfg = cfg.model.to_dict()
    if 'num_classes' not in model_cfg['head'] and cfg.get('num_classes'):
        model_cfg['head']['num_classes'] = cfg.num_classes  # no vocabulary file needed
    model_cfg['vocab'] = None
    stats = recognizer_complexity(model_cfg, num_frames=args.num_frames)
    print(report(stats))
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(stats, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
