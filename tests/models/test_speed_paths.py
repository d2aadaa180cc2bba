"""The speed-minded forms of the hot path compute what the plain forms compute.

BiLSTM sorting on the host, LayerNorm in the stream's dtype, QuickGELU folded into the
frozen MLP's weights, in-place normalisation of the frames, and the non-finite-loss skip
that stays on the device with a fused optimiser.
"""
import copy
import io
import logging
import math

import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper
from open_clip.transformer import LayerNorm as CLIPLayerNorm
from open_clip.transformer import QuickGELU as CLIPQuickGELU
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from mmsign.models.backbones.adaptsign_layers import LayerNorm, layer_norm
from mmsign.models.backbones.clip_vit import FrozenCLIPBlock
from mmsign.models.heads.ctc_head import BiLSTM
from mmsign.models.recognizers.sign_recognizer import skips_on_device

VOCAB = ['A', 'B', 'C', 'D']


def test_bilstm_host_sorting_equals_torch_sorting():
    torch.manual_seed(0)
    lstm = BiLSTM(8, num_layers=2, dropout=0.0)
    lengths = [3, 7, 5, 7, 1]
    x = torch.randn(7, len(lengths), 8, requires_grad=True)
    out = lstm(x, lengths)
    ref_x = x.detach().clone().requires_grad_(True)
    packed = pack_padded_sequence(ref_x, torch.tensor(lengths), enforce_sorted=False)
    ref, _ = pad_packed_sequence(lstm.rnn(packed)[0], total_length=7)
    assert torch.equal(out, ref)
    grad = torch.randn_like(out)
    out.backward(grad)
    ref.backward(grad)
    assert torch.equal(x.grad, ref_x.grad)


def test_layer_norm_fp32_is_unchanged():
    torch.manual_seed(0)
    norm = LayerNorm(16)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(3, 5, 16)
    assert torch.equal(norm(x), nn.LayerNorm.forward(norm, x))


def test_layer_norm_under_autocast_stays_in_the_stream_dtype():
    torch.manual_seed(0)
    norm = CLIPLayerNorm(16)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = (torch.randn(3, 5, 16) * 4 + 2).bfloat16().requires_grad_(True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = layer_norm(x, norm)
    assert out.dtype == torch.bfloat16
    ref = F.layer_norm(x.detach().float(), (16, ), norm.weight, norm.bias, norm.eps)
    torch.testing.assert_close(out.float(), ref, rtol=2e-2, atol=2e-2)
    out.float().sum().backward()
    assert norm.weight.grad.dtype == torch.float32 and x.grad.dtype == torch.bfloat16


def test_folded_quick_gelu_mlp_equals_open_clip_mlp():
    torch.manual_seed(0)
    vit = open_clip.transformer.VisionTransformer(
        image_size=32, patch_size=16, width=64, layers=1, heads=2, mlp_ratio=4.0,
        output_dim=32, act_layer=CLIPQuickGELU, norm_layer=CLIPLayerNorm)
    block = vit.transformer.resblocks[0]
    with torch.no_grad():
        for p in block.mlp.parameters():
            p.normal_(0, 0.3)
    frozen = FrozenCLIPBlock(block)
    x = torch.randn(4, 5, 64)
    torch.testing.assert_close(frozen.feed_forward(x), block.mlp(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(frozen.mlp_norm(x), block.ln_2(x), rtol=0, atol=0)


def test_preprocessor_leaves_float_input_untouched():
    video = torch.rand(4, 3, 2, 2) * 255
    copy_of_video = video.clone()
    out = MODELS.build(dict(type='SignDataPreprocessor'))(dict(inputs=[video]))
    assert torch.equal(video, copy_of_video)
    assert torch.equal(out['inputs'], (video - 127.5) / 127.5)


class TinyFrameEncoder(nn.Module):
    """Conv + average pool per frame: the backbone contract, nothing temporal."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.out_channels = 8

    def forward(self, frames, lengths):
        return self.conv(frames).mean((2, 3))


def tiny_recognizer():
    torch.manual_seed(0)
    return MODELS.build(dict(type='SignRecognizer', backbone=dict(type=TinyFrameEncoder),
                             head=dict(type='SignCTCHead', hidden_channels=16,
                                       loss_distill=dict(type='SequenceDistillLoss')),
                             vocab=VOCAB, decoder=dict(type='CTCGreedyDecoder')))


def make_batch(ids=('v0', 'v1')):
    g = torch.Generator().manual_seed(1)
    inputs, samples = [], []
    for sid, length, glosses in zip(ids, (9, 20), ((1, 2), (3, 4, 3))):
        inputs.append(torch.randint(0, 256, (length, 3, 8, 8), generator=g,
                                    dtype=torch.uint8))
        sample = ActionDataSample()
        sample.set_metainfo(dict(sample_id=sid))
        sample.gt_glosses = torch.tensor(glosses)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@pytest.fixture
def mm_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


@pytest.fixture
def host_reads(monkeypatch):
    """Counts the Python-level reads (``bool``, ``item``, ``float``) of values computed
    from the model's outputs: tensors in the autograd graph and ``torch.isfinite``
    results (how the loss is checked)."""
    reads, checks = [], []
    original_isfinite = torch.isfinite

    def isfinite(x):
        checks.append(original_isfinite(x))
        return checks[-1]
    monkeypatch.setattr(torch, 'isfinite', isfinite)
    for name in ('__bool__', 'item', '__float__'):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name):
            if self.requires_grad or self.grad_fn is not None or any(self is c for c in checks):
                reads.append(_name)
            return _original(self, *args)
        monkeypatch.setattr(torch.Tensor, name, counted)
    return reads


def test_skip_decision_needs_a_fused_optimiser_without_accumulation():
    model = tiny_recognizer()
    plain = OptimWrapper(torch.optim.Adam(model.parameters()))
    fused = OptimWrapper(torch.optim.Adam(model.parameters(), fused=True))
    accumulating = OptimWrapper(torch.optim.Adam(model.parameters(), fused=True),
                                accumulative_counts=2)
    assert not skips_on_device(plain) and skips_on_device(fused)
    assert not skips_on_device(accumulating)


def test_fused_optimiser_skips_non_finite_steps_without_reading_the_loss(mm_log, host_reads):
    model = tiny_recognizer()
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3, fused=True))
    first = model.train_step(make_batch(), optim)
    assert first['skipped_step'] == 0 and host_reads == []
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    state = copy.deepcopy(optim.optimizer.state_dict()['state'])
    handle = model.backbone.register_forward_hook(lambda m, i, out: out * float('nan'))
    log_vars = model.train_step(make_batch(ids=('nan_video_a', 'nan_video_b')), optim)
    handle.remove()
    assert host_reads == []  # the loss was never read on the host
    assert log_vars['skipped_step'] == 1 and math.isnan(log_vars['loss'].item())
    assert all(torch.equal(params[k], v) for k, v in model.named_parameters())
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    for index, entry in optim.optimizer.state_dict()['state'].items():
        assert all(torch.equal(value, state[index][key]) for key, value in entry.items())
    assert 'nan_video_a' in mm_log.getvalue() and 'nan_video_b' in mm_log.getvalue()
    # and the next finite batch trains
    assert model.train_step(make_batch(), optim)['skipped_step'] == 0
    assert any(not torch.equal(params[k], v) for k, v in model.named_parameters())


def test_plain_optimiser_still_reads_the_loss(host_reads):
    model = tiny_recognizer()
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    assert model.train_step(make_batch(), optim)['skipped_step'] == 0
    assert '__bool__' in host_reads
