"""CorrNet's correlation and identification modules (``CORRNET_SPEC.md``, CVPR 2023).

On the feature maps ``x`` of ``C`` channels of a video's frames ``t``::

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

:class:`TemporalSegments` says where the videos are among the frames (``[N, C, H, W]``,
the layout of every layer here), so that videos of a batch never see each other.
"""
from typing import Dict, List, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import Tensor, nn

from mmsign.utils.lengths import host_lengths

AFFINITY_DTYPES = ('auto', 'input', 'bfloat16')

#: Frames the identification module's (9, 3, 3) convolutions reach on each side.
TEMPORAL_REACH = 4


class FrameConv3d(nn.Conv3d):
    """A Conv3d of time kernel 1 run on frames: ``[N, C, H, W]`` -> ``[N, C', H', W']``.

    Its weight keeps the 3-D shape ``[C', C, 1, k, k]`` (the released checkpoints' and the
    inflated ImageNet kernels'); with a time kernel of 1 the 3-D convolution is exactly a
    2-D one on every frame, which is how it runs (the same kernels as torchvision's ResNet,
    and no time axis to move around).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, groups: int = 1,
                 bias: bool = False) -> None:
        super().__init__(in_channels, out_channels, (1, kernel, kernel), (1, stride, stride),
                         (0, padding, padding), (1, dilation, dilation), groups, bias)

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C, H, W]`` frames -> ``[N, C', H', W']``."""
        return F.conv2d(x, self.weight.squeeze(2), self.bias, self.stride[1:],
                        self.padding[1:], self.dilation[1:], self.groups)


class FrameBatchNorm3d(nn.BatchNorm3d):
    """BatchNorm3d on frames ``[N, C, H, W]``: the statistics of a ``[B, C, T, H, W]``
    batch are those of its ``B * T`` frames."""

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f'expected frames [N, C, H, W], got {x.dim()}-D input')


