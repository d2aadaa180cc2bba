"""AdaptSign's modules against straightforward restatements of the spec's formulas."""
import math

import pytest
import torch
from open_clip.transformer import LayerNorm as CLIPLayerNorm
from open_clip.transformer import QuickGELU as CLIPQuickGELU
from open_clip.transformer import ResidualAttentionBlock

from mmsign.models.backbones import (
    AdaptSignBlock,
    AggregationBlock,
    FrozenCLIPBlock,
    TemporalCorrelation,
    temporal_window_weights,
)
from mmsign.models.backbones.adaptsign_layers import quick_gelu

WIDTH, HEADS = 32, 4


def _randomise_(module: torch.nn.Module) -> None:
    """Non-trivial values everywhere (zero-initialised outputs, unit LayerNorms too)."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (1.0 if p.dim() == 1 and p.numel() == WIDTH
                                                 else 0.0))


def _clip_block() -> ResidualAttentionBlock:
    block = ResidualAttentionBlock(WIDTH, HEADS, act_layer=CLIPQuickGELU,
                                   norm_layer=CLIPLayerNorm)
    _randomise_(block)
    return block.requires_grad_(False)


def test_quick_gelu_is_openai_formula():
    x = torch.linspace(-8, 8, 1001, dtype=torch.float64)
    torch.testing.assert_close(quick_gelu(x), x * torch.sigmoid(1.702 * x), rtol=1e-12,
                               atol=1e-12)


def test_prefix_tokens_pass_through_frozen_in_projection():
    """Released formulation: MHA(a, [a; K], [a; V]) with the frozen nn.MultiheadAttention."""
    torch.manual_seed(0)
    clip_block = _clip_block()
    block = AdaptSignBlock(FrozenCLIPBlock(clip_block), WIDTH, num_prefix_tokens=3)
    z = torch.randn(4, 7, WIDTH)
    a = clip_block.ln_1(z)
    keys = torch.cat([a, block.prefix.key.expand(4, -1, -1)], dim=1)
    values = torch.cat([a, block.prefix.value.expand(4, -1, -1)], dim=1)
    expected = clip_block.attn(a, keys, values, need_weights=False)[0]
    torch.testing.assert_close(block.attention(z), expected, rtol=1e-5, atol=1e-5)


def test_block_adds_parallel_adapters_to_block_input():
    torch.manual_seed(1)
    clip_block = _clip_block()
    block = AdaptSignBlock(FrozenCLIPBlock(clip_block), WIDTH, num_prefix_tokens=0)
    _randomise_(block.spatial_adapter)
    _randomise_(block.mlp_adapter)
    z = torch.randn(3, 5, WIDTH)

    def adapter(module, u):
        hidden = module.c_in(u)
        return module.c_out(hidden * torch.sigmoid(1.702 * hidden))

    mid = z + clip_block.attention(clip_block.ln_1(z)) + adapter(block.spatial_adapter, z)
    expected = mid + clip_block.mlp(clip_block.ln_2(mid)) + adapter(block.mlp_adapter, mid)
    torch.testing.assert_close(block(z), expected, rtol=1e-5, atol=1e-5)


def test_new_adapters_start_at_zero_and_prefix_scale():
    torch.manual_seed(2)
    block = AdaptSignBlock(FrozenCLIPBlock(_clip_block()), WIDTH, num_prefix_tokens=8)
    z = torch.randn(2, 5, WIDTH)
    assert torch.count_nonzero(block.spatial_adapter(z)) == 0
    assert torch.count_nonzero(block.mlp_adapter(z)) == 0
    assert block.spatial_adapter.c_in.out_features == WIDTH // 4
    assert block.prefix.key.shape == block.prefix.value.shape == (8, WIDTH)


def test_aggregation_block_equals_layernorm_of_concatenation():
    """q + MHA(c[0], c[1:], c[1:]) with c = LN([q; z]), then the MLP, as the spec writes it."""
    torch.manual_seed(3)
    agg = AggregationBlock(WIDTH, HEADS)
    _randomise_(agg)
    q, z = torch.randn(6, WIDTH), torch.randn(6, 9, WIDTH)
    c = agg.ln_1(torch.cat([q[:, None], z], dim=1))
    expected = q + agg.attn(c[:, :1], c[:, 1:], c[:, 1:], need_weights=False)[0][:, 0]
    hidden = agg.mlp.c_fc(agg.ln_2(expected))
    expected = expected + agg.mlp.c_proj(hidden * torch.sigmoid(1.702 * hidden))
    torch.testing.assert_close(agg(q, z), expected, rtol=1e-5, atol=1e-5)
    assert agg.mlp.c_fc.weight.shape == (WIDTH, WIDTH)


def _temporal_reference(module, z, lengths, edge):
    """The spec's formula frame by frame: 5P neighbour patches, zeros (or edge copies)."""
    y = module.ln(z)
    radius = module.window // 2
    out, start = [], 0
    for length in lengths:
        for t in range(length):
            parts = []
            for s in range(t - radius, t + radius + 1):
                if 0 <= s < length:
                    parts.append(y[start + s, 1:])
                elif edge == 'replicate':
                    parts.append(y[start + min(max(s, 0), length - 1), 1:])
                else:
                    parts.append(torch.zeros_like(y[start, 1:]))
            patches = torch.cat(parts)                               # [W * P, D]
            affinity = patches @ y[start + t, 0] / math.sqrt(z.shape[-1])
            out.append(((torch.sigmoid(affinity) - 0.5)[:, None] * patches).sum(0))
        start += length
    return module.weight * torch.stack(out)


