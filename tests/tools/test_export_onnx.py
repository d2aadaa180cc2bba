"""tools/deployment/export_onnx.py and mmsign.apis.OnnxRecognizer on a tiny synthetic model."""
import importlib.util
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmaction.registry import MODELS
from torch import nn

from mmsign.apis import OnnxRecognizer, inference_recognizer, init_recognizer

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'adaptsign_synthetic.py')


def load_tool():
    path = osp.join(REPO, 'tools', 'deployment', 'export_onnx.py')
    spec = importlib.util.spec_from_file_location('export_onnx_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def moving_video(path, frames, size=(48, 64)):
    """An mp4 of a bright square moving over a gradient (not the model's 36x36)."""
    h, w = size
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 25, (w, h))
    for t in range(frames):
        img = np.zeros((h, w, 3), np.uint8)
        img[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None]
        img[10 + t % 20:22 + t % 20, 5 + t:17 + t] = 240
        writer.write(img)
    writer.release()
    return path


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    model = init_recognizer(CONFIG)
    model.backbone.temporal.weight.data.fill_(0.5)  # 0 at initialisation
    root = tmp_path_factory.mktemp('onnx')
    checkpoint = str(root / 'tiny.pth')
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'glosses': model.vocab.glosses}}}, checkpoint)
    return model, checkpoint, root


@pytest.mark.slow
def test_exported_model_gives_the_logits_and_glosses_of_pytorch(tiny, capsys):
    model, checkpoint, root = tiny
    video = moving_video(str(root / 'clip.mp4'), 30)
    onnx_file = str(root / 'tiny.onnx')
    assert load_tool().main([CONFIG, checkpoint, '--out', onnx_file, '--video', video]) == 0
    printed = capsys.readouterr().out
    assert 'max |onnxruntime - PyTorch|' in printed

    runtime = OnnxRecognizer(onnx_file)
    # Another length than the tool traced and checked with: T is dynamic.
    for clip in (video, moving_video(str(root / 'long.mp4'), 57)):
        expected = inference_recognizer(model, clip)
        result = runtime(clip)
        assert expected.glosses, 'a model that says nothing would make this test vacuous'
        # The ONNX recognizer runs without torch: its logits are numpy arrays.
        torch.testing.assert_close(torch.from_numpy(result.logits),
                                   expected.logits.log_softmax(-1), atol=1e-4, rtol=0)
        torch.testing.assert_close(torch.from_numpy(result.logits_conv),
                                   expected.logits_conv.log_softmax(-1), atol=1e-4, rtol=0)
        assert result.glosses == expected.glosses
        assert result.glosses_conv == expected.glosses_conv
        assert result.timestamps == expected.timestamps
        # the config's preprocessing: resized to 36x36 and cropped to 32 by the graph's input
        assert result.video['size'] == [36, 36] == expected.video['size']


def test_a_file_without_mmsign_metadata_is_refused(tiny, tmp_path):
    model, _, _ = tiny
    from mmsign.apis import export_onnx
    path = export_onnx(model, str(tmp_path / 'bare.onnx'),
                       torch.zeros(8, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match='export_onnx.py'):
        OnnxRecognizer(path)


@MODELS.register_module()
class FrameCountBackbone(nn.Module):
    """A backbone that breaks the export rule: it reads the number of frames as a Python
    int (``int(lengths[0])``), which a trace freezes at the traced clip's length."""
    out_channels = 8

    def __init__(self, **kwargs):
        super().__init__()
        self.proj = nn.Linear(3, self.out_channels)

    def forward(self, frames, lengths):
        position = torch.arange(int(sum(lengths)), dtype=torch.float32)[:, None]
        return self.proj(frames.mean((2, 3))) + position / 10


def test_the_tool_fails_on_a_graph_that_disagrees_with_pytorch(tmp_path, capsys):
    """A wrong graph is never reported as a success: exit 1, one line, no file."""
    config = tmp_path / 'frozen.py'
    config.write_text(f"_base_ = ['{CONFIG}']\n"
                      "model = dict(backbone=dict(_delete_=True, type='FrameCountBackbone'))\n")
    torch.manual_seed(0)
    model = init_recognizer(str(config))
    checkpoint = str(tmp_path / 'frozen.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    onnx_file = tmp_path / 'frozen.onnx'
    with pytest.raises(SystemExit) as exit_info:
        load_tool().main([str(config), checkpoint, '--out', str(onnx_file)])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and 'disagrees with PyTorch' in error[0], error
    assert not onnx_file.exists()