class TemporalSegments:
    """Where the videos are among ``N`` frames ``[N, ...]``: ``B`` videos of ``T`` frames
    each (``N = B * T``), or videos of any lengths one after another.

    Every module added to the trunk gets one and asks it for temporal neighbours and
    temporal convolutions, so that videos of a batch never see each other. Equal lengths
    use the direct form (shifts and padded convolutions on ``[B, T, ...]`` views, as the
    released code computes its padded batch) unless ``packed=True``; other lengths index
    the frames, with index tensors built on the host once per forward and shared by every
    module.

    Args:
        lengths (Sequence[int]): Frames of each video, in order.
        device (torch.device): Where the index tensors live.
        packed (bool): Index the frames even when all lengths are equal.
    """

    #: The widest temporal reach (frames on each side) of a convolution it runs.
    MAX_REACH = 8

    def __init__(self, lengths: Sequence[int], device: torch.device,
                 packed: bool = False) -> None:
        self.lengths: Tuple[int, ...] = host_lengths(lengths)
        if not self.lengths or min(self.lengths) < 1:
            raise ValueError(f'every video needs at least one frame, got {self.lengths}')
        self.device = device
        self.uniform = len(set(self.lengths)) == 1 and not packed
        self._shift_index: Dict[int, Tensor] = {}
        self._real_index: Dict[int, Tensor] = {}
        if self.uniform:  # the direct form: nothing to index
            return
        total = sum(self.lengths)
        gapped, real = [], []
        start = 0
        for length in self.lengths:
            # MAX_REACH zero frames (index ``total``) before each video and after the last
            # keep every window of a convolution inside its own video.
            gapped += [total] * self.MAX_REACH
            real += range(len(gapped), len(gapped) + length)
            gapped += range(start, start + length)
            start += length
        gapped += [total] * self.MAX_REACH
        self.following = self._index(self._offset_frames(1, clamp=True))
        self.preceding = self._index(self._offset_frames(-1, clamp=True))
        self.gapped = self._index(gapped)
        self.real = real

    def _index(self, values: Sequence[int]) -> Tensor:
        return torch.tensor(values, dtype=torch.long).to(self.device, non_blocking=True)

    def _offset_frames(self, offset: int, clamp: bool) -> List[int]:
        """Index of frame ``t + offset`` of the same video for every frame: the edge frame
        where it falls outside (``clamp``), else ``N`` (a zero frame appended)."""
        total, start, index = sum(self.lengths), 0, []
        for length in self.lengths:
            for t in range(start, start + length):
                inside = start <= t + offset < start + length
                index.append(t + offset if inside else
                             min(max(t + offset, start), start + length - 1) if clamp else
                             total)
            start += length
        return index

    def neighbours(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """The next and the previous frame of every frame, edge frames repeated.

        Args:
            x (Tensor): ``[N, ...]`` frames.

        Returns:
            tuple[Tensor, Tensor]: ``x`` shifted one frame forward (frame ``t`` holds
            ``t + 1``) and one frame back, each inside its video.
        """
        if not self.uniform:
            return x.index_select(0, self.following), x.index_select(0, self.preceding)
        videos = x.view(len(self.lengths), self.lengths[0], *x.shape[1:])
        following = torch.cat([videos[:, 1:], videos[:, -1:]], 1)
        preceding = torch.cat([videos[:, :1], videos[:, :-1]], 1)
        return following.view_as(x), preceding.view_as(x)

    def shifted(self, x: Tensor, offset: int) -> Tensor:
        """Frame ``t + offset`` of the same video for every frame ``t``, zeros where
        that frame is outside the video.

        Args:
            x (Tensor): ``[N, ...]`` frames.
            offset (int): Frames forward (negative: back).

        Returns:
            Tensor: ``[N, ...]``.
        """
        if self.uniform:
            videos = x.view(len(self.lengths), -1, *x.shape[1:])
            if abs(offset) >= self.lengths[0]:
                return torch.zeros_like(x)
            # Slices relative to the ends, so that an exported graph keeps T dynamic.
            if offset >= 0:
                out = torch.cat([videos[:, offset:], torch.zeros_like(videos[:, :offset])], 1)
            else:
                out = torch.cat([torch.zeros_like(videos[:, offset:]), videos[:, :offset]], 1)
            return out.view_as(x)
        if offset not in self._shift_index:
            self._shift_index[offset] = self._index(self._offset_frames(offset, clamp=False))
        padded = torch.cat([x, x.new_zeros((1, ) + x.shape[1:])])
        return padded.index_select(0, self._shift_index[offset])

    def has_next(self) -> Tensor:
        """``[N]`` bool: whether each frame has a following frame in its video."""
        return self._has(1)

    def has_previous(self) -> Tensor:
        """``[N]`` bool: whether each frame has a preceding frame in its video."""
        return self._has(-1)

    def _has(self, offset: int) -> Tensor:
        if self.uniform:  # tensor arithmetic: dynamic in an exported graph
            frames = self.lengths[0]
            position = torch.arange(len(self.lengths) * frames, device=self.device) % frames
            return (position + offset >= 0) & (position + offset < frames)
        mask, start = [], 0
        for length in self.lengths:
            mask += [start <= t + offset < start + length
                     for t in range(start, start + length)]
            start += length
        return torch.tensor(mask, dtype=torch.bool).to(self.device, non_blocking=True)

    def temporal_conv(self, convs: Sequence[Union[nn.Conv1d, nn.Conv3d]],
                      x: Tensor) -> List[Tensor]:
        """Temporal convolutions run inside each video, zero-padded on its own.

        Args:
            convs (Sequence[nn.Conv1d | nn.Conv3d]): Convolutions whose temporal padding
                equals their temporal reach ``dilation * (kernel - 1) / 2`` (at most
                :attr:`MAX_REACH`), "same" spatial padding for Conv3d. Conv3d runs on
                frames ``[N, C, H, W]``, Conv1d on per-frame vectors ``[N, C]``.
            x (Tensor): ``[N, C, H, W]`` or ``[N, C]``.

        Returns:
            list[Tensor]: Each convolution's output, ``[N, C', ...]``.
        """
        for conv in convs:
            reach = conv.dilation[0] * (conv.kernel_size[0] - 1) // 2
            if conv.padding[0] != reach or reach > self.MAX_REACH:
                raise ValueError(f'{conv}: temporal padding must equal the temporal reach '
                                 f'(at most {self.MAX_REACH} frames)')
        if self.uniform:
            batch, frames = len(self.lengths), self.lengths[0]
            videos = x.view(batch, frames, *x.shape[1:]).transpose(1, 2)  # [B, C, T, ...]
            return [conv(videos).transpose(1, 2).reshape(x.shape[0], -1, *x.shape[2:])
                    for conv in convs]
        # [N + 1, C, ...] (a zero frame last) -> [1, C, N + gaps, ...] with zero frames
        # between videos, which replace the convolutions' temporal padding.
        padded = torch.cat([x, x.new_zeros((1, ) + x.shape[1:])])
        gapped = padded.index_select(0, self.gapped).transpose(0, 1).unsqueeze(0)
        conv_fn = F.conv3d if x.dim() == 4 else F.conv1d
        outputs = []
        for conv in convs:
            reach = conv.padding[0]
            # Output p of an unpadded convolution is centred on input p + reach.
            if reach not in self._real_index:
                self._real_index[reach] = self._index([g - reach for g in self.real])
            y = conv_fn(gapped, conv.weight, conv.bias, conv.stride,
                        (0, ) + tuple(conv.padding[1:]), conv.dilation, conv.groups)
            outputs.append(y[0].index_select(1, self._real_index[reach]).transpose(0, 1))
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
        self.neighbour_proj = FrameConv3d(channels, channels, 1)
        # (next, previous): the release's weights2.
        self.direction_weights = nn.Parameter(torch.full((2, ), 0.5))

    def product_dtype(self, x: Tensor) -> torch.dtype:
        """The dtype the affinity products run in for input ``x``."""
        if self.affinity_dtype == 'bfloat16' or (
                self.affinity_dtype == 'auto' and x.is_cuda and torch.cuda.is_bf16_supported()):
            return torch.bfloat16
        return x.dtype

    def forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        """``[N, C, H, W]`` frames -> correlation features ``F``, same shape and dtype."""
        dtype = self.product_dtype(x)
        following, preceding = segments.neighbours(self.neighbour_proj(x))
        neighbours = torch.cat([following.flatten(2), preceding.flatten(2)], 2).to(dtype)
        # The 1/2 inside tanh(a / 2) goes on the query, [N, HW, C] ...
        query = (x.flatten(2) * 0.5).to(dtype).transpose(1, 2)
        gates = torch.tanh(torch.bmm(query, neighbours))                  # [N, HW, 2HW]
        # ... and the outer 1/2 on the direction weights.
        scale = torch.repeat_interleave(self.direction_weights * 0.5, x.shape[2] * x.shape[3])
        features = torch.bmm(neighbours * scale.to(dtype), gates.transpose(1, 2))  # [N,C,HW]
        return features.view(x.shape).to(x.dtype)


class IdentificationModule(nn.Module):
    """The gate ``sigmoid(g) - 1/2`` that picks out the moving body parts.

    ``g = expand(sum_j v[j] * aggregation_j(reduce(x)))``: a 1x1x1 reduction to ``C/16``
    channels, three depthwise ``(9, 3, 3)`` convolutions of spatial dilation 1, 2, 3
    (zero-padded in time inside each video) mixed by ``v`` (initialised to 1/3), and a
    1x1x1 convolution back to ``C``.

    Args:
        channels (int): ``C``, a multiple of 16.
        bias (bool): Biases in the 1x1x1 reduction and expansion (CorrNet has none; SEN's
            spatial emphasis, the same map, has them).
    """

    DILATIONS = (1, 2, 3)

    def __init__(self, channels: int, bias: bool = False) -> None:
        super().__init__()
        if channels % 16:
            raise ValueError(f'the identification module needs a multiple of 16 channels, '
                             f'got {channels}')
        reduced = channels // 16
        self.reduce = FrameConv3d(channels, reduced, 1, bias=bias)
        self.aggregations = nn.ModuleList(
            nn.Conv3d(reduced, reduced, kernel_size=(2 * TEMPORAL_REACH + 1, 3, 3),
                      padding=(TEMPORAL_REACH, d, d), dilation=(1, d, d), groups=reduced)
            for d in self.DILATIONS)
        self.aggregation_weights = nn.Parameter(torch.full((len(self.DILATIONS), ), 1 / 3))
        self.expand = FrameConv3d(reduced, channels, 1, bias=bias)

    def forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        """``[N, C, H, W]`` frames -> the gate in ``(-1/2, 1/2)``, same shape."""
        reduced = self.reduce(x)
        aggregated = sum(weight * y for weight, y in zip(
            self.aggregation_weights, segments.temporal_conv(self.aggregations, reduced)))
        return torch.sigmoid(self.expand(aggregated)) - 0.5


@MODELS.register_module()
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
        """``[N, C, H, W]`` frames -> ``M(x)``, same shape."""
        return self.correlation(x, segments) * self.identification(x, segments)