@pytest.mark.parametrize('edge', ['zeros', 'replicate'])
@pytest.mark.parametrize('lengths', [(5, 9, 3), (1, 2, 4)])
def test_temporal_correlation_matches_formula(edge, lengths):
    torch.manual_seed(4)
    module = TemporalCorrelation(WIDTH, window=5)
    _randomise_(module)
    z = torch.randn(sum(lengths), 1 + 6, WIDTH)
    weights = temporal_window_weights(lengths, 5, edge, z.device)
    torch.testing.assert_close(module(z, weights), _temporal_reference(module, z, lengths, edge),
                               rtol=1e-5, atol=1e-5)


def test_temporal_window_weights_counts():
    zeros = temporal_window_weights([4], 5, 'zeros', torch.device('cpu'))
    # Column j: the frame 2 - j positions away sees this source frame.
    assert zeros.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [0, 1, 1, 1, 1],
                              [0, 0, 1, 1, 1]]
    replicate = temporal_window_weights([4], 5, 'replicate', torch.device('cpu'))
    # Source frame 0 is seen 3 times by frame 0 (as frames -2, -1, 0), twice by frame 1
    # (as frames -1, 0) and once by frame 2.
    assert replicate[0].tolist() == [1, 2, 3, 0, 0]
    assert replicate.sum().item() == 4 * 5  # every window position of every frame is used
    single = temporal_window_weights([1], 5, 'replicate', torch.device('cpu'))
    assert single.tolist() == [[0, 0, 5, 0, 0]]


def test_temporal_correlation_is_zero_at_init():
    module = TemporalCorrelation(WIDTH)
    z = torch.randn(4, 3, WIDTH)
    out = module(z, temporal_window_weights([4], 5, 'zeros', z.device))
    assert out.shape == (4, WIDTH) and torch.count_nonzero(out) == 0
    with pytest.raises(ValueError, match='odd'):
        TemporalCorrelation(WIDTH, window=4)


def test_frozen_clip_block_rejects_other_layouts():
    gelu_block = ResidualAttentionBlock(WIDTH, HEADS, act_layer=torch.nn.GELU)
    with pytest.raises(TypeError, match='QuickGELU'):
        FrozenCLIPBlock(gelu_block)


def test_layers_keep_autocast_dtype():
    torch.manual_seed(5)
    block = AdaptSignBlock(FrozenCLIPBlock(_clip_block()), WIDTH, num_prefix_tokens=2)
    z = torch.randn(2, 5, WIDTH)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = block(z.to(torch.bfloat16))
    assert out.dtype == torch.bfloat16
    reference = block(z)
    assert (out.float() - reference).norm() / reference.norm() < 0.02
