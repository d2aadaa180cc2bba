"""The ONNX export of every model in the tree agrees with the model itself.

Which models: every tiny synthetic recipe, ``configs/*_synthetic.py`` (the quick start and
each model's tiny twin: AdaptSign, its mmpretrain ViT, CorrNet, ...). **A new model gets
this test by adding its tiny synthetic config** ``configs/<model>_synthetic.py`` (a
``_base_ = ['./adaptsign_synthetic.py']`` that swaps the backbone or head, as
``corrnet_tiny_synthetic.py`` does); nothing here names a model. Each is exported with
head conv patterns other than the recipes' too (the export once restated the released
"K5 P2 K5 P2" and gave 17 steps for 24 frames under "K3 P2"), and with the released
``padding_mode='frames'``.

The graph is traced on one number of frames and run by onnxruntime on two others (with
other remainders modulo every pattern's stride); its log-probabilities must equal those
of the recognizer's own forward (``model(..., mode='tensor')``), row for row.
"""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmsign.apis import export_onnx, init_recognizer

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '*_synthetic.py')))
PATTERNS = [('K5', 'P2', 'K5', 'P2'), ('K3', 'P2'), ('K5', 'P3', 'K3')]
TRACE_FRAMES, CHECK_FRAMES = 11, (24, 37)


def test_every_tiny_model_is_found():
    names = {osp.basename(path) for path in TINY_CONFIGS}
    assert {'adaptsign_synthetic.py', 'corrnet_tiny_synthetic.py'} <= names


def crop_size(model) -> int:
    for step in model.cfg.test_pipeline:
        if step['type'] == 'SignCenterCrop':
            return step['size']
    raise AssertionError('the tiny configs crop their test frames')


def model_log_probs(model, frames: torch.Tensor):
    """The recognizer's own forward on one video, as log-probabilities ``[T', C]``."""
    data = model.data_preprocessor(dict(inputs=[frames], data_samples=None), False)
    with torch.no_grad():
        out = model(data['inputs'], data['lengths'], mode='tensor')
    rows = out.lengths[0]
    return [logits[:rows, 0].log_softmax(-1).numpy()
            for logits in (out.seq_logits, out.conv_logits)]


def exported_agrees(model, tmp_path):
    import onnxruntime

    size = crop_size(model)
    rng = torch.Generator().manual_seed(0)
    clip = torch.randint(0, 256, (max(CHECK_FRAMES), 3, size, size), dtype=torch.uint8,
                         generator=rng)
    path = export_onnx(model, str(tmp_path / 'model.onnx'), clip[:TRACE_FRAMES])
    session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    for frames in CHECK_FRAMES:
        got = session.run(None, {'frames': clip[:frames].numpy()})
        expected = model_log_probs(model, clip[:frames])
        steps = model.head.geometry.output_steps(frames)
        for name, ours, theirs in zip(('log_probs', 'log_probs_conv'), got, expected):
            assert ours.shape == theirs.shape == (steps, model.head.num_classes), (
                f'{name} on {frames} frames')
            np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0,
                                       err_msg=f'{name} on {frames} frames')


def build(config, **options):
    torch.manual_seed(0)
    model = init_recognizer(config, cfg_options=options or None)
    # Some parts start at zero (the temporal correlation's weight): make them count.
    for param in model.parameters():
        if not param.abs().sum():
            param.data.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(1))
    return model


def cases():
    """Every tiny model with the recipes' pattern, and the quick start with "K3 P2", in
    the default suite; the rest of the product (20 s each on 2 cores) is ``slow``. A head
    with lift pooling (which only halves) gets the patterns whose pools are of size 2."""
    for config in TINY_CONFIGS:
        lift = Config.fromfile(config).model.head.get('pooling') == 'lift'
        for pattern in PATTERNS:
            if lift and any(p.startswith('P') and p != 'P2' for p in pattern):
                continue
            fast = pattern == PATTERNS[0] or (
                pattern == ('K3', 'P2') and config.endswith('adaptsign_synthetic.py'))
            name = f'{osp.basename(config)}-{" ".join(pattern)}'
            yield pytest.param(config, pattern, id=name, marks=() if fast else pytest.mark.slow)


@pytest.mark.parametrize('config,pattern', list(cases()))
def test_export_equals_the_model(config, pattern, tmp_path):
    model = build(config, **{'model.head.conv_pattern': pattern})
    assert model.head.temporal_conv.pattern == pattern
    exported_agrees(model, tmp_path)


@pytest.mark.parametrize('config', [
    pytest.param(c, marks=() if c.endswith('adaptsign_synthetic.py') else pytest.mark.slow)
    for c in TINY_CONFIGS], ids=osp.basename)
def test_export_of_the_released_frame_padding_equals_the_model(config, tmp_path):
    exported_agrees(build(config, **{'model.padding_mode': 'frames'}), tmp_path)
