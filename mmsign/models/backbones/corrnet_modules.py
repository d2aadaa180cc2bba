"""CorrNet's correlation and identification modules (``CORRNET_SPEC.md``, CVPR 2023).

On a feature map ``x`` of ``C`` channels (``[B, C, T, H, W]``)::

    x2 = neighbour_proj(x)                                  # 1x1x1 conv, C -> C
    A_n[t, p, q] = <x[t, :, p], x2[t + 1, :, q]>            # every position p of frame t
    A_p[t, p, q] = <x[t, :, p], x2[t - 1, :, q]>            # against every q of a neighbour
    F[t, :, p] = w[0] sum_q x2[t+1, :, q] (sigmoid(A_n) - 1/2) + w[1] (same with t - 1)
    r = reduce(x)                                           # 1x1x1 conv, C -> C/16
    g = expand(sum_j v[j] aggregation_j(r))                 # (9,3,3) depthwise, dilation j
    M(x) = F * (sigmoid(g) - 1/2)

:class:`CorrelationModule` computes ``F``, :class:`IdentificationModule` the gate
``sigmoid(g) - 1/2`` and :class:`CorrelationIdentification` their product ``M``; the
backbone adds ``alpha * M(x)`` to ``x``. A frame's neighbour beyond the first or last frame
of its video is the edge frame itself; the 9-frame convolutions see zeros there.

:class:`TemporalSegments` says where the videos are on the time axis, so that several
videos packed along it (``[1, C, sum(T), H, W]``) never see each other.
"""
from typing import Sequence, Tuple

import torch
from torch import Tensor, nn

AFFINITY_DTYPES = ('auto', 'input', 'bfloat16')

#: Frames the identification module's (9, 3, 3) convolutions reach on each side.
TEMPORAL_REACH = 4


class TemporalSegments:
    """The videos on a time axis: one video of ``T`` frames per batch row (``[B, C, T, H,
    W]``), or several videos packed one after another in a single row (``[1, C, sum(T),
    H, W]``).

    The index tensors are built on the host once per forward and shared by every module.

    Args:
        lengths (Sequence[int]): Frames of each video along the time axis.
        device (torch.device): Where the index tensors live.
    """

    def __init__(self, lengths: Sequence[int], device: torch.device) -> None:
        self.lengths: Tuple[int, ...] = tuple(int(n) for n in lengths)
        if not self.lengths or min(self.lengths) < 1:
            raise ValueError(f'every video needs at least one frame, got {self.lengths}')
        self.single = len(self.lengths) == 1
        if self.single:  # the direct form: nothing to index
            return
        total = sum(self.lengths)
        following, preceding, gapped, real = [], [], [], []
        start = 0
        for length in self.lengths:
            frames = range(start, start + length)
            following += [min(t + 1, start + length - 1) for t in frames]
            preceding += [max(t - 1, start) for t in frames]
            # TEMPORAL_REACH zero frames (index ``total``) before each video and after the
            # last keep every 9-frame window inside its own video.
            gapped += [total] * TEMPORAL_REACH
            real += range(len(gapped) - TEMPORAL_REACH, len(gapped) - TEMPORAL_REACH + length)
            gapped += frames
            start += length
        gapped += [total] * TEMPORAL_REACH

        def as_index(values):
            return torch.tensor(values, dtype=torch.long).to(device, non_blocking=True)

        self.following = as_index(following)
        self.preceding = as_index(preceding)
        self.gapped = as_index(gapped)
        self.real = as_index(real)

    def neighbours(self, x: Tensor, dim: int) -> Tuple[Tensor, Tensor]:
        """The next and the previous frame of every frame, edge frames repeated.

        Args:
            x (Tensor): Frames along ``dim``.
            dim (int): The time axis.

        Returns:
            tuple[Tensor, Tensor]: ``x`` shifted one frame forward (frame ``t`` holds
            ``t + 1``) and one frame back, each inside its video.
        """
        if self.single:
            count = x.shape[dim]
            following = torch.cat([x.narrow(dim, 1, count - 1), x.narrow(dim, count - 1, 1)],
                                  dim)
            preceding = torch.cat([x.narrow(dim, 0, 1), x.narrow(dim, 0, count - 1)], dim)
            return following, preceding
        return x.index_select(dim, self.following), x.index_select(dim, self.preceding)

    def temporal_conv(self, convs: Sequence[nn.Conv3d], x: Tensor) -> Sequence[Tensor]:
        """Convolutions with a temporal kernel of ``2 * TEMPORAL_REACH + 1`` frames, each
        video zero-padded on its own.

        Args:
            convs (Sequence[nn.Conv3d]): Convolutions with temporal padding
                ``TEMPORAL_REACH`` and "same" spatial padding.
            x (Tensor): ``[B, C, T, H, W]``.

        Returns:
            list[Tensor]: Each convolution's output, shaped like ``x``.
        """
        if self.single:
            return [conv(x) for conv in convs]
        # [1, C, N, H, W] -> [1, C, N + 4 (videos + 1), H, W] with zero frames between
        # videos; the convolutions' own temporal padding is replaced by those zeros.
        padded = torch.cat([x, x.new_zeros(x.shape[:2] + (1, ) + x.shape[3:])], 2)
        gapped = padded.index_select(2, self.gapped)
        outputs = []
        for conv in convs:
            y = nn.functional.conv3d(gapped, conv.weight, conv.bias, conv.stride,
                                     (0, ) + tuple(conv.padding[1:]), conv.dilation,
                                     conv.groups)
            outputs.append(y.index_select(2, self.real))
        return outputs


