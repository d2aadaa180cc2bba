import math

import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS

from mmsign.models.heads import (
    RELEASED_GEOMETRY,
    SignCTCHead,
    TemporalConv,
    released_edge_padding,
)

E, H, C = 4, 8, 5


def make_head(**kwargs) -> SignCTCHead:
    torch.manual_seed(0)
    cfg = dict(type='SignCTCHead', in_channels=E, num_classes=C, hidden_channels=H)
    cfg.update(kwargs)
    return MODELS.build(cfg).eval()


def released_output_length(num_frames: int) -> int:
    padded = math.ceil(num_frames / 4) * 4 + 12
    return ((padded - 4) // 2 - 4) // 2


def test_output_lengths_t1_to_300_default_feature_padding():
    head = make_head()
    lengths = list(range(1, 301))
    feats = torch.randn(sum(lengths), E)
    with torch.no_grad():
        out = head(feats, lengths)
    assert out.lengths == [math.ceil(t / 4) for t in lengths]
    assert out.seq_logits.shape == (75, 300, C)
    assert out.conv_logits.shape == (75, 300, C)


def test_output_lengths_t1_to_300_released_frame_padding():
    # parity mode: the padded batch (every video T_pad long) goes in with valid lengths
    # ceil(T/4)*4+12, and the released formula gives T'
    head = make_head()
    lengths = list(range(1, 301))
    x, valid = released_edge_padding(torch.randn(sum(lengths), E), lengths, RELEASED_GEOMETRY)
    with torch.no_grad():
        out = head.forward_padded(x.transpose(1, 2), valid)
    assert out.lengths == [released_output_length(t) for t in lengths]
    assert out.seq_logits.shape[0] == released_output_length(300)


def test_forward_pads_features_like_explicit_padding():
    head = make_head()
    lengths = [3, 9]
    feats = torch.randn(12, E)
    first, last = feats[:3], feats[3:]
    manual = torch.zeros(2, 24, E)  # ceil(9 / 4) * 4 + 12
    manual[0] = torch.cat([first[:1].repeat(6, 1), first, first[-1:].repeat(15, 1)])
    manual[1] = torch.cat([last[:1].repeat(6, 1), last, last[-1:].repeat(9, 1)])
    with torch.no_grad():
        out = head(feats, lengths)
        ref = head.forward_padded(manual.transpose(1, 2), [16, 24])
    assert torch.equal(out.conv_logits, ref.conv_logits)
    assert torch.equal(out.seq_logits, ref.seq_logits)


def test_bilstm_sees_only_valid_rows_and_pads_with_zero_logits():
    head = make_head()
    lengths = [5, 14]
    feats = torch.randn(19, E)
    with torch.no_grad():
        batch = head(feats, lengths)
        alone = head(feats[:5], [5])
    assert batch.lengths == [2, 4]
    # the short video's outputs do not depend on the longer one's padding
    torch.testing.assert_close(batch.seq_logits[:2, 0], alone.seq_logits[:, 0])
    assert torch.count_nonzero(batch.seq_logits[2:, 0]) == 0
    # the conv branch computes every row (the distillation averages over them)
    assert torch.count_nonzero(batch.conv_logits[2:, 0]) > 0


def test_classifier_is_shared_and_column_normalised():
    head = make_head()
    assert sum(p.shape == (H, C) for p in head.parameters()) == 1
    x = torch.randn(3, H)
    w = head.classifier.weight
    torch.testing.assert_close(head.classifier(x), x @ (w / w.norm(dim=0, keepdim=True)))
    torch.testing.assert_close(F.normalize(w, dim=0).norm(dim=0), torch.ones(C))


def test_state_dict_layout_follows_released_temporal_conv():
    keys = set(make_head().state_dict())
    for index in (0, 4):
        assert f'temporal_conv.temporal_conv.{index}.weight' in keys
        assert f'temporal_conv.temporal_conv.{index}.bias' in keys
    for index in (1, 5):
        assert f'temporal_conv.temporal_conv.{index}.running_var' in keys
    assert 'bilstm.rnn.weight_hh_l1_reverse' in keys
    assert make_head().bilstm.rnn.hidden_size == H // 2


def test_temporal_conv_pattern_is_configurable():
    conv = TemporalConv(E, H, ('K3', 'P2'))
    x = torch.randn(2, E, 11)
    assert conv(x).shape == (2, H, conv.output_length(11)) == (2, H, 4)
    with pytest.raises(ValueError, match='K<kernel>'):
        TemporalConv(E, H, ('K5', 'X2'))


def test_too_short_input_is_reported():
    head = make_head()
    with pytest.raises(ValueError, match='too short'):
        head.forward_padded(torch.randn(1, E, 10), [10])


@pytest.mark.parametrize('pattern,stride,field', [
    (('K5', 'P2', 'K5', 'P2'), 4, 16), (('K3', 'P2', 'K3', 'P2'), 4, 10),
    (('K5', 'P2'), 2, 6), (('K3', 'P3', 'K4'), 3, 14)])
def test_padding_follows_any_conv_pattern(pattern, stride, field):
    """The edge padding is sized by the head's own temporal conv: ceil(T / stride)
    outputs for every length, (R - stride) // 2 copies of the first frame before it."""
    head = make_head(conv_pattern=pattern)
    geometry = head.temporal_conv.geometry
    assert (geometry.stride, geometry.receptive_field) == (stride, field)
    lengths = list(range(1, 41))
    feats = torch.randn(sum(lengths), E)
    with torch.no_grad():
        out = head(feats, lengths)
    assert out.lengths == [math.ceil(t / stride) for t in lengths]
    # The padded batch the head builds: left copies of the first row, then the video.
    padded, valid = released_edge_padding(feats[:7], [7], geometry)
    left = (field - stride) // 2
    assert valid == [math.ceil(7 / stride) * stride + field - stride]
    assert torch.equal(padded[0, :left], feats[:1].expand(left, E))
    assert torch.equal(padded[0, left:left + 7], feats[:7])
    assert head.temporal_conv.output_length(valid[0]) == math.ceil(7 / stride)
