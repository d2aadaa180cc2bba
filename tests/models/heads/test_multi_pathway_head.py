"""MultiPathwayCTCHead: SlowFastSign's three heads and the weighted loss of
SLOWFASTSIGN_SPEC.md section 3, against a restatement with torch's CTC and an explicit KL."""
import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

from mmsign.models.heads import CTCHeadOutputs, SignCTCHead

LOSSES = dict(loss_ctc_seq=dict(type='SignCTCLoss', loss_weight=1.0),
              loss_ctc_conv=dict(type='SignCTCLoss', loss_weight=1.0),
              loss_distill=dict(type='SequenceDistillLoss', temperature=8.0, loss_weight=25.0,
                                drop_blank=True, average='all_rows'))


def build_head(**kwargs):
    cfg = dict(type='MultiPathwayCTCHead', in_channels=24, num_classes=6, hidden_channels=16,
               pathway_channels=(16, 8), pathway_weights=(0.25, 0.25),
               pathway_names=('slow', 'fast'), **LOSSES)
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def samples(*targets):
    out = []
    for i, target in enumerate(targets):
        sample = ActionDataSample()
        sample.set_metainfo(dict(sample_id=f's{i}'))
        sample.set_field(torch.tensor(target), 'gt_glosses')
        out.append(sample)
    return out


def spec_head_loss(out: CTCHeadOutputs, targets) -> torch.Tensor:
    """1.0 CTC(seq) + 1.0 CTC(conv) + 25 KD(conv, stopgrad(seq)): CTC the batch mean of the
    per-sample negative log likelihood; KD tau^2 KL(p_seq || q_conv) at tau 8 over the
    non-blank classes, summed over all rows and divided by their count."""
    flat = torch.cat([torch.tensor(t) for t in targets])
    lengths = [len(t) for t in targets]

    def ctc(logits):
        return F.ctc_loss(logits.log_softmax(-1), flat, out.lengths, lengths,
                          reduction='none').mean()

    p = (out.seq_logits[..., 1:] / 8).softmax(-1)
    log_q = (out.conv_logits[..., 1:] / 8).log_softmax(-1)
    kl = (p * (p.log() - log_q)).sum() / (out.seq_logits.shape[0] * out.seq_logits.shape[1])
    return ctc(out.seq_logits) + ctc(out.conv_logits) + 25 * 64 * kl


def test_weighted_loss_is_the_spec_sum_over_three_heads():
    head = build_head().train()
    feats = torch.randn(2, 24, 40)
    targets = [[1, 2, 3], [4, 5]]
    out = head.forward_padded(feats, [40, 32])
    assert len(out.pathways) == 2
    losses = head.loss(out, samples(*targets))
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    expected = (spec_head_loss(CTCHeadOutputs(*out[:3]), targets)
                + 0.25 * spec_head_loss(out.pathways[0], targets)
                + 0.25 * spec_head_loss(out.pathways[1], targets))
    torch.testing.assert_close(total, expected, rtol=1e-5, atol=1e-5)
    assert set(losses) == {'loss_ctc_seq', 'loss_ctc_conv', 'loss_distill', 'ctc_excluded'} | {
        f'{k}_{p}' for k in ('loss_ctc_seq', 'loss_ctc_conv', 'loss_distill')
        for p in ('slow', 'fast')}
    # The pathway heads learn: their parameters get gradients from the weighted loss.
    total.backward()
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_pathway_heads_see_only_their_channels_and_run_only_in_training():
    head = build_head(lstm_dropout=0.0).train()  # no random dropout between the runs
    feats = torch.randn(2, 24, 24)
    out = head.forward_padded(feats, [24, 20])
    for sub, group, pathway in zip(head.pathway_heads, feats.split((16, 8), 1), out.pathways):
        assert isinstance(sub, SignCTCHead)
        alone = SignCTCHead.forward_padded(sub, group, [24, 20])
        torch.testing.assert_close(pathway.seq_logits, alone.seq_logits)
    fused = SignCTCHead.forward_padded(head, feats, [24, 20])
    torch.testing.assert_close(out.seq_logits, fused.seq_logits)
    head.eval()
    with torch.no_grad():
        evaluated = head.forward_padded(feats, [24, 20])
    assert evaluated.pathways == ()
    assert evaluated.seq_logits.shape == (3, 2, 6) and evaluated.lengths == [3, 2]
    # The fused head's names are a SignCTCHead's (export, decoding, converters).
    names = {k for k in head.state_dict() if not k.startswith('pathway_heads.')}
    assert names == set(SignCTCHead(24, 6, hidden_channels=16).state_dict())


def test_settings_are_checked():
    with pytest.raises(ValueError, match='add up to the 24'):
        build_head(pathway_channels=(16, 4))
    with pytest.raises(ValueError, match='pathway_weights'):
        build_head(pathway_weights=(0.25, ))
    head = build_head(pathway_weights=None, pathway_names=None)
    assert head.pathway_weights == (0.25, 0.25) and head.pathway_names == ('pathway0',
                                                                          'pathway1')
    head.eval()
    with pytest.raises(RuntimeError, match='training mode'):
        head.loss(head.forward_padded(torch.randn(1, 24, 20), [20]), samples([1]))
