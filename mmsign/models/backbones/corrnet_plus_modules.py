"""CorrNet+'s correlation module (``LINEAGE_SPEC.md``, 2024).

After stage ``k`` of CorrNet's 3-D ResNet (``C`` channels, ``n`` = 1, 3, 5 neighbours on
each side after layers 2, 3, 4), on the frames ``x_t`` of a video::

    q_t = w0 mean_HW(x_t) + w1 max_HW(x_t) + w2 AttentionPool(x_t)      # [C], w = 1/3 each
    x2 = key_proj(x)                                                    # 1x1x1 conv, C -> C
    keys of t: u_j x2[t + j, :, p] for j = -n..n, j != 0, every position p   # L = 2n H W
               (zero frames beyond the video; u = 1/(2n) each)
    f_t = sum_l k_l (sigmoid(q_t . k_l) - 1/2)                          # [C]
    Corr(x)[t] = f_t (broadcast over H, W) * identification(x)[t]       # CorrNet's gate

:class:`FrameQuery` computes ``q``, :class:`AttentionPool` its attention-pooled part,
:class:`MultiNeighbourCorrelation` ``f`` and :class:`MultiNeighbourCorrelationIdentification`
the gated product, which the backbone adds as ``x + alpha_k * Corr(x)``. The temporal
weighting that follows is :class:`~.emphasis_modules.TemporalEmphasis` with dilations 1, 2, 3.
"""
import math
from typing import List

import torch
from mmaction.registry import MODELS
from torch import Tensor, nn

from .corrnet_modules import FrameConv3d, IdentificationModule, TemporalSegments


class AttentionPool(nn.Module):
    """One learnable query attends (one head) over the ``H * W`` positions of a frame.

    ``out = out_proj(softmax(k_proj(x) q_proj(query) / sqrt(C)) v_proj(x))`` with separate
    ``C -> C`` projections (PyTorch's default initialisation), the query drawn uniformly
    from ``[0, 1)``, no positional embedding.

    Args:
        channels (int): ``C``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.rand(channels))
        self.q_proj = nn.Linear(channels, channels)
        self.k_proj = nn.Linear(channels, channels)
        self.v_proj = nn.Linear(channels, channels)
        self.out_proj = nn.Linear(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C, H, W]`` frames -> ``[N, C]``, one pooled vector per frame."""
        tokens = x.flatten(2).transpose(1, 2)                                # [N, HW, C]
        query = self.q_proj(self.query) / math.sqrt(x.shape[1])              # [C]
        attention = torch.softmax(self.k_proj(tokens) @ query, dim=1)        # [N, HW]
        pooled = (attention.unsqueeze(1) @ self.v_proj(tokens)).squeeze(1)   # [N, C]
        return self.out_proj(pooled)


class FrameQuery(nn.Module):
    """A frame's query: ``w0 * mean + w1 * max + w2 * AttentionPool`` over its positions.

    Args:
        channels (int): ``C``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.attention_pool = AttentionPool(channels)
        # (mean, max, attention): the release's weights4.
        self.pooling_weights = nn.Parameter(torch.full((3, ), 1 / 3))

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C, H, W]`` frames -> ``[N, C]`` queries."""
        mean, peak = x.mean(dim=(2, 3)), x.flatten(2).amax(dim=2)
        w = self.pooling_weights
        return w[0] * mean + w[1] * peak + w[2] * self.attention_pool(x)


class MultiNeighbourCorrelation(nn.Module):
    """Each frame's query against every position of its ``2n`` neighbour frames.

    ``f_t = sum_{j, p} u_j x2[t+j, :, p] (sigmoid(u_j q_t . x2[t+j, :, p]) - 1/2)``, the
    neighbours ``t + j`` for ``j = -n..n`` without 0, zero beyond the video's ends (so
    they add nothing).

    Args:
        channels (int): ``C``.
        neighbours (int): ``n``, frames on each side.
    """

    def __init__(self, channels: int, neighbours: int) -> None:
        super().__init__()
        if neighbours < 1:
            raise ValueError(f'neighbours={neighbours}: at least 1 frame on each side')
        self.neighbours = int(neighbours)
        self.query = FrameQuery(channels)
        self.key_proj = FrameConv3d(channels, channels, 1)
        # Offsets -n..-1, 1..n in this order: the release's weights2.
        self.offset_weights = nn.Parameter(torch.full((2 * neighbours, ), 1 / (2 * neighbours)))

    @property
    def offsets(self) -> List[int]:
        """Frame offsets ``j`` of the keys, in the order of ``offset_weights``."""
        n = self.neighbours
        return [j for j in range(-n, n + 1) if j]

    def forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        """``[N, C, H, W]`` frames -> ``[N, C]`` correlation features ``f``."""
        query = self.query(x).unsqueeze(1)                                   # [N, 1, C]
        projected = self.key_proj(x)
        features = x.new_zeros(x.shape[:2])
        for weight, offset in zip(self.offset_weights, self.offsets):
            keys = weight * segments.shifted(projected, offset).flatten(2)   # [N, C, HW]
            gates = torch.sigmoid(query @ keys) - 0.5                        # [N, 1, HW]
            features = features + (keys @ gates.transpose(1, 2)).squeeze(2)
        return features


@MODELS.register_module()
class MultiNeighbourCorrelationIdentification(nn.Module):
    """CorrNet+'s correlation module (the release's ``Get_Correlation``): the features
    ``f_t`` of :class:`MultiNeighbourCorrelation`, broadcast over the frame's positions and
    gated by CorrNet's :class:`IdentificationModule`.

    The released module also builds a 1x1x1 MLP and a 3-vector that its forward never
    uses; they are not built here (the converter drops them).

    Args:
        channels (int): ``C``, a multiple of 16.
        neighbours (int): ``n`` frames on each side: 1, 3, 5 after layers 2, 3, 4.
    """

    def __init__(self, channels: int, neighbours: int = 1) -> None:
        super().__init__()
        self.correlation = MultiNeighbourCorrelation(channels, neighbours)
        self.identification = IdentificationModule(channels)

    def forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        """``[N, C, H, W]`` frames -> the term the backbone mixes in with its alpha."""
        features = self.correlation(x, segments)
        return features[:, :, None, None] * self.identification(x, segments)
