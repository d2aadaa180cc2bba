"""The released AdaptSign code's temporal edge padding and its length bookkeeping.

Each video of a batch is padded on the left with ``left_pad`` copies of its first frame
and on the right with copies of its last frame up to ``released_padded_length(T_max)``;
the length the temporal head treats as valid for a video of ``T`` frames is
``released_padded_length(T)``, so that the head gives ``ceil(T / stride)`` outputs.

The numbers come from the head's temporal convolution (:class:`PaddingGeometry`, from
``TemporalConv.geometry``): a stack of valid convolutions and pools of total stride
``s`` and receptive field ``R`` gives ``n`` outputs for ``(n - 1) s + R`` input frames,
so a video of ``T`` frames is padded to ``ceil(T / s) s + (R - s)``, ``(R - s) // 2`` of
them before it. The released "K5 P2 K5 P2" has ``s = 4``, ``R = 16``: 6 frames before,
``ceil(T / 4) * 4 + 12`` in all.

Everything here is index arithmetic on host integers: the padded tensors are built with
one ``index_select`` whose index tensor is made on the host, so no device value is read.
"""
import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor


@dataclass(frozen=True)
class PaddingGeometry:
    """The temporal geometry of a stack of valid convolutions and pools.

    Attributes:
        stride (int): Input frames per output step (the product of the pools).
        receptive_field (int): Input frames one output step sees.
    """
    stride: int
    receptive_field: int

    @classmethod
    def of_layers(cls, layers: Sequence[Tuple[str, int]]) -> 'PaddingGeometry':
        """The geometry of ``(kind, size)`` layers, ``'K'`` a convolution of kernel
        ``size`` (stride 1, no padding), ``'P'`` a max-pool of kernel and stride ``size``.
        """
        stride, field = 1, 1
        for kind, size in reversed(list(layers)):
            if kind == 'K':
                field += size - 1
            elif kind == 'P':
                field *= size
            else:
                raise ValueError(f'unknown temporal layer kind {kind!r}: "K" or "P"')
            if kind == 'P':
                stride *= size
        return cls(stride, field)

    @property
    def extra(self) -> int:
        """Frames the padding adds beyond the length rounded up to the stride."""
        return self.receptive_field - self.stride

    @property
    def left_pad(self) -> int:
        """Copies of the first frame put before every video (half of :attr:`extra`)."""
        return self.extra // 2


#: The released "K5 P2 K5 P2" temporal convolution.
RELEASED_GEOMETRY = PaddingGeometry(stride=4, receptive_field=16)

LEFT_PAD = RELEASED_GEOMETRY.left_pad
"""Copies of the first frame put before every video by the released "K5 P2 K5 P2"."""

STRIDE = RELEASED_GEOMETRY.stride
"""Total temporal stride of the released "K5 P2 K5 P2" convolution."""

EXTRA = RELEASED_GEOMETRY.extra
"""Frames the released padding adds beyond the rounded-up length (6 left + at least 6
right): the receptive field of "K5 P2 K5 P2" spans 16 frames at stride 4."""


def released_padded_length(num_frames: int,
                           geometry: PaddingGeometry = RELEASED_GEOMETRY) -> int:
    """Length the released code gives a video of ``num_frames`` frames after padding.

    Args:
        num_frames (int): Real frames of the video, at least 1.
        geometry (PaddingGeometry): The head's temporal convolution. Defaults to the
            released "K5 P2 K5 P2".

    Returns:
        int: ``ceil(num_frames / stride) * stride + extra`` (released:
        ``ceil(num_frames / 4) * 4 + 12``).
    """
    if num_frames < 1:
        raise ValueError(f'a video needs at least one frame, got {num_frames}')
    return math.ceil(num_frames / geometry.stride) * geometry.stride + geometry.extra


def edge_pad_indices(lengths: Sequence[int], total_length: int,
                     left_pad: int = LEFT_PAD) -> List[int]:
    """Row indices into a packed tensor that build the edge-padded batch.

    Args:
        lengths (Sequence[int]): Real frames of each video; the packed tensor holds the
            videos one after another (``sum(lengths)`` rows).
        total_length (int): Padded length of every video in the result; at least
            ``left_pad + max(lengths)``.
        left_pad (int): Copies of the first row before every video. Defaults to the
            released 6.

    Returns:
        list[int]: ``len(lengths) * total_length`` indices; row ``b * total_length + t``
        of the padded batch is row ``indices[b * total_length + t]`` of the packed tensor.
    """
    indices: List[int] = []
    start = 0
    for length in lengths:
        right = total_length - left_pad - length
        if length < 1 or right < 0:
            raise ValueError(f'cannot pad a video of {length} frames to {total_length}')
        first, last = start, start + length - 1
        indices.extend([first] * left_pad)
        indices.extend(range(first, last + 1))
        indices.extend([last] * right)
        start += length
    return indices


def released_edge_padding(packed: Tensor, lengths: Sequence[int],
                          geometry: Optional[PaddingGeometry] = None
                          ) -> Tuple[Tensor, List[int]]:
    """Pad the videos of a packed tensor the way the released code pads its batch.

    Works for frames (``N x 3 x H x W``) and features (``N x E``) alike.

    Args:
        packed (Tensor): ``(sum(lengths), *rest)``: the videos one after another.
        lengths (Sequence[int]): Real frames of each video (host integers).
        geometry (PaddingGeometry, optional): The head's temporal convolution
            (``TemporalConv.geometry``). Defaults to the released "K5 P2 K5 P2".

    Returns:
        tuple[Tensor, list[int]]:

        - ``(B, T_pad, *rest)`` with ``T_pad = released_padded_length(max(lengths))``:
          each video with ``left_pad`` (released: 6) copies of its first row before it
          and copies of its last row after it.
        - The valid padded length of each video, ``released_padded_length(T)``.
    """
    geometry = geometry or RELEASED_GEOMETRY
    if packed.shape[0] != sum(lengths):
        raise ValueError(f'packed tensor has {packed.shape[0]} rows but the lengths '
                         f'{list(lengths)} add up to {sum(lengths)}')
    total = released_padded_length(max(lengths), geometry)
    index = torch.as_tensor(edge_pad_indices(lengths, total, geometry.left_pad),
                            dtype=torch.long)
    padded = packed.index_select(0, index.to(packed.device, non_blocking=True))
    valid = [released_padded_length(length, geometry) for length in lengths]
    return padded.view(len(lengths), total, *packed.shape[1:]), valid
