"""Temporal lift pooling (TLP) against an independent restatement of LINEAGE_SPEC.md, its
two losses, and the head's classifier and loss options."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.model import BaseModel

from mmsign.models.heads import TemporalConv, TemporalLiftPooling
from mmsign.models.losses import LiftingLoss, SignCTCLoss

B, C, E, H, K = 2, 6, 4, 8, 5


def randomised(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter random (the zero-initialised weights too), affine norms included."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return module


def operator_ref(params: dict, prefix: str, z: torch.Tensor) -> torch.Tensor:
    """Depthwise Conv1d k3 pad 1 (groups C, bias) -> ReLU -> Conv1d 1x1 -> tanh."""
    y = F.conv1d(z, params[f'{prefix}.0.weight'], params[f'{prefix}.0.bias'], padding=1,
                 groups=z.shape[1])
    y = F.conv1d(y.clamp(min=0), params[f'{prefix}.2.weight'], params[f'{prefix}.2.bias'])
    return torch.tanh(y)


def weighting_ref(params: dict, prefix: str, z: torch.Tensor) -> torch.Tensor:
    """z + z * (sigmoid(IN(conv5(z))) - 0.5), IN over time per video and channel."""
    y = F.conv1d(z, params[f'{prefix}.conv.weight'], params[f'{prefix}.conv.bias'], padding=2)
    mean = y.mean(-1, keepdim=True)
    var = y.var(-1, unbiased=False, keepdim=True)
    y = (y - mean) / torch.sqrt(var + 1e-5)
    y = y * params[f'{prefix}.insnorm.weight'][:, None] + params[f'{prefix}.insnorm.bias'][:, None]
    return z + z * (torch.sigmoid(y) - 0.5)


def lift_ref(params: dict, x: torch.Tensor):
    xe, xo = x[..., 0::2], x[..., 1::2]
    d = xo - operator_ref(params, 'predictor', xe)
    s = xe + operator_ref(params, 'updater', d)
    out = weighting_ref(params, 'weight1', s) + weighting_ref(params, 'weight2', d)
    return out, s, d, xo


def test_split_predict_update_and_output_match_the_spec():
    pool = randomised(TemporalLiftPooling(C))
    params = dict(pool.named_parameters())
    x = torch.randn(B, C, 12)
    even, odd = pool.split(x)
    assert torch.equal(even, x[..., 0::2]) and torch.equal(odd, x[..., 1::2])
    out, s, d, xo = lift_ref(params, x)
    with torch.no_grad():
        torch.testing.assert_close(pool.predict(even, odd), d)
        torch.testing.assert_close(pool.update(even, d), s)
        got, residuals = pool.lift(x)
        torch.testing.assert_close(got, out)
        torch.testing.assert_close(residuals.update, s - xo)
        torch.testing.assert_close(residuals.detail, d)
        torch.testing.assert_close(pool(x), out)
    assert out.shape == (B, C, 6)


def test_initial_lift_pooling_is_a_fixed_lifting_step_without_weighting():
    """The zero-initialised 1x1 and k5 weights: P and U give tanh(bias), W is identity."""
    pool = TemporalLiftPooling(C)
    x = torch.randn(B, C, 10)
    xe, xo = x[..., 0::2], x[..., 1::2]
    p_bias = torch.tanh(pool.predictor[2].bias)[:, None]
    u_bias = torch.tanh(pool.updater[2].bias)[:, None]
    d = xo - p_bias
    s = xe + u_bias
    with torch.no_grad():
        torch.testing.assert_close(pool(x), s + d)
        torch.testing.assert_close(pool.weight1(x), x)


def test_odd_length_drops_the_last_frame_like_max_pooling():
    pool = randomised(TemporalLiftPooling(C))
    x = torch.randn(B, C, 11)
    with torch.no_grad():
        torch.testing.assert_close(pool(x), pool(x[..., :10]))
    assert pool(x).shape[-1] == F.max_pool1d(x, 2).shape[-1] == 5
    # one output frame: the instance norm of one element is its limit 0 (torch refuses it)
    z = torch.randn(B, C, 1)
    gate = torch.sigmoid(pool.weight1.insnorm.bias)[:, None] - 0.5
    torch.testing.assert_close(pool.weight1(z), z + z * gate)
    with pytest.raises(ValueError, match='pool size 2'):
        TemporalLiftPooling(C, 3)


def test_state_dict_follows_the_released_lift_pooling():
    keys = set(TemporalLiftPooling(C).state_dict())
    assert keys == {f'{m}.{i}.{w}' for m in ('predictor', 'updater') for i in (0, 2)
                    for w in ('weight', 'bias')} | {
                        f'weight{j}.{m}.{w}' for j in (1, 2) for m in ('conv', 'insnorm')
                        for w in ('weight', 'bias')}


@pytest.mark.parametrize('pattern', [('K5', 'P2', 'K5', 'P2'), ('K3', 'P2'), ('K5', 'P2')])
def test_lift_pooling_keeps_max_pooling_geometry_and_lengths(pattern):
    lift, pool = TemporalConv(E, H, pattern, 'lift').eval(), TemporalConv(E, H, pattern).eval()
    assert lift.geometry == pool.geometry
    assert [m.kernel_size for m in lift.temporal_conv if isinstance(m, TemporalLiftPooling)] \
        == [m.kernel_size for m in pool.temporal_conv if isinstance(m, torch.nn.MaxPool1d)]
    assert list(lift.state_dict())[:2] == list(pool.state_dict())[:2]
    for length in range(lift.geometry.receptive_field, 40):
        x = torch.randn(1, E, length)
        assert lift(x).shape[-1] == pool(x).shape[-1] == lift.output_length(length)
    _, residuals = lift.forward_with_residuals(torch.randn(1, E, 40))
    assert len(residuals) == pattern.count('P2')
    assert pool.forward_with_residuals(torch.randn(1, E, 40))[1] == []
    with pytest.raises(ValueError, match='pooling'):
        TemporalConv(E, H, pattern, 'average')


def test_lifting_loss_is_the_weighted_sum_of_frobenius_norms():
    a, b = torch.randn(B, C, 7), torch.randn(B, C, 3)
    expected = 0.001 * (math.sqrt((a**2).sum()) + math.sqrt((b**2).sum()))
    torch.testing.assert_close(LiftingLoss()([a, b]), torch.tensor(expected))
    torch.testing.assert_close(LiftingLoss(loss_weight=0.5)([a]), 0.5 * a.norm())
    with pytest.raises(ValueError, match="pooling='lift'"):
        LiftingLoss()([])


def sample(glosses):
    s = ActionDataSample()
    s.set_metainfo(dict(sample_id='s'))
    s.gt_glosses = torch.tensor(glosses)
    return s


def build_head(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(type='SignCTCHead', in_channels=E, num_classes=K,
                             hidden_channels=H, **kwargs))


def test_tlp_head_losses_are_the_sum_over_both_pooling_layers():
    head = build_head(pooling='lift', classifier='Linear', share_classifier=False,
                      loss_distill=dict(type='SequenceDistillLoss'),
                      loss_lift_update=dict(type='LiftingLoss', loss_weight=0.001),
                      loss_lift_predict=dict(type='LiftingLoss', loss_weight=0.002))
    randomised(head.temporal_conv)
    head.train()
    x = torch.randn(B, E, 36)
    outputs = head.forward_padded(x, [36, 28])
    # Restated: run the released layer order by hand, each pool through lift_ref.
    seq_modules = list(head.temporal_conv.temporal_conv)
    y, cu, cp = x, 0.0, 0.0
    for module in seq_modules:
        if isinstance(module, TemporalLiftPooling):
            y, s, d, xo = lift_ref(dict(module.named_parameters()), y)
            cu, cp = cu + (s - xo).norm(), cp + d.norm()
        else:
            y = module(y)
    samples = [sample([1, 2]), sample([3])]
    losses = head.loss(outputs, samples)
    assert set(losses) == {'loss_ctc_seq', 'loss_ctc_conv', 'loss_distill',
                           'loss_lift_update', 'loss_lift_predict', 'ctc_excluded'}
    torch.testing.assert_close(losses['loss_lift_update'], 0.001 * cu)
    torch.testing.assert_close(losses['loss_lift_predict'], 0.002 * cp)
    torch.testing.assert_close(outputs.conv_logits,
                               head.conv_classifier(y.permute(2, 0, 1)))
    total, _ = BaseModel.parse_losses(None, losses)
    total.backward()
    assert head.temporal_conv.temporal_conv[3].predictor[2].weight.grad.abs().sum() > 0


def test_lift_losses_need_lift_pooling():
    with pytest.raises(ValueError, match="pooling='lift'"):
        build_head(loss_lift_update=dict(type='LiftingLoss'))


def test_default_head_keeps_one_shared_normalised_classifier():
    keys = [k for k in build_head().state_dict() if 'classifier' in k]
    assert keys == ['classifier.weight']
    head = build_head()
    assert head.conv_branch_classifier is head.classifier


@pytest.mark.parametrize('kind,share,keys', [
    ('Linear', False, ['classifier.weight', 'classifier.bias', 'conv_classifier.weight',
                       'conv_classifier.bias']),
    ('Linear', True, ['classifier.weight', 'classifier.bias']),
    ('NormLinear', False, ['classifier.weight', 'conv_classifier.weight']),
])
def test_classifier_options(kind, share, keys):
    head = build_head(classifier=kind, share_classifier=share).eval()
    assert [k for k in head.state_dict() if 'classifier' in k] == keys
    feats = torch.randn(20, E)
    with torch.no_grad():
        out = head(feats, [20])
        padded = torch.cat([feats[:1].expand(6, E), feats, feats[-1:].expand(6, E)])
        conv = head.temporal_conv(padded.t()[None]).permute(2, 0, 1)
        seq = head.bilstm(conv, out.lengths)
    own = head.classifier if share else head.conv_classifier
    torch.testing.assert_close(out.conv_logits, own(conv))
    torch.testing.assert_close(out.seq_logits, head.classifier(seq))
    if kind == 'Linear':
        assert head.classifier.weight.shape == (K, H)
        torch.testing.assert_close(out.seq_logits, seq @ head.classifier.weight.t()
                                   + head.classifier.bias)
    with pytest.raises(ValueError, match='classifier must be'):
        build_head(classifier='Cosine')


def test_a_loss_of_weight_zero_is_left_out_and_trains_nothing():
    """The VAC baseline: SeqCTC only; the conv branch's own classifier gets no gradient."""
    head = build_head(classifier='Linear', share_classifier=False,
                      loss_ctc_conv=dict(type='SignCTCLoss', loss_weight=0.0)).train()
    outputs = head(torch.randn(30, E), [16, 14])
    samples = [sample([1, 2]), sample([3])]
    losses = head.loss(outputs, samples)
    assert set(losses) == {'loss_ctc_seq', 'ctc_excluded'}
    torch.testing.assert_close(losses['loss_ctc_seq'], SignCTCLoss()(
        outputs.seq_logits, [s.gt_glosses for s in samples], outputs.lengths))
    losses['loss_ctc_seq'].backward()
    assert head.conv_classifier.weight.grad is None
    assert head.classifier.weight.grad.abs().sum() > 0
