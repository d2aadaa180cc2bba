"""mmsign.visualization.record_attention (forward hooks): features unchanged, weights
equal to their
definitions (nn.MultiheadAttention's weights; the spec's temporal gates)."""
import pytest
import torch

from mmsign.models.backbones import (
    AdaptSignMMPretrainViT,
    AdaptSignViT,
    TemporalCorrelation,
    temporal_window_weights,
)
from mmsign.visualization import record_attention, temporal_window_sources, window_gates

TINY_CLIP = dict(width=64, layers=2, heads=2, patch_size=8, image_size=32, output_dim=32)
TINY_MMPRETRAIN = dict(arch=dict(embed_dims=64, num_layers=2, num_heads=2,
                                 feedforward_channels=128), img_size=28, patch_size=14,
                       layer_scale_init_value=1e-5)
LENGTHS = [6, 1, 4]


def _perturb_(module: torch.nn.Module, scale: float = 0.1) -> None:
    """Move every parameter off its initial value (zero adapters, w_t = 0 ...)."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * scale)


def _backbone(kind: str, **kwargs):
    torch.manual_seed(0)
    if kind == 'clip':
        model = AdaptSignViT(arch=TINY_CLIP, num_prefix_tokens=4, **kwargs)
    else:
        model = AdaptSignMMPretrainViT(TINY_MMPRETRAIN, **kwargs)
    _perturb_(model)
    return model


def _frames(size: int) -> torch.Tensor:
    return torch.randn(sum(LENGTHS), 3, size, size, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize('kind,edge,checkpointing', [
    ('clip', 'zeros', 'none'), ('clip', 'replicate', 'full'),
    ('mmpretrain', 'replicate', 'selective')])
def test_features_and_gradients_identical_with_recording_on(kind, edge, checkpointing):
    model = _backbone(kind, temporal_edge=edge, checkpointing=checkpointing)
    frames = _frames(32 if kind == 'clip' else 28)
    grads = []
    outputs = []
    for record in (False, True):
        model.zero_grad()
        if record:
            with record_attention(model) as records:
                out = model(frames, LENGTHS)
            assert len(records) == 1
        else:
            out = model(frames, LENGTHS)
        out.square().sum().backward()
        outputs.append(out.detach())
        grads.append([p.grad.clone() for p in model.parameters() if p.requires_grad])
    assert torch.equal(outputs[0], outputs[1])
    assert all(torch.equal(a, b) for a, b in zip(*grads))


def test_recording_is_off_outside_the_block_and_refuses_nesting():
    model = _backbone('clip')
    frames = _frames(32)
    with record_attention(model) as records:
        model(frames, LENGTHS)
        model(frames[:4], [4])
        with pytest.raises(RuntimeError, match='already active'):
            with record_attention(model):
                pass
    model(frames, LENGTHS)
    assert [r.lengths for r in records] == [tuple(LENGTHS), (4, )]
    # No hook is left behind.
    assert not model._forward_hooks and not model._forward_pre_hooks
    assert not any(m._forward_hooks for m in model.modules())


def test_aggregation_weights_are_multihead_attention_weights():
    """Per layer: nn.MultiheadAttention's head-averaged weights of the query over
    LN([q; z])[1:], with q and z as the forward sees them."""
    model = _backbone('clip').eval()
    frames = _frames(32)
    with torch.no_grad(), record_attention(model) as records:
        model(frames, LENGTHS)
        z = model.embed(frames)
        q = model.aggregation.start(z.shape[0])
        expected = []
        for block, aggregation in zip(model.blocks, model.aggregation.blocks):
            z = block(z)
            tokens = aggregation.ln_1(torch.cat([q[:, None], z], dim=1))
            _, weights = aggregation.attn(tokens[:, :1], tokens[:, 1:], tokens[:, 1:],
                                          need_weights=True, average_attn_weights=True)
            expected.append(weights[:, 0])
            q = aggregation(q, z)
    (record, ) = records
    assert record.aggregation.shape == (2, sum(LENGTHS), 1 + 16)
    torch.testing.assert_close(record.aggregation, torch.stack(expected), rtol=1e-5,
                               atol=1e-6)
    assert record.patch_grid() == (4, 4)
    maps = record.patch_attention('mean')
    torch.testing.assert_close(maps.sum(-1), torch.ones(sum(LENGTHS)))
    torch.testing.assert_close(record.patch_attention(-1) * (1 - record.cls_share(-1))[:, None],
                               record.aggregation[-1, :, 1:])
    with pytest.raises(ValueError, match='layer'):
        record.patch_attention(2)


@pytest.mark.parametrize('edge', ['zeros', 'replicate'])
def test_temporal_gates_rebuild_the_correlation_feature(edge):
    """weight * sum_j sum_p gate[t, j, p] * U[source(t, j), p] is the module's output."""
    torch.manual_seed(2)
    width, window = 16, 5
    module = TemporalCorrelation(width, window)
    _perturb_(module, scale=0.5)
    z = torch.randn(sum(LENGTHS), 1 + 6, width)
    with torch.no_grad():
        out = module(z, temporal_window_weights(LENGTHS, window, edge, z.device))
        sources = temporal_window_sources(LENGTHS, window, edge)
        gates = window_gates(module, z, sources)                         # [N, W, P]
        patches = module.ln(z)[:, 1:]
        seen = patches[sources.clamp(min=0)] * (sources >= 0)[..., None, None]
        rebuilt = module.weight * torch.einsum('nwp,nwpd->nd', gates, seen)
    torch.testing.assert_close(rebuilt, out, rtol=1e-5, atol=1e-6)
    assert gates.abs().max() < 0.5
    # Frame 0 of the 1-frame video sees only itself (or copies of itself).
    assert sources[6].tolist() == ([-1, -1, 6, -1, -1] if edge == 'zeros' else [6] * 5)


