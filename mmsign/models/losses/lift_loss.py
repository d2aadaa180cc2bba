"""The losses of temporal lift pooling (TLP): norms of the lifting residuals."""
from typing import Sequence

import torch
from mmaction.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class LiftingLoss(nn.Module):
    """Sum of the Frobenius norms of residual tensors, weighted.

    TLP's two losses are this loss on the residuals of every lift pooling layer:
    ``Cu = sum_layers ||s - x_odd||_2`` (the update) and ``Cp = sum_layers ||d||_2`` (the
    predict), each norm over the whole batch tensor ``(B, C, T // 2)``, padding positions
    included, not averaged, as the released code computes them::

        loss = loss_weight * sum_i ||residuals[i]||_F

    Args:
        loss_weight (float): Factor on the loss: 0.001 in TLP, 0.0005 in CorrNet+.
            Defaults to 0.001.
    """

    def __init__(self, loss_weight: float = 0.001) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, residuals: Sequence[Tensor]) -> Tensor:
        """Compute the weighted loss.

        Args:
            residuals (Sequence[Tensor]): One tensor per lift pooling layer, any shape.

        Returns:
            Tensor: Scalar loss (float32).
        """
        if not residuals:
            raise ValueError('the lifting loss needs the residuals of at least one lift '
                             "pooling layer: set the head's pooling='lift'")
        total = sum(torch.linalg.vector_norm(r.float()) for r in residuals)
        return self.loss_weight * total
