"""SEN's self-emphasizing modules (``LINEAGE_SPEC.md``, AAAI 2023).

Inside every residual block of CorrNet's 3-D ResNet-18, on ``y = relu(bn1(conv1(x)))`` of
``C`` channels (``r = C / 16``)::

    SSEM(y) = alpha_s * y * (sigmoid(expand(sum_i w_i agg_i(reduce(y)))) - 1/2)
              # reduce / expand: 1x1x1 convs with bias; agg_i: depthwise (9, 3, 3),
              # spatial dilation i = 1, 2, 3; w = 1/3 each; alpha_s starts at 1
    TSEM(y) = alpha_t * y * (sigmoid(expand(sum_i v_i agg_i(reduce(mean_HW(y))))) - 1/2)
              # reduce / expand: 1x1 Conv1d with bias; agg_i: depthwise k3 Conv1d of
              # dilation i = 1..5; v = 1/5 each; alpha_t starts at 0
    y <- y + SSEM(y) + TSEM(y)

:class:`SpatialEmphasis` is CorrNet's identification map (with biases) times its input;
:class:`TemporalEmphasis` with dilations 1, 2, 3 is also CorrNet+'s temporal weighting.
Both carry their own ``alpha`` (``mixed = False``: the backbone adds them unscaled). Every
temporal convolution runs per video, zero-padded beyond each video's ends.
"""
from typing import Sequence

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import Tensor, nn

from .corrnet_modules import IdentificationModule, TemporalSegments


@MODELS.register_module()
class SpatialEmphasis(IdentificationModule):
    """SEN's spatial self-emphasizing module (SSEM): ``alpha_s * y * gate(y)``.

    The gate is :class:`IdentificationModule`'s ``sigmoid(g) - 1/2`` with biased 1x1x1
    convolutions; its convolutions take the backbone's kaiming initialisation.

    Args:
        channels (int): ``C``, a multiple of 16.
    """

    #: Weighted by its own ``alpha`` (the backbone adds the term unscaled).
    mixed = False

    def __init__(self, channels: int) -> None:
        super().__init__(channels, bias=True)
        self.alpha = nn.Parameter(torch.ones(1))

    def forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        """``[N, C, H, W]`` frames -> the term to add, same shape."""
        return self.alpha * x * super().forward(x, segments)


@MODELS.register_module()
class TemporalEmphasis(nn.Module):
    """SEN's temporal self-emphasizing module (TSEM), CorrNet+'s temporal weighting.

    One weight per channel and frame from the frame's spatial mean, through dilated
    depthwise temporal convolutions over the video, broadcast over ``H, W``. The Conv1d
    layers keep PyTorch's default initialisation (as released); ``alpha`` starts at 0, so
    the module starts as no change.

    Args:
        channels (int): ``C``, a multiple of 16.
        dilations (Sequence[int]): Dilation (= padding) of each k3 depthwise convolution:
            ``(1, 2, 3, 4, 5)`` in SEN, ``(1, 2, 3)`` in CorrNet+.
    """

    #: Weighted by its own ``alpha`` (the backbone adds the term unscaled).
    mixed = False

    def __init__(self, channels: int, dilations: Sequence[int] = (1, 2, 3, 4, 5)) -> None:
        super().__init__()
        if channels % 16:
            raise ValueError(f'the temporal emphasis needs a multiple of 16 channels, got '
                             f'{channels}')
        reduced = channels // 16
        self.dilations = tuple(int(d) for d in dilations)
        self.reduce = nn.Conv1d(channels, reduced, 1)
        self.aggregations = nn.ModuleList(
            nn.Conv1d(reduced, reduced, 3, padding=d, dilation=d, groups=reduced)
            for d in self.dilations)
        self.aggregation_weights = nn.Parameter(
            torch.full((len(self.dilations), ), 1 / len(self.dilations)))
        self.expand = nn.Conv1d(reduced, channels, 1)
        self.alpha = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        """``[N, C, H, W]`` frames -> the term to add, same shape."""
        pooled = x.mean(dim=(2, 3))                                           # [N, C]
        reduced = F.linear(pooled, self.reduce.weight[..., 0], self.reduce.bias)  # [N, r]
        aggregated = sum(weight * y for weight, y in zip(
            self.aggregation_weights, segments.temporal_conv(self.aggregations, reduced)))
        gate = torch.sigmoid(F.linear(aggregated, self.expand.weight[..., 0],
                                      self.expand.bias)) - 0.5                 # [N, C]
        return self.alpha * x * gate[:, :, None, None]
