"""Recognise the glosses signed in a video with a trained or converted checkpoint.

Example:
    python tools/demo/recognize.py configs/adaptsign_phoenix14.py \
        work_dirs/adaptsign_phoenix14_released.pth my_video.mp4 --fps 25 --out result.json

VIDEO is a video file (mp4, avi, mkv ...; read with decord) or a folder of PNG/JPG
frames, of any size, frame rate and length. Every preprocessing step comes from the
config's test pipeline, the one the model was evaluated with: its ``SignResize`` (the
recipes: 256x256, the synthetic quick start: 36x36), its centre crop and its packing;
``--fps 25`` resamples to PHOENIX's frame rate. Videos longer than ``--window`` frames
are run in overlapping windows (bounded memory) with a progress bar. Each gloss is
printed with its start and end time and a confidence. What was done is printed.
``--plot ctc.png`` draws the CTC output over time (blank and each recognised gloss per
frame, the decoded glosses and their times under it).
"""
import argparse
import json
import os.path as osp
import sys

import torch

from mmsign.apis import (
    DEFAULT_OVERLAP,
    DEFAULT_WINDOW,
    STITCH_MODES,
    inference_recognizer,
    init_recognizer,
)
from mmsign.apis.video_input import check_video
from mmsign.cli.command import require_paths, run_cli
from mmsign.cli.runtime import DictAction
from mmsign.engine.checkpoint import check_checkpoint_file

PROG = 'tools/demo/recognize.py'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Recognise the glosses of a sign video')
    parser.add_argument('config', help='config file (e.g. configs/adaptsign_phoenix14.py)')
    parser.add_argument('checkpoint', help='mmsign checkpoint')
    parser.add_argument('video', help='video file or folder of frames')
    parser.add_argument('--out', help='write the result to this JSON file')
    parser.add_argument('--show-frames', action='store_true',
                        help='print the most likely class of every output frame (each '
                        'covers the head\'s stride of input frames: 4 in the recipes)')
    parser.add_argument('--plot', metavar='FILE',
                        help='draw the CTC output over time into this PNG: per frame the '
                        'probability of blank and of each recognised gloss, the decoded '
                        'glosses and their times under it')
    parser.add_argument('--with-logits', action='store_true',
                        help='also write the logits of both branches into --out')
    parser.add_argument('--device', default='cuda:0' if torch.cuda.is_available() else 'cpu',
                        help='device (default: %(default)s)')
    parser.add_argument('--fps', type=float,
                        help='resample to this frame rate first (the recipes: 25)')
    parser.add_argument('--source-fps', type=float,
                        help='frame rate of a frame folder (a video file\'s is read from it)')
    parser.add_argument('--frame-size', type=int, nargs=2, metavar=('HEIGHT', 'WIDTH'),
                        help='override the size of the test pipeline\'s SignResize '
                        '(default: the config\'s, which the model was evaluated at)')
    parser.add_argument('--window', type=int, default=DEFAULT_WINDOW,
                        help='frames run at once; longer videos are run in overlapping '
                        'windows (default: %(default)s; 0: the whole video at once)')
    parser.add_argument('--overlap', type=int, default=DEFAULT_OVERLAP,
                        help='frames shared by neighbouring windows (default: %(default)s)')
    parser.add_argument('--stitch', choices=STITCH_MODES, default='features',
                        help='stitch the windows\' backbone features (exact, default) or '
                        'their posteriors')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.padding_mode=frames')
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of a known failure (also: MMSIGN_DEBUG=1)')
    return parser.parse_args(argv)


def frame_table(result, glosses, stride: int) -> str:
    """One line per output frame: input frames, best class, its probability.

    ``stride`` is the head's input frames per output frame (``head.geometry.stride``).
    """
    probs = result.logits.softmax(-1)
    best_p, best = probs.max(-1)
    lines = ['out  input frames  class  prob  gloss']
    for t, (cls, p) in enumerate(zip(best.tolist(), best_p.tolist())):
        first = t * stride
        name = '<blank>' if cls == 0 else glosses[cls - 1]
        lines.append(f'{t:>3}  {first:>5}-{first + stride - 1:<6}  {cls:>5}  '
                     f'{p:.2f}  {name}')
    return '\n'.join(lines)


def timestamp_table(timestamps) -> str:
    """One line per gloss: start and end (seconds, or frames without a frame rate)."""
    lines = ['  start     end  conf  gloss']
    for stamp in timestamps:
        if stamp['start'] is None:
            span = f'{stamp["start_frame"]:>6}f {stamp["end_frame"]:>6}f'
        else:
            span = f'{stamp["start"]:>6.2f}s {stamp["end"]:>6.2f}s'
        lines.append(f'{span}  {stamp["confidence"]:.2f}  {stamp["gloss"]}')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_cli(lambda: recognize(args), PROG, debug=args.debug or None)


def check_inputs(args: argparse.Namespace) -> None:
    """Refuse a missing or unusable input before the model is built (seconds to minutes).

    A missing path, a file without a video stream, a folder without frames and a
    checkpoint that is not one each end the command with one line.
    """
    require_paths(config=args.config, checkpoint=args.checkpoint, video=args.video)
    for out in (args.out, args.plot):
        if out and not osp.isdir(osp.dirname(osp.abspath(out))):
            raise FileNotFoundError(f'output folder not found: {osp.dirname(out)} (for '
                                    f'{out}): create it first')
    check_video(args.video)
    check_checkpoint_file(args.checkpoint)


def recognize(args: argparse.Namespace) -> int:
    check_inputs(args)
    model = init_recognizer(args.config, args.checkpoint, device=args.device,
                            cfg_options=args.cfg_options)
    result = inference_recognizer(model, args.video, fps=args.fps,
                                  source_fps=args.source_fps, frame_size=args.frame_size,
                                  window=args.window or None, overlap=args.overlap,
                                  stitch=args.stitch, progress=not args.no_progress)
    video = result.video
    print(f'input: {video["kind"]} {video["name"]}, {video["source_frames"]} frames of '
          f'{video["source_size"][1]}x{video["source_size"][0]}'
          + (f' at {video["source_fps"]:g} fps' if video['source_fps'] else ''))
    for step in video['steps'] or ['used as it is (no resize, no resampling)']:
        print(f'  {step}')
    print(f'model: {result.num_frames} frames -> {result.logits.shape[0]} output frames in '
          f'{result.windows} window(s), {result.timing["model"]:.3f} s '
          f'({result.timing["total"]:.3f} s in all)')
    if args.show_frames:
        print(frame_table(result, model.vocab.glosses, model.head.geometry.stride))
    print('glosses (conv branch): ' + ' '.join(result.glosses_conv))
    print('glosses: ' + ' '.join(result.glosses))
    print(timestamp_table(result.timestamps))
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(result.to_dict(with_logits=args.with_logits), f, ensure_ascii=False,
                      indent=1)
        print(f'wrote {args.out}')
    if args.plot:
        from mmsign.visualization import plot_recognition
        plot_recognition(args.plot, result, model.vocab.glosses, model.head.geometry.stride,
                         fps=args.fps or video['source_fps'],
                         title=f'{video["name"]}: CTC output of the sequence branch')
        print(f'wrote {args.plot}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
