import math

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.model import BaseModel

from mmsign.models.heads import CTCHeadOutputs
from mmsign.models.losses import SequenceDistillLoss, SignCTCLoss, min_ctc_input_length

T, B, C = 6, 2, 5



def fixed_logits(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, B, C, generator=g) * 2


def test_ctc_loss_equals_direct_ctc_loss_batch_mean():
    logits = fixed_logits()
    targets = [torch.tensor([1, 2, 2]), torch.tensor([4])]
    lengths = [6, 4]
    loss = SignCTCLoss(loss_weight=0.5)(logits, targets, lengths)
    per_sample = [
        F.ctc_loss(logits[:n, b:b + 1].log_softmax(-1), t[None], [n], [len(t)], blank=0,
                   reduction='sum')
        for b, (t, n) in enumerate(zip(targets, lengths))
    ]
    # mean over the batch, no division by the target length
    torch.testing.assert_close(loss, 0.5 * (per_sample[0] + per_sample[1]) / 2)


def test_ctc_loss_matches_enumeration_of_alignments():
    # one sample, T=3, target [1]: sum over paths collapsing to [1]
    logits = fixed_logits()[:3, :1]
    lp = logits.log_softmax(-1)[:, 0]
    paths = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0, 1, 1), (1, 1, 1)]
    nll = -torch.logsumexp(torch.stack([sum(lp[t, k] for t, k in enumerate(p))
                                        for p in paths]), 0)
    torch.testing.assert_close(SignCTCLoss()(logits, [torch.tensor([1])], [3]), nll)


def test_min_ctc_input_length_counts_repeats():
    assert min_ctc_input_length([]) == 0
    assert min_ctc_input_length([1, 2, 3]) == 3
    assert min_ctc_input_length([1, 1, 2, 2, 2]) == 8


def test_distill_loss_equals_released_kl_div_batchmean():
    student, teacher = fixed_logits(1), fixed_logits(2)
    loss = SequenceDistillLoss(temperature=8.0, loss_weight=25.0)(student, teacher)
    log_q = F.log_softmax(student[:, :, 1:] / 8, dim=-1).view(-1, C - 1)
    p = F.softmax(teacher[:, :, 1:] / 8, dim=-1).view(-1, C - 1)
    expected = 25.0 * F.kl_div(log_q, p, reduction='batchmean') * 64
    torch.testing.assert_close(loss, expected)
    # and by hand: mean over all T*B rows of sum_c p (log p - log q)
    by_hand = (p * (p.log() - log_q)).sum(-1).mean() * 64 * 25
    torch.testing.assert_close(loss, by_hand)


def test_distill_loss_valid_rows_average_and_stop_gradient():
    student = fixed_logits(1).requires_grad_()
    teacher = fixed_logits(2).requires_grad_()
    lengths = [6, 2]
    loss = SequenceDistillLoss(temperature=2.0, loss_weight=1.0, drop_blank=False,
                               average='valid_rows')(student, teacher, lengths)
    log_q = F.log_softmax(student / 2, -1)
    p = F.softmax(teacher / 2, -1)
    kl = (p * (p.log() - log_q)).sum(-1)
    expected = 4 * (kl[:6, 0].sum() + kl[:2, 1].sum()) / 8
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert teacher.grad is None  # the teacher is detached
    assert student.grad.abs().sum() > 0


def head_with_default_losses():
    return MODELS.build(dict(type='SignCTCHead', in_channels=4, num_classes=C,
                             hidden_channels=8,
                             loss_distill=dict(type='SequenceDistillLoss')))


def sample(sid, glosses):
    s = ActionDataSample()
    s.set_metainfo(dict(sample_id=sid))
    s.gt_glosses = torch.tensor(glosses)
    return s


def test_head_loss_keys_sum_to_the_total():
    head = head_with_default_losses()
    seq, conv = fixed_logits(3), fixed_logits(4)
    samples = [sample('a', [1, 2]), sample('b', [3])]
    losses = head.loss(CTCHeadOutputs(seq, conv, [6, 5]), samples)
    assert set(losses) == {'loss_ctc_seq', 'loss_ctc_conv', 'loss_distill', 'ctc_excluded'}
    total, log_vars = BaseModel.parse_losses(None, losses)
    expected = (SignCTCLoss()(seq, [s.gt_glosses for s in samples], [6, 5])
                + SignCTCLoss()(conv, [s.gt_glosses for s in samples], [6, 5])
                + SequenceDistillLoss()(conv, seq))
    torch.testing.assert_close(total, expected)
    assert log_vars['ctc_excluded'] == 0


def test_head_loss_leaves_out_and_reports_videos_too_short(mm_log):
    head = head_with_default_losses()
    seq, conv = fixed_logits(3), fixed_logits(4)
    # sample 'short': 3 output frames for [2, 2] needs 3 -> fine; [1, 1, 1] needs 5
    samples = [sample('fine', [2, 2]), sample('short/01April_2010', [1, 1, 1])]
    losses = head.loss(CTCHeadOutputs(seq, conv, [3, 3]), samples)
    assert all(math.isfinite(float(v)) for v in losses.values())
    assert float(losses['ctc_excluded']) == 1
    torch.testing.assert_close(losses['loss_ctc_seq'],
                               SignCTCLoss()(seq[:, :1], [torch.tensor([2, 2])], [3]))
    assert 'short/01April_2010' in mm_log.getvalue()
    # without the filter this batch's CTC loss is infinite
    assert math.isinf(float(SignCTCLoss()(seq, [s.gt_glosses for s in samples], [3, 3])))


def test_head_loss_with_every_video_too_short_is_zero_with_a_graph():
    head = head_with_default_losses()
    seq = fixed_logits(3).requires_grad_()
    losses = head.loss(CTCHeadOutputs(seq, seq * 1, [1, 1]),
                       [sample('x', [1, 2]), sample('y', [3, 4])])
    assert losses['loss_ctc_seq'].item() == 0 and losses['loss_ctc_seq'].requires_grad
