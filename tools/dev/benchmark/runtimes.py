"""CPU inference speed of PyTorch vs onnxruntime, and peak memory vs video length.

Examples:
    # frames/s of the recipe's ViT-B/16 AdaptSign (random weights), both runtimes
    python tools/analysis/benchmark.py onnx --frames 16 --repeats 3 --threads 2
    # the quick-start model at its own frame size
    python tools/analysis/benchmark.py onnx --config configs/adaptsign_synthetic.py --frames 64
    # peak RSS of inference_recognizer as the video grows (one subprocess per length)
    python tools/analysis/benchmark.py video-memory --lengths 600 1200 2400

``onnx`` (``speed`` here) builds ``--config`` (default ``configs/adaptsign_phoenix14.py``)
with random backbone weights (no download; the PHOENIX14 vocabulary when the recipe's is
not prepared), exports it with ``tools/deployment/export_onnx.py``'s exporter, and times
the network alone (frames in, log-probabilities out) on the same packed frames at the
config's test crop: PyTorch's :class:`ExportableRecognizer` under ``torch.no_grad`` and an
onnxruntime CPU session (``intra_op_num_threads=--threads``, the other session options at
onnxruntime's defaults), best of ``--repeats`` after one warm-up run each.
``video-memory`` (``memory`` here) runs :func:`mmsign.apis.inference_recognizer` on
generated 256x256 mp4 videos of each length in a fresh process and reports ``ru_maxrss``.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile

import numpy as np
import torch

from mmsign.utils.benchmark import best_of

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
RECIPE = osp.join(REPO, 'configs', 'adaptsign_phoenix14.py')
SYNTHETIC = osp.join(REPO, 'configs', 'adaptsign_synthetic.py')
VOCAB = osp.join(REPO, 'tests', 'data', 'phoenix2014', 'gloss_vocab.json')

MEMORY_CHILD = '''
import json, sys
import torch
from mmsign.apis import inference_recognizer, init_recognizer
from mmsign.utils.benchmark import peak_rss_mib
torch.manual_seed(0)
config, video, window = sys.argv[1], sys.argv[2], int(sys.argv[3])
options = json.loads(sys.argv[4])
model = init_recognizer(config, cfg_options=options)
result = inference_recognizer(model, video, window=window or None)
print(json.dumps(dict(frames=result.num_frames, windows=result.windows,
                      rss_mib=peak_rss_mib())))
'''


def speed(args: argparse.Namespace) -> dict:
    import onnxruntime
    from mmengine.config import Config

    from mmsign.apis import init_recognizer
    from mmsign.apis.onnx_export import ExportableRecognizer, export_onnx
    from mmsign.apis.pipeline import inference_steps, pipeline_frame_size

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    options = {'model.backbone.pretrained': None}
    vocab = Config.fromfile(args.config).model.get('vocab')
    if isinstance(vocab, str) and not osp.isfile(vocab):
        options['model.vocab'] = VOCAB
    model = init_recognizer(args.config, cfg_options=options)
    steps = inference_steps(model.cfg)
    crop = [s['size'] for s in steps if s['type'] == 'SignCenterCrop']
    size = crop[-1] if crop else (pipeline_frame_size(steps) or (224, 224))
    height, width = (size, size) if isinstance(size, int) else size
    frames = torch.randint(0, 256, (args.frames, 3, height, width), dtype=torch.uint8)
    wrapper = ExportableRecognizer(model).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(model, osp.join(tmp, 'vitb16.onnx'), frames[:max(2, len(frames) // 2)])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = onnxruntime.InferenceSession(path, options,
                                               providers=['CPUExecutionProvider'])
        with torch.no_grad():
            expected = wrapper(frames)[0].numpy()
            torch_s = best_of(lambda: wrapper(frames), args.repeats)
        got = session.run(None, {'frames': frames.numpy()})[0]
        onnx_s = best_of(lambda: session.run(None, {'frames': frames.numpy()}), args.repeats)
    return dict(config=osp.basename(args.config), frames=args.frames, size=[height, width],
                threads=args.threads, repeats=args.repeats,
                torch_fps=round(args.frames / torch_s, 2),
                onnxruntime_fps=round(args.frames / onnx_s, 2),
                max_abs_diff=float(np.abs(got - expected).max()))


def memory(args: argparse.Namespace) -> list:
    import cv2

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (8, 256, 256, 3), dtype=np.uint8)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        child = osp.join(tmp, 'child.py')
        with open(child, 'w') as f:
            f.write(MEMORY_CHILD)
        for length in args.lengths:
            video = osp.join(tmp, f'{length}.mp4')
            writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'mp4v'), 25, (256, 256))
            for t in range(length):
                writer.write(base[t % 8])
            writer.release()
            run = subprocess.run(
                [sys.executable, child, args.config, video, str(args.window),
                 json.dumps(args.options)], capture_output=True, text=True, cwd=REPO,
                env=dict(os.environ, OMP_NUM_THREADS=str(args.threads)))
            if run.returncode:
                raise RuntimeError(run.stderr[-3000:])
            rows.append(json.loads(run.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv=None, prog=None, what='speed') -> int:
    """Run ``speed`` (the ``onnx`` subcommand) or ``memory`` (``video-memory``)."""
    if what == 'speed':
        parser = argparse.ArgumentParser(
            prog=prog, description='CPU frames/s, PyTorch vs onnxruntime')
        parser.add_argument('--config', default=RECIPE)
        parser.add_argument('--frames', type=int, default=16)
        parser.add_argument('--repeats', type=int, default=3)
    else:
        parser = argparse.ArgumentParser(
            prog=prog, description='peak RSS of inference_recognizer vs video length')
        parser.add_argument('--lengths', type=int, nargs='+', default=[600, 1200, 2400])
        parser.add_argument('--window', type=int, default=128, help='0: one pass')
        parser.add_argument('--config', default=SYNTHETIC)
        parser.add_argument('--options', type=json.loads, default={},
                            help='cfg_options as JSON, e.g. '
                            '\'{"model.backbone.pretrained": null}\'')
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args(argv)
    result = speed(args) if what == 'speed' else memory(args)
    print(json.dumps(result))
    return 0
