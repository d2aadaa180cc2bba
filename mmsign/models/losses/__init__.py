"""Losses: CTC, sequence distillation and the lift pooling losses."""
from mmsign.models.losses.ctc_loss import SignCTCLoss, min_ctc_input_length
from mmsign.models.losses.distill_loss import SequenceDistillLoss
from mmsign.models.losses.lift_loss import LiftingLoss

__all__ = ['LiftingLoss', 'SignCTCLoss', 'SequenceDistillLoss', 'min_ctc_input_length']
