"""SEN's emphasis modules and CorrNet+'s correlation against independent restatements of
LINEAGE_SPEC.md's formulas, on videos ``[B, C, T, H, W]`` as the released code runs them."""

import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.config import Config

from mmsign.models.backbones import (
    AttentionPool,
    CorrNetResNet,
    MultiNeighbourCorrelation,
    MultiNeighbourCorrelationIdentification,
    SpatialEmphasis,
    TemporalEmphasis,
)
from mmsign.models.backbones.corrnet_modules import TemporalSegments

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def randomize(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random values in every parameter, alphas included (nothing at its init)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in module.parameters():
            values = torch.randn(tensor.shape, generator=generator, dtype=torch.float64)
            tensor.copy_(values * (0.3 if tensor.dim() > 1 else 1.0))
    return module.double()


def run(module, x, lengths=None, packed=False):
    """A module on the frames of ``[B, C, T, H, W]`` videos; the result back in that shape
    (``[B, C, T]`` for per-frame vectors)."""
    batch, channels, frames = x.shape[:3]
    lengths = lengths or [frames] * batch
    y = module(x.transpose(1, 2).flatten(0, 1), TemporalSegments(lengths, x.device, packed))
    return y.view(batch, frames, *y.shape[1:]).transpose(1, 2)


@pytest.fixture
def videos():
    return torch.randn(2, 32, 7, 4, 5, dtype=torch.float64,
                       generator=torch.Generator().manual_seed(1))


# ---- the spec's formulas on whole videos ------------------------------------------------
def pointwise3d(x, conv):
    out = torch.einsum('oc,bcthw->bothw', conv.weight[:, :, 0, 0, 0], x)
    return out if conv.bias is None else out + conv.bias.view(1, -1, 1, 1, 1)


def spec_ssem(y, m):
    z = pointwise3d(y, m.reduce)
    aggregated = sum(
        w * F.conv3d(z, conv.weight, conv.bias, padding=(4, d, d), dilation=(1, d, d),
                     groups=z.shape[1])
        for w, conv, d in zip(m.aggregation_weights, m.aggregations, (1, 2, 3)))
    return m.alpha * y * (torch.sigmoid(pointwise3d(aggregated, m.expand)) - 0.5)


def spec_tsem(y, m, dilations):
    mean = y.mean(dim=(3, 4))                                                  # [B, C, T]
    z = torch.einsum('oc,bct->bot', m.reduce.weight[:, :, 0], mean) + m.reduce.bias[:, None]
    aggregated = sum(
        v * F.conv1d(z, conv.weight, conv.bias, padding=d, dilation=d, groups=z.shape[1])
        for v, conv, d in zip(m.aggregation_weights, m.aggregations, dilations))
    g = torch.einsum('oc,bct->bot', m.expand.weight[:, :, 0], aggregated)
    g = g + m.expand.bias[:, None]
    return m.alpha * y * (torch.sigmoid(g) - 0.5)[..., None, None]


def spec_attention_pool(x, m):
    """The release's call: torch's multi-head attention, one head, the learnable query."""
    batch, channels, frames = x.shape[:3]
    tokens = x.flatten(3).permute(3, 0, 2, 1).reshape(-1, batch * frames, channels)
    out, _ = F.multi_head_attention_forward(
        m.query.view(1, 1, -1).repeat(1, batch * frames, 1), tokens, tokens, channels, 1,
        None, torch.cat([m.q_proj.bias, m.k_proj.bias, m.v_proj.bias]), None, None, False,
        0.0, m.out_proj.weight, m.out_proj.bias, training=False, need_weights=False,
        use_separate_proj_weight=True, q_proj_weight=m.q_proj.weight,
        k_proj_weight=m.k_proj.weight, v_proj_weight=m.v_proj.weight)
    return out.view(batch, frames, channels).transpose(1, 2)                  # [B, C, T]


def spec_correlation(x, m):
    n = m.neighbours
    w = m.query.pooling_weights
    q = (w[0] * x.mean(dim=(3, 4)) + w[1] * x.amax(dim=(3, 4))
         + w[2] * spec_attention_pool(x, m.query.attention_pool))             # [B, C, T]
    x2 = pointwise3d(x, m.key_proj)
    padded = F.pad(x2, (0, 0, 0, 0, n, n))                # zero frames beyond the clip
    frames = x.shape[2]
    offsets = [j for j in range(-n, n + 1) if j != 0]
    keys = torch.cat([u * padded[:, :, n + j:n + j + frames].flatten(3)
                      for u, j in zip(m.offset_weights, offsets)], 3)         # [B, C, T, L]
    affinities = torch.einsum('bct,bctl->btl', q, keys)
    return torch.einsum('bctl,btl->bct', keys, torch.sigmoid(affinities) - 0.5)


def spec_identification(x, m):
    z = pointwise3d(x, m.reduce)
    aggregated = sum(
        v * F.conv3d(z, conv.weight, conv.bias, padding=(4, d, d), dilation=(1, d, d),
                     groups=z.shape[1])
        for v, conv, d in zip(m.aggregation_weights, m.aggregations, (1, 2, 3)))
    return torch.sigmoid(pointwise3d(aggregated, m.expand)) - 0.5


# ---- the modules against them -----------------------------------------------------------
def test_spatial_emphasis_is_the_spec_formula_and_starts_as_released(videos):
    module = randomize(SpatialEmphasis(32))
    torch.testing.assert_close(run(module, videos), spec_ssem(videos, module), rtol=1e-10,
                               atol=1e-12)
    fresh = SpatialEmphasis(64)
    assert fresh.alpha.tolist() == [1.0] and not fresh.mixed
    assert fresh.aggregation_weights.tolist() == pytest.approx([1 / 3] * 3)
    assert fresh.reduce.out_channels == 4 and fresh.reduce.bias is not None
    assert fresh.expand.bias is not None


@pytest.mark.parametrize('dilations', [(1, 2, 3, 4, 5), (1, 2, 3)])
def test_temporal_emphasis_is_the_spec_formula(videos, dilations):
    module = randomize(TemporalEmphasis(32, dilations))
    got = run(module, videos)
    torch.testing.assert_close(got, spec_tsem(videos, module, dilations), rtol=1e-10,
                               atol=1e-12)
    # One weight per channel and frame: the ratio to the input is constant over H, W.
    ratio = got / videos
    torch.testing.assert_close(ratio, ratio[..., :1, :1].expand_as(ratio))


def test_temporal_emphasis_starts_as_no_change(videos):
    fresh = TemporalEmphasis(64)
    assert fresh.alpha.tolist() == [0.0] and not fresh.mixed
    assert fresh.aggregation_weights.tolist() == pytest.approx([1 / 5] * 5)
    assert [c.dilation for c in fresh.aggregations] == [(d, ) for d in range(1, 6)]
    x = torch.randn(6, 64, 3, 3)
    assert torch.equal(fresh(x, TemporalSegments([6], x.device)), torch.zeros_like(x))


def test_attention_pool_is_torch_multi_head_attention(videos):
    module = randomize(AttentionPool(32))
    batch, channels, frames = videos.shape[:3]
    got = module(videos.transpose(1, 2).flatten(0, 1))                         # [B * T, C]
    got = got.view(batch, frames, channels).transpose(1, 2)
    torch.testing.assert_close(got, spec_attention_pool(videos, module), rtol=1e-10,
                               atol=1e-12)
    fresh = AttentionPool(32).query
    assert fresh.min() >= 0 and fresh.max() < 1


@pytest.mark.parametrize('neighbours', [1, 3, 5])
def test_multi_neighbour_correlation_is_the_spec_formula(videos, neighbours):
    module = randomize(MultiNeighbourCorrelation(32, neighbours))
    torch.testing.assert_close(run(module, videos), spec_correlation(videos, module),
                               rtol=1e-10, atol=1e-12)


def test_correlation_gated_by_identification_starts_as_released(videos):
    module = randomize(MultiNeighbourCorrelationIdentification(32, neighbours=3))
    want = (spec_correlation(videos, module.correlation)[..., None, None]
            * spec_identification(videos, module.identification))
    torch.testing.assert_close(run(module, videos), want, rtol=1e-10, atol=1e-12)
    fresh = MultiNeighbourCorrelationIdentification(64, neighbours=5).correlation
    assert fresh.offsets == [-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]
    assert fresh.offset_weights.tolist() == pytest.approx([0.1] * 10)
    assert fresh.query.pooling_weights.tolist() == pytest.approx([1 / 3] * 3)
    assert fresh.key_proj.bias is None
    assert getattr(MultiNeighbourCorrelationIdentification, 'mixed', True)
    with pytest.raises(ValueError, match='neighbours'):
        MultiNeighbourCorrelation(32, 0)


@pytest.mark.parametrize('module', [
    SpatialEmphasis(32), TemporalEmphasis(32),
    MultiNeighbourCorrelationIdentification(32, neighbours=3)
], ids=['ssem', 'tsem', 'correlation'])
def test_packed_videos_do_not_see_each_other(module, videos):
    """Videos on one time axis give what each gives alone (temporal convolutions and
    neighbour keys stop at each video's ends); equal lengths: direct = indexed form."""
    module = randomize(module, seed=3)
    lengths = [3, 1, 6]
    clips = [torch.randn(1, 32, n, 4, 5, dtype=torch.float64) for n in lengths]
    packed = run(module, torch.cat(clips, 2), lengths)
    alone = torch.cat([run(module, v) for v in clips], 2)
    torch.testing.assert_close(packed, alone, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(run(module, videos), run(module, videos, packed=True),
                               rtol=1e-10, atol=1e-12)


def test_gradients_reach_every_parameter():
    modules = [SpatialEmphasis(32), TemporalEmphasis(32),
               MultiNeighbourCorrelationIdentification(32, 1)]
    x = torch.randn(6, 32, 4, 4)
    for module in modules:
        with torch.no_grad():  # alpha 0 would stop TSEM's gradient
            for name, p in module.named_parameters():
                if name == 'alpha':
                    p.fill_(0.5)
        module(x, TemporalSegments([2, 4], x.device)).square().sum().backward()
        silent = [name for name, p in module.named_parameters()
                  if p.grad is None or not p.grad.abs().sum() > 0]
        assert not silent, (type(module).__name__, silent)




# ---- in CorrNet's trunk ------------------------------------------------------------------
def backbone_cfg(recipe: str) -> dict:
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', f'{recipe}.py')).model.backbone
    return dict(cfg.to_dict(), base_channels=16, pretrained=None)


def trunk_of(backbone: CorrNetResNet) -> dict:
    return {k: v for k, v in backbone.state_dict().items()
            if not (k.startswith('stage_modules.') or '.block_modules.' in k or k == 'alpha')}


@pytest.mark.parametrize('recipe', ['sen_tiny_synthetic', 'corrnet-plus_tiny_synthetic'])
def test_closed_gates_give_the_plain_trunk_exactly(recipe):
    """CorrNet+ starts closed (alpha and the temporal weighting's alphas 0); SEN starts
    with alpha_t 0 and alpha_s 1, and gives the plain trunk once alpha_s is 0 too."""
    backbone = MODELS.build(backbone_cfg(recipe))
    plain = CorrNetResNet(base_channels=16, stage_modules=dict())
    plain.load_state_dict(dict(trunk_of(randomize(backbone, seed=4)), alpha=plain.alpha),
                          strict=True)
    with torch.no_grad():
        for name, p in backbone.named_parameters():
            if name == 'alpha' or name.endswith('.alpha'):
                p.zero_()
    backbone.float().eval()
    plain.eval()
    frames = torch.randn(10, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(backbone(frames, [4, 6]), plain(frames, [4, 6]), rtol=0,
                                   atol=0)
        if recipe.startswith('sen'):  # alpha_s = 1 changes the features
            backbone.layer1[0].block_modules[0].alpha.fill_(1.0)
            assert not torch.allclose(backbone(frames, [4, 6]), plain(frames, [4, 6]))
    fresh = MODELS.build(backbone_cfg(recipe))
    alphas = {n: p.tolist() for n, p in fresh.named_parameters() if n.endswith('.alpha')}
    if recipe.startswith('corrnet-plus'):
        assert all(v == [0.0] for v in alphas.values()) and len(alphas) == 3
        assert fresh.alpha.tolist() == [0.0] * 3  # one per correlation module (mixed)
    else:
        assert len(alphas) == 16  # SSEM + TSEM in each of 8 blocks
        assert {n: v for n, v in alphas.items() if '.block_modules.0.' in n} == {
            n: [1.0] for n in alphas if '.block_modules.0.' in n}


@pytest.mark.parametrize('recipe', ['sen_tiny_synthetic', 'corrnet-plus_tiny_synthetic'])
def test_packed_and_batched_backbones_agree(recipe):
    backbone = randomize(MODELS.build(backbone_cfg(recipe)), seed=6).eval()
    frames = torch.randn(12, 3, 32, 32, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        batched = backbone(frames, [6, 6])
        packed = backbone.forward_packed(frames, [6, 6])
        videos = backbone.forward_videos(frames.view(2, 6, 3, 32, 32).transpose(1, 2))
        mixed = backbone(frames, [5, 7])
        alone = torch.cat([backbone(frames[:5], [5]), backbone(frames[5:], [7])])
    torch.testing.assert_close(packed, batched, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(videos, batched, rtol=0, atol=0)
    torch.testing.assert_close(mixed, alone, rtol=1e-10, atol=1e-10)
    assert not torch.allclose(mixed[:5], batched[:5])  # the modules reach across frames


def test_imagenet_loading_leaves_the_added_modules_at_their_init(tmp_path):
    backbone = MODELS.build(backbone_cfg('sen_tiny_synthetic'))
    path = tmp_path / 'resnet.pth'
    torch.save({k: v.squeeze(2) if v.dim() == 5 else v for k, v in trunk_of(
        randomize(CorrNetResNet(base_channels=16, stage_modules=dict()), 7).float()).items()},
        path)  # an ImageNet-layout file: 2-D kernels
    loaded = MODELS.build(dict(backbone_cfg('sen_tiny_synthetic'), pretrained=str(path)))
    assert loaded.layer1[0].block_modules[0].alpha.item() == 1.0
    assert loaded.layer4[1].block_modules[1].alpha.item() == 0.0
    assert not torch.equal(loaded.conv1.weight, backbone.conv1.weight)