def test_window_sources_stay_inside_each_video():
    sources = temporal_window_sources([3, 2], 5, 'zeros')
    assert sources.tolist() == [[-1, -1, 0, 1, 2], [-1, 0, 1, 2, -1], [0, 1, 2, -1, -1],
                                [-1, -1, 3, 4, -1], [-1, 3, 4, -1, -1]]
    assert temporal_window_sources([3], 3, 'replicate').tolist() == [
        [0, 0, 1], [0, 1, 2], [1, 2, 2]]


def test_record_without_temporal_correlation():
    model = AdaptSignViT(arch=TINY_CLIP, temporal_window=None)
    with torch.no_grad(), record_attention(model) as records:
        model(_frames(32), LENGTHS)
    assert records[0].temporal_gates is None and records[0].mean_temporal_gates() is None
    assert records[0].aggregation.shape == (2, sum(LENGTHS), 17)


def test_recording_under_bf16_autocast():
    """Recording under autocast leaves the features alone and gives fp32 maps close to
    those of an fp32 forward."""
    model = _backbone('clip')
    frames = _frames(32)
    with torch.no_grad():
        with record_attention(model) as fp32:
            model(frames, LENGTHS)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            plain = model(frames, LENGTHS)
            with record_attention(model) as bf16:
                recorded = model(frames, LENGTHS)
    assert torch.equal(plain, recorded)
    assert bf16[0].aggregation.dtype == bf16[0].temporal_gates.dtype == torch.float32
    torch.testing.assert_close(bf16[0].aggregation.sum(-1), torch.ones(2, sum(LENGTHS)))
    torch.testing.assert_close(bf16[0].aggregation, fp32[0].aggregation, rtol=0, atol=0.05)
    torch.testing.assert_close(bf16[0].temporal_gates, fp32[0].temporal_gates, rtol=0,
                               atol=0.05)


def test_backward_recomputation_is_not_recorded():
    """With checkpointing='full' the backward runs the blocks again (inside the hooks'
    reach): that is no new forward, and the record keeps one map per layer."""
    model = _backbone('clip', checkpointing='full')
    frames = _frames(32)
    with record_attention(model) as records:
        model(frames, LENGTHS).square().sum().backward()
        model(frames, lengths=LENGTHS)
    assert len(records) == 2
    assert [tuple(r.aggregation.shape) for r in records] == [(2, sum(LENGTHS), 17)] * 2
    torch.testing.assert_close(records[0].aggregation, records[1].aggregation)
