"""Sequence distillation from the BiLSTM branch into the convolution branch."""
from typing import Optional, Sequence

import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import Tensor, nn

AVERAGES = ('all_rows', 'valid_rows')


@MODELS.register_module()
class SequenceDistillLoss(nn.Module):
    """KL divergence of the student's tempered class distribution from the teacher's.

    Per row (one time step of one video), with temperature ``tau`` and the blank column
    dropped from both (``drop_blank``)::

        p = softmax(teacher / tau)               # no gradient: the teacher is detached
        log q = log_softmax(student / tau)
        kl = sum_c p_c * (log p_c - log q_c)

    and ``loss = loss_weight * tau**2 * average(kl)``.

    ``average='all_rows'`` (default, the released code's quirk) divides the sum over all
    ``T x B`` rows by ``T * B``, padded rows beyond a video's length included.
    ``average='valid_rows'`` sums only the first ``lengths[b]`` rows of each video and
    divides by ``sum(lengths)``.

    Args:
        temperature (float): ``tau``. Defaults to 8.0.
        loss_weight (float): Factor on the loss. Defaults to 25.0.
        drop_blank (bool): Leave class 0 out of both distributions. Defaults to True.
        average (str): ``'all_rows'`` or ``'valid_rows'``. Defaults to ``'all_rows'``.
    """

    def __init__(self, temperature: float = 8.0, loss_weight: float = 25.0,
                 drop_blank: bool = True, average: str = 'all_rows') -> None:
        super().__init__()
        if average not in AVERAGES:
            raise ValueError(f'average must be one of {AVERAGES}, got {average!r}')
        self.temperature = temperature
        self.loss_weight = loss_weight
        self.drop_blank = drop_blank
        self.average = average

    def forward(self, student: Tensor, teacher: Tensor,
                lengths: Optional[Sequence[int]] = None) -> Tensor:
        """Compute the weighted distillation loss.

        Args:
            student (Tensor): ``(T, B, C)`` logits that learn (the conv branch).
            teacher (Tensor): ``(T, B, C)`` logits to imitate (the sequence branch);
                detached here.
            lengths (Sequence[int], optional): Valid rows of each video; required for
                ``average='valid_rows'``.

        Returns:
            Tensor: Scalar loss.
        """
        if student.shape != teacher.shape:
            raise ValueError(f'student {tuple(student.shape)} and teacher '
                             f'{tuple(teacher.shape)} logits differ in shape')
        start = 1 if self.drop_blank else 0
        tau = self.temperature
        log_q = (student[..., start:].float() / tau).log_softmax(-1)
        p = (teacher.detach()[..., start:].float() / tau).softmax(-1)
        if self.average == 'all_rows':
            total = F.kl_div(log_q, p, reduction='sum')
            rows = student.shape[0] * student.shape[1]
        else:
            if lengths is None:
                raise ValueError("average='valid_rows' needs the valid lengths")
            kl = F.kl_div(log_q, p, reduction='none').sum(-1)  # (T, B)
            total = sum(kl[:length, b].sum() for b, length in enumerate(lengths))
            rows = sum(lengths)
        return self.loss_weight * tau * tau * total / rows
