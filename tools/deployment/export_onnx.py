"""Export a recognizer to ONNX (frames -> per-frame log-probabilities) and check it.

Example:
    python tools/deployment/export_onnx.py configs/adaptsign_synthetic.py \
        work_dirs/adaptsign_synthetic/best_wer_seq_epoch_10.pth --out adaptsign.onnx \
        --video my_video.mp4

The graph takes the frames of one video as the config's test pipeline packs them
(``uint8 [T, 3, H, W]``, T dynamic) and returns ``log_probs`` and ``log_probs_conv``
(``[ceil(T / 4), C]``); decoding stays outside. The file also carries the vocabulary,
the test pipeline's steps and the decoder config, so ``mmsign.apis.OnnxRecognizer`` runs
it with onnxruntime alone. The export is checked on ``--video`` (or on generated frames
of the pipeline's size): the maximum difference of the log-probabilities between
PyTorch and onnxruntime is printed, and the tool fails above ``--atol``.
"""
import argparse
import sys

import numpy as np
import torch

from mmsign.apis import FramePipeline, VideoSource, inference_steps, init_recognizer
from mmsign.apis.onnx_export import ExportableRecognizer, export_onnx
from mmsign.apis.onnx_inference import OnnxRecognizer, write_onnx_metadata
from mmsign.apis.pipeline import pipeline_frame_size
from mmsign.cli.runtime import DictAction
from mmsign.models.decoders.timestamps import frame_stride


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export a sign recognizer to ONNX')
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
    return parser.parse_args(argv)


def check_frames(pipeline: FramePipeline, video) -> np.ndarray:
    """Packed ``uint8 [T, 3, H, W]`` frames of ``video`` or of a generated clip."""
    if video is not None:
        return pipeline(VideoSource(video).read())['inputs'][0].numpy()
    height, width = pipeline_frame_size(pipeline.steps) or (256, 256)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (40, height, width, 3), dtype=np.uint8)
    return pipeline(imgs)['inputs'][0].numpy()


def main(argv=None) -> int:
    args = parse_args(argv)
    model = init_recognizer(args.config, args.checkpoint, device='cpu',
                            cfg_options=args.cfg_options)
    steps = inference_steps(model.cfg)
    frames = check_frames(FramePipeline(steps), args.video)
    # Trace on fewer frames than the check uses: the check then also covers another T.
    export_onnx(model, args.out, torch.from_numpy(frames[:max(2, len(frames) // 2)]),
                opset=args.opset)
    write_onnx_metadata(args.out, model.vocab.glosses, steps, model.cfg.model.decoder,
                        frame_stride(model.head))
    print(f'wrote {args.out}')
    with torch.no_grad():
        expected = ExportableRecognizer(model).eval()(torch.from_numpy(frames))
    onnx_model = OnnxRecognizer(args.out)
    got = onnx_model.log_probs(frames)
    worst = 0.0
    for name, reference in zip(('log_probs', 'log_probs_conv'), expected):
        diff = float(np.abs(got[name] - reference.numpy()).max())
        worst = max(worst, diff)
        print(f'{name}: {tuple(got[name].shape)}, max |onnxruntime - PyTorch| = {diff:.3g}')
    ids = model.decoder(expected[0][:, None], [len(expected[0])])[0]
    onnx_ids = model.decoder(torch.from_numpy(got['log_probs'])[:, None],
                             [len(got['log_probs'])])[0]
    print(f'glosses: PyTorch {" ".join(model.vocab.decode(ids))!r}, onnxruntime '
          f'{" ".join(model.vocab.decode(onnx_ids))!r} on {len(frames)} frames')
    if worst > args.atol or ids != onnx_ids:
        print(f'export check FAILED: difference {worst:.3g} > {args.atol:g} or different '
              'glosses', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
