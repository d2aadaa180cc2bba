"""Export a recognizer to ONNX (frames -> per-frame log-probabilities) and check it.

Example:
    python tools/deployment/export_onnx.py configs/adaptsign_synthetic.py \
        work_dirs/adaptsign_synthetic/best_wer_seq_epoch_10.pth --out adaptsign.onnx \
        --video my_video.mp4

The graph runs the recognizer's own modules (any backbone and head of the configs) on
the frames of one video as the config's test pipeline packs them (``uint8 [T, 3, H, W]``,
T dynamic) and returns ``log_probs`` and ``log_probs_conv`` (``[T', C]``, ``T' =
ceil(T / stride)`` of the head); decoding stays outside. The file also carries the
vocabulary, the test pipeline's steps, the decoder config and the head's frame stride, so
``mmsign.apis.OnnxRecognizer`` runs it with onnxruntime alone (no torch).

The export is traced on half of the check clip (``--video``, or generated frames of the
pipeline's size) and checked on the whole clip and on one frame less (two numbers of
frames other than the traced one): the largest difference of the log-probabilities between
PyTorch and onnxruntime is printed, and the tool fails (exit 1, one line, the file
removed) above ``--atol``, on other output lengths or on other glosses.
"""
import argparse
import os
import sys

import numpy as np
import torch

from mmsign.apis import FramePipeline, VideoSource, inference_steps, init_recognizer
from mmsign.apis.onnx_export import ExportableRecognizer, export_difference, export_onnx
from mmsign.apis.onnx_inference import OnnxRecognizer, write_onnx_metadata
from mmsign.apis.pipeline import pipeline_frame_size
from mmsign.cli.command import require_paths, run_cli
from mmsign.cli.runtime import DictAction

PROG = 'tools/deployment/export_onnx.py'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description='Export a sign recognizer to ONNX')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='mmsign checkpoint')
    parser.add_argument('--out', default='mmsign.onnx', help='output file (%(default)s)')
    parser.add_argument('--video', help='video (file or frame folder) to check the export '
                        'on; default: 40 generated frames')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset (%(default)s)')
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest allowed difference of the log-probabilities')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries')
    parser.add_argument('--debug', action='store_true', help='show tracebacks')
    return parser.parse_args(argv)


def check_frames(pipeline: FramePipeline, video) -> np.ndarray:
    """Packed ``uint8 [T, 3, H, W]`` frames of ``video`` or of a generated clip."""
    if video is not None:
        return pipeline(VideoSource(video).read())['inputs'][0].numpy()
    height, width = pipeline_frame_size(pipeline.steps) or (256, 256)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (40, height, width, 3), dtype=np.uint8)
    return pipeline(imgs)['inputs'][0].numpy()


def export(args: argparse.Namespace) -> int:
    require_paths(config=args.config, checkpoint=args.checkpoint,
                  **({'video': args.video} if args.video else {}))
    model = init_recognizer(args.config, args.checkpoint, device='cpu',
                            cfg_options=args.cfg_options)
    steps = inference_steps(model.cfg)
    frames = check_frames(FramePipeline(steps), args.video)
    if len(frames) < 3:
        raise ValueError(f'the check clip has {len(frames)} frames: give a --video of at '
                         'least 3')
    export_onnx(model, args.out, torch.from_numpy(frames[:max(2, len(frames) // 2)]),
                opset=args.opset)
    write_onnx_metadata(args.out, model.vocab.glosses, steps, model.cfg.model.decoder,
                        model.head.geometry.stride)
    print(f'wrote {args.out}')
    # Its failures are reported below in one line, not in onnxruntime's log.
    runtime = OnnxRecognizer(args.out, log_severity_level=4)
    problems = []
    for clip in (frames, frames[:-1]):
        try:
            got = runtime.log_probs(clip)
        except Exception as error:  # onnxruntime's own exception types differ by version
            reason = str(error).strip().splitlines()[0][:200]
            problems.append(f'{len(clip)} frames: onnxruntime cannot run it ({reason})')
            continue
        with torch.no_grad():
            expected = ExportableRecognizer(model).eval()(torch.from_numpy(clip))
        worst = export_difference(got, expected)
        ids = model.decoder(expected[0][:, None], [len(expected[0])])[0]
        onnx_ids = model.decoder(torch.from_numpy(got['log_probs'])[:, None],
                                 [len(got['log_probs'])])[0]
        print(f'{len(clip)} frames: {len(got["log_probs"])} steps (PyTorch '
              f'{len(expected[0])}), max |onnxruntime - PyTorch| = {worst:.3g}; glosses '
              f'PyTorch {" ".join(model.vocab.decode(ids))!r}, onnxruntime '
              f'{" ".join(model.vocab.decode(onnx_ids))!r}')
        if worst > args.atol or ids != onnx_ids:
            problems.append(f'{len(clip)} frames: ' + (
                f'{len(got["log_probs"])} steps where PyTorch gives {len(expected[0])}'
                if worst == float('inf') else
                f'difference {worst:.3g} (--atol {args.atol:g})' + (
                    '' if ids == onnx_ids else ', other glosses')))
    if problems:
        os.remove(args.out)
        raise ValueError(f'the exported graph disagrees with PyTorch ({"; ".join(problems)})'
                         f'; {args.out} removed. Report it with the config.')
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_cli(lambda: export(args), PROG, debug=args.debug or None)


if __name__ == '__main__':
    sys.exit(main())
