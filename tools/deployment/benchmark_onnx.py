"""CPU time of one clip through a recognizer: PyTorch eager against onnxruntime.

Example:
    python tools/deployment/benchmark_onnx.py configs/adaptsign_synthetic.py --frames 64
    python tools/deployment/benchmark_onnx.py configs/adaptsign_phoenix14.py --frames 32 \
        --cfg-options model.backbone.pretrained=None

Builds the config's model with random weights (no checkpoint), exports it
(:func:`mmsign.apis.export_onnx`) and runs the same random clip of ``--frames`` packed
frames through both, one warm-up run and one timed run each, with ``--threads`` threads
(``torch.set_num_threads`` and onnxruntime's ``intra_op_num_threads``; the other session
options at onnxruntime's defaults: ``graph_optimization_level=ORT_ENABLE_ALL``, sequential
execution). Prints one JSON line: seconds of each, the speed-up and the largest
difference of the log-probabilities.
"""
import argparse
import json
import os.path as osp
import tempfile
import time

import torch

from mmsign.apis import init_recognizer
from mmsign.apis.onnx_export import ExportableRecognizer, export_difference, export_onnx
from mmsign.apis.pipeline import inference_steps, pipeline_frame_size
from mmsign.apis.runtime import DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--frames', type=int, default=64, help='frames of the clip')
    parser.add_argument('--threads', type=int, default=2, help='threads of both runtimes')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries')
    return parser.parse_args(argv)


def timed(run) -> float:
    run()  # warm-up
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main(argv=None) -> dict:
    import onnxruntime

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = init_recognizer(args.config, cfg_options=args.cfg_options)
    steps = inference_steps(model.cfg)
    crop = [s['size'] for s in steps if s['type'] == 'SignCenterCrop']
    size = crop[-1] if crop else (pipeline_frame_size(steps) or (224, 224))
    height, width = (size, size) if isinstance(size, int) else size
    clip = torch.randint(0, 256, (args.frames, 3, height, width), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(0))
    wrapper = ExportableRecognizer(model).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(model, osp.join(tmp, 'model.onnx'), clip[:max(2, args.frames // 2)])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = onnxruntime.InferenceSession(path, options,
                                               providers=['CPUExecutionProvider'])
        frames = clip.numpy()
        outputs = {}

        def run_onnx():
            outputs['onnx'] = dict(zip(('log_probs', 'log_probs_conv'),
                                       session.run(None, {'frames': frames})))

        def run_torch():
            with torch.no_grad():
                outputs['torch'] = wrapper(clip)

        onnx_s, torch_s = timed(run_onnx), timed(run_torch)
    difference = export_difference(outputs['onnx'], outputs['torch'])
    report = dict(config=osp.basename(args.config), frames=args.frames,
                  size=[height, width], threads=args.threads,
                  pytorch_eager_s=round(torch_s, 3), onnxruntime_s=round(onnx_s, 3),
                  speedup=round(torch_s / onnx_s, 2),
                  max_abs_diff=float(f'{difference:.3g}'),
                  torch=torch.__version__, onnxruntime=onnxruntime.__version__)
    print(json.dumps(report))
    return report


if __name__ == '__main__':
    main()