class CorrelationModule(nn.Module):
    """Correlation features of each position with every position of the adjacent frames.

    ``F[t] = w[0] * x2[t+1] (sigmoid(A_n[t]) - 1/2)^T + w[1] * x2[t-1] (sigmoid(A_p[t]) -
    1/2)^T`` with ``A_n[t] = x[t]^T x2[t+1]`` (``HW x HW``) and ``x2`` the projected
    features. Computed as two batched matrix products over all frames, both neighbours at
    once, with ``sigmoid(a) - 1/2 = tanh(a / 2) / 2`` so that only one ``HW x 2HW``
    affinity per frame is kept for the backward pass.

    Args:
        channels (int): ``C``.
        affinity_dtype (str): The products' dtype: ``'auto'`` (bfloat16 on CUDA devices
            that support it, the input's dtype elsewhere), ``'input'`` or ``'bfloat16'``.
    """

    def __init__(self, channels: int, affinity_dtype: str = 'auto') -> None:
        super().__init__()
        if affinity_dtype not in AFFINITY_DTYPES:
            raise ValueError(f'affinity_dtype={affinity_dtype!r}: use one of '
                             f'{AFFINITY_DTYPES}')
        self.affinity_dtype = affinity_dtype
        self.neighbour_proj = nn.Conv3d(channels, channels, kernel_size=1, bias=False)
        # (next, previous): the release's weights2.
        self.direction_weights = nn.Parameter(torch.full((2, ), 0.5))

    def _dtype(self, x: Tensor) -> torch.dtype:
        if self.affinity_dtype == 'bfloat16' or (
                self.affinity_dtype == 'auto' and x.is_cuda and torch.cuda.is_bf16_supported()):
            return torch.bfloat16
        return x.dtype

    def forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        """``[B, C, T, H, W]`` -> correlation features ``F``, same shape and dtype."""
        batch, channels, frames, height, width = x.shape
        dtype = self._dtype(x)
        x2 = self.neighbour_proj(x)
        following, preceding = segments.neighbours(x2, dim=2)
        # [B, C, T, H, W] -> [B*T, C, HW]
        def per_frame(y: Tensor) -> Tensor:
            return y.to(dtype).transpose(1, 2).reshape(batch * frames, channels,
                                                       height * width)

        neighbours = torch.cat([per_frame(following), per_frame(preceding)], 2)  # [BT,C,2HW]
        # The 1/2 inside tanh(a / 2) goes on the (smaller) query.
        query = per_frame(x * 0.5).transpose(1, 2)                        # [BT, HW, C]
        gates = torch.tanh(torch.bmm(query, neighbours))                  # [BT, HW, 2HW]
        # ... and the outer 1/2 on the direction weights.
        scale = torch.repeat_interleave(self.direction_weights * 0.5, height * width)
        features = torch.bmm(neighbours * scale.to(dtype), gates.transpose(1, 2))
        features = features.view(batch, frames, channels, height, width).transpose(1, 2)
        return features.to(x.dtype)


class IdentificationModule(nn.Module):
    """The gate ``sigmoid(g) - 1/2`` that picks out the moving body parts.

    ``g = expand(sum_j v[j] * aggregation_j(reduce(x)))``: a 1x1x1 reduction to ``C/16``
    channels, three depthwise ``(9, 3, 3)`` convolutions of spatial dilation 1, 2, 3
    (zero-padded in time inside each video) mixed by ``v`` (initialised to 1/3), and a
    1x1x1 convolution back to ``C``.

    Args:
        channels (int): ``C``, a multiple of 16.
    """

    DILATIONS = (1, 2, 3)

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels % 16:
            raise ValueError(f'the identification module needs a multiple of 16 channels, '
                             f'got {channels}')
        reduced = channels // 16
        self.reduce = nn.Conv3d(channels, reduced, kernel_size=1, bias=False)
        self.aggregations = nn.ModuleList(
            nn.Conv3d(reduced, reduced, kernel_size=(2 * TEMPORAL_REACH + 1, 3, 3),
                      padding=(TEMPORAL_REACH, d, d), dilation=(1, d, d), groups=reduced)
            for d in self.DILATIONS)
        self.aggregation_weights = nn.Parameter(torch.full((len(self.DILATIONS), ), 1 / 3))
        self.expand = nn.Conv3d(reduced, channels, kernel_size=1, bias=False)

    def forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        """``[B, C, T, H, W]`` -> the gate in ``(-1/2, 1/2)``, same shape."""
        reduced = self.reduce(x)
        aggregated = sum(weight * y for weight, y in zip(
            self.aggregation_weights, segments.temporal_conv(self.aggregations, reduced)))
        return torch.sigmoid(self.expand(aggregated)) - 0.5


class CorrelationIdentification(nn.Module):
    """``M(x) = F(x) * gate(x)``: the correlation module's features, gated by the
    identification module (the release's ``Get_Correlation``).

    Args:
        channels (int): ``C``, a multiple of 16.
        affinity_dtype (str): See :class:`CorrelationModule`.
    """

    def __init__(self, channels: int, affinity_dtype: str = 'auto') -> None:
        super().__init__()
        self.correlation = CorrelationModule(channels, affinity_dtype)
        self.identification = IdentificationModule(channels)

    def forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        """``[B, C, T, H, W]`` -> ``M(x)``, same shape."""
        return self.correlation(x, segments) * self.identification(x, segments)
