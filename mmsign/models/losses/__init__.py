"""Losses: CTC and sequence distillation."""
from mmsign.models.losses.ctc_loss import SignCTCLoss, min_ctc_input_length
from mmsign.models.losses.distill_loss import SequenceDistillLoss

__all__ = ['SignCTCLoss', 'SequenceDistillLoss', 'min_ctc_input_length']
