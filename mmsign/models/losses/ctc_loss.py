"""CTC loss as AdaptSign trains it: per-sample loss averaged over the batch."""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import Tensor, nn


def min_ctc_input_length(target: Sequence[int]) -> int:
    """Fewest frames a CTC alignment of ``target`` needs.

    Every label takes a frame, and a blank must separate two equal neighbours.

    Args:
        target (Sequence[int]): Label ids (no blanks).

    Returns:
        int: ``len(target)`` plus the number of positions equal to their predecessor.
    """
    repeats = sum(1 for a, b in zip(target[:-1], target[1:]) if a == b)
    return len(target) + repeats


@MODELS.register_module()
class SignCTCLoss(nn.Module):
    """Connectionist temporal classification loss on logits, blank 0.

    ``loss = loss_weight * mean_b CTC_b`` where ``CTC_b`` is the negative log likelihood
    of sample b's label sequence under ``log_softmax(logits)``; no division by the target
    length (the released code's ``reduction='none'`` followed by ``.mean()``).

    Args:
        loss_weight (float): Factor on the batch mean. Defaults to 1.0.
        blank (int): Index of the blank class. Defaults to 0.
    """

    def __init__(self, loss_weight: float = 1.0, blank: int = 0) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.blank = blank

    def forward(self, logits: Tensor, targets: Sequence[Tensor],
                input_lengths: Sequence[int]) -> Tensor:
        """Compute the weighted batch-mean CTC loss.

        Args:
            logits (Tensor): ``(T, B, C)`` unnormalised class scores.
            targets (Sequence[Tensor]): B label sequences ``(L_b,)`` of ids in
                ``1..C-1``; kept on the host is best (they are copied to the device once).
            input_lengths (Sequence[int]): Valid frames of each sample, ``<= T``.

        Returns:
            Tensor: Scalar loss. Infinite when a sample cannot be aligned (fewer frames
            than :func:`min_ctc_input_length`); callers filter such samples beforehand.
        """
        if logits.shape[1] != len(targets) or len(targets) != len(input_lengths):
            raise ValueError(f'{logits.shape[1]} logit sequences, {len(targets)} targets '
                             f'and {len(input_lengths)} lengths do not match')
        log_probs = logits.float().log_softmax(-1)
        target_lengths: List[int] = [int(t.numel()) for t in targets]
        flat = torch.cat([t.reshape(-1) for t in targets]).to(
            device=logits.device, dtype=torch.long, non_blocking=True)
        per_sample = F.ctc_loss(log_probs, flat, list(input_lengths), target_lengths,
                                blank=self.blank, reduction='none', zero_infinity=False)
        return self.loss_weight * per_sample.mean()
