"""The ONNX recognizer imports and runs without torch (issue 31, point 6).

A deployment installs onnxruntime, numpy, OpenCV and decord only. The child process
here has a finder first on ``sys.meta_path`` that refuses ``torch`` (as if it were not
installed), imports ``mmsign.apis.OnnxRecognizer``, recognises a video, and reports the
result and whether torch or the OpenMMLab stack got imported; the result must be the one
of PyTorch's ``inference_recognizer`` on the same video.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from mmsign.apis import export_onnx, inference_recognizer, inference_steps, init_recognizer
from mmsign.apis.onnx_inference import write_onnx_metadata

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'adaptsign_synthetic.py')

CHILD = r'''
import json, sys

class RefuseTorch:
    """Behaves as if torch were not installed."""
    def find_spec(self, name, path=None, target=None):
        if name == 'torch' or name.startswith('torch.'):
            raise ModuleNotFoundError(f'No module named {name!r} (blocked)', name=name)
        return None

sys.meta_path.insert(0, RefuseTorch())
from mmsign.apis import OnnxRecognizer

result = OnnxRecognizer(sys.argv[1])(sys.argv[2])
print(json.dumps(dict(result.to_dict(), logits=result.logits.tolist(),
                      imported=sorted(m for m in ('torch', 'mmengine', 'mmaction', 'mmcv')
                                      if m in sys.modules))))
'''


def write_video(path, frames=41, size=(48, 64)):
    h, w = size
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 25, (w, h))
    for t in range(frames):
        img = np.full((h, w, 3), 30, np.uint8)
        img[8 + t % 16:24 + t % 16, 4 + t:20 + t] = 220
        writer.write(img)
    writer.release()
    return path


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp('onnx_no_torch')
    torch.manual_seed(0)
    model = init_recognizer(CONFIG)
    model.backbone.temporal.weight.data.fill_(0.5)
    # The decision bias of a random model: some glosses, so that the test is not vacuous.
    model.head.classifier.weight.data[:, 0] *= 0.2
    path = export_onnx(model, str(root / 'quick.onnx'),
                       torch.zeros(12, 3, 32, 32, dtype=torch.uint8))
    write_onnx_metadata(path, model.vocab.glosses, inference_steps(model.cfg),
                        model.cfg.model.decoder, model.head.geometry.stride)
    return model, path, write_video(str(root / 'clip.mp4'))


def test_onnx_recognizer_runs_with_torch_blocked(exported):
    model, path, video = exported
    env = dict(os.environ, PYTHONPATH=REPO)
    run = subprocess.run([sys.executable, '-c', CHILD, path, video], capture_output=True,
                         text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got['imported'] == [], f'imported {got["imported"]} without need'
    expected = inference_recognizer(model, video)
    assert expected.glosses, 'a model that says nothing would make this test vacuous'
    assert got['glosses'] == expected.glosses
    assert got['glosses_conv'] == expected.glosses_conv
    assert got['timestamps'] == expected.timestamps
    np.testing.assert_allclose(np.array(got['logits']),
                               expected.logits.log_softmax(-1).numpy(), atol=1e-4, rtol=0)
