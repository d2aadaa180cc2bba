"""Draw where an AdaptSign recognizer looks in each frame of a video, and when it emits
each gloss.

Example:
    python tools/visualize/attention_maps.py configs/adaptsign_phoenix14.py \
        work_dirs/adaptsign_phoenix14/best.pth my_video.mp4 --out vis/my_video

Writes into --out:

- ``overlays/frame_XXXX.png``: the aggregation query's attention over the patches
  (``--layer``: one layer or the mean over the layers) as a heat map over the frame, at
  the video's frame size; the part the model does not see (outside its crop) is dimmed;
- ``panels/frame_XXXX.png``: the overlay enlarged, the temporal correlation's gates
  towards the neighbouring frames (one tile per window position, with the mean gate) and
  the glosses recognised so far, the one emitted at this frame's output step highlighted;
- ``contact_sheet.png`` (every ``--sheet-step``-th panel), ``attention.gif`` and, when
  OpenCV can encode it, ``attention.mp4``;
- ``attention.npz`` (``patch_attention`` ``(T, gh, gw)``, each frame summing to 1,
  ``cls_share``, ``temporal_gates`` ``(T, W, gh, gw)``, ``temporal_sources``) and
  ``summary.json`` (glosses, emission steps and frames, mean gates).

VIDEO is a video file or a folder of frames, read as ``tools/demo/recognize.py`` reads
it: through the config's test pipeline, the one the model was evaluated with (its
``SignResize``: the recipes' 256x256, the synthetic recipe's 36x36; ``--frame-size``
overrides that size).
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional, Union

import numpy as np
import torch

from mmsign.apis import init_recognizer
from mmsign.cli.command import require_paths, run_cli
from mmsign.cli.runtime import DictAction
from mmsign.visualization import (
    FRAMES_PER_STEP,
    PanelRenderer,
    attention_overlays,
    contact_sheet,
    save_gif,
    save_mp4,
    save_png,
    video_attention,
)

PROG = 'tools/visualize/attention_maps.py'


def layer_arg(value: str) -> Union[int, str]:
    """``'mean'`` or a layer index."""
    if value == 'mean':
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--layer takes 'mean' or a layer index, got {value!r}") from None


def frame_size_arg(value: str) -> Optional[int]:
    """A size in pixels, or ``none`` (keep the video's size)."""
    return None if value.lower() == 'none' else int(value)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Attention maps and gloss emissions of a recognizer on a video')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='mmsign checkpoint')
    parser.add_argument('video', help='video file or folder of frames')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--layer', type=layer_arg, default='mean',
                        help="aggregation layer to show (0 = first, -1 = last) or 'mean' "
                        'over the layers (default: %(default)s)')
    parser.add_argument('--device', default='cuda:0' if torch.cuda.is_available() else 'cpu',
                        help='device (default: %(default)s)')
    parser.add_argument('--fps', type=float,
                        help='resample to this frame rate first (the recipes: 25)')
    parser.add_argument('--source-fps', type=float,
                        help='frame rate of a frame folder (a video file\'s is read from it)')
    parser.add_argument('--frame-size', type=frame_size_arg, nargs=2,
                        default=[None, None], metavar=('HEIGHT', 'WIDTH'),
                        help='override the size of the test pipeline\'s SignResize '
                        '(default: the config\'s, which the model was evaluated at; '
                        '"none none" is the default)')
    parser.add_argument('--scale', choices=['video', 'frame'], default='video',
                        help='heat map colour scale: one for the whole video or one per '
                        'frame (default: %(default)s)')
    parser.add_argument('--interpolation', choices=['bilinear', 'nearest'],
                        default='bilinear',
                        help='upsampling of the patch grid (default: %(default)s)')
    parser.add_argument('--panel-size', type=int, default=256,
                        help='width of a panel in pixels (default: %(default)s)')
    parser.add_argument('--sheet-step', type=int, default=None,
                        help='every n-th frame on the contact sheet (default: one per '
                        f'output step of the head; the recipes: {FRAMES_PER_STEP})')
    parser.add_argument('--sheet-columns', type=int, default=8,
                        help='panels per row of the contact sheet (default: %(default)s)')
    parser.add_argument('--gif-fps', type=float, default=8.0,
                        help='frame rate of the GIF and MP4 (default: %(default)s)')
    parser.add_argument('--gif-colors', type=int, default=128,
                        help='colours of the GIF\'s shared palette, 2 to 256; fewer give a '
                        'smaller file (default: %(default)s)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.padding_mode=frames')
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of a known failure (also: MMSIGN_DEBUG=1)')
    args = parser.parse_args(argv)
    if (args.frame_size[0] is None) != (args.frame_size[1] is None):
        parser.error('--frame-size takes two sizes or "none none"')
    if args.frame_size[0] is None:
        args.frame_size = None
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    return run_cli(lambda: draw(args), PROG, debug=args.debug or None)


def draw(args: argparse.Namespace) -> int:
    require_paths(config=args.config, checkpoint=args.checkpoint, video=args.video)
    model = init_recognizer(args.config, args.checkpoint, device=args.device,
                            cfg_options=args.cfg_options)
    attention = video_attention(model, args.video, layer=args.layer, fps=args.fps,
                                source_fps=args.source_fps, frame_size=args.frame_size)
    out = args.out
    for folder in ('overlays', 'panels'):
        os.makedirs(osp.join(out, folder), exist_ok=True)

    overlays = attention_overlays(attention, scale=args.scale,
                                  interpolation=args.interpolation)
    render = PanelRenderer(attention, overlays, size=args.panel_size)
    panels = []
    for t, overlay in enumerate(overlays):
        save_png(osp.join(out, 'overlays', f'frame_{t:04d}.png'), overlay)
        panel = render(t)
        save_png(osp.join(out, 'panels', f'frame_{t:04d}.png'), panel)
        panels.append(panel)
    save_png(osp.join(out, 'contact_sheet.png'),
             contact_sheet(panels[::max(1, args.sheet_step or attention.frames_per_step)],
                           columns=args.sheet_columns),
             colors=256)
    save_gif(osp.join(out, 'attention.gif'), panels, args.gif_fps, colors=args.gif_colors)
    mp4 = save_mp4(osp.join(out, 'attention.mp4'), panels, args.gif_fps)

    arrays = dict(patch_attention=attention.patch_attention, cls_share=attention.cls_share)
    if attention.temporal_gates is not None:
        arrays.update(temporal_gates=attention.temporal_gates,
                      temporal_sources=attention.temporal_sources)
    np.savez_compressed(osp.join(out, 'attention.npz'), **arrays)
    summary = attention.summary()
    with open(osp.join(out, 'summary.json'), 'w', encoding='utf-8') as f:
        json.dump(summary, f, indent=1)
        f.write('\n')

    print(f'{attention.num_frames} frames -> {attention.num_steps} output steps; '
          f'glosses: {" ".join(attention.glosses) or "(none)"}')
    for emission in attention.emissions:
        print(f'  step {emission.step:>3} (frames {emission.frames.start}-'
              f'{emission.frames.stop - 1}): {emission.gloss}')
    greedy = [e.gloss for e in attention.emissions]
    if greedy != attention.glosses:
        print(f'note: the decoder\'s glosses differ from the best path\'s ({" ".join(greedy)}),'
              ' whose emission steps are drawn')
    print(f'wrote {len(panels)} overlays and panels, contact_sheet.png, attention.gif'
          + (', attention.mp4' if mp4 else '') + f', attention.npz, summary.json to {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
