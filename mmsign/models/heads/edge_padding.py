"""The released AdaptSign code's temporal edge padding and its length bookkeeping.

Each video of a batch is padded on the left with ``LEFT_PAD`` copies of its first frame
and on the right with copies of its last frame up to ``released_padded_length(T_max)``;
the length the temporal head treats as valid for a video of ``T`` frames is
``released_padded_length(T)``, so that "K5 P2 K5 P2" gives ``ceil(T / 4)`` outputs.

Everything here is index arithmetic on host integers: the padded tensors are built with
one ``index_select`` whose index tensor is made on the host, so no device value is read.
"""
import math
from typing import List, Sequence, Tuple

import torch
from torch import Tensor

LEFT_PAD = 6
"""Copies of the first frame put before every video."""

STRIDE = 4
"""Total temporal stride of the released "K5 P2 K5 P2" convolution."""

EXTRA = 12
"""Frames the released padding adds beyond the rounded-up length (6 left + at least 6
right): the receptive field of "K5 P2 K5 P2" spans 16 frames at stride 4."""


def released_padded_length(num_frames: int) -> int:
    """Length the released code gives a video of ``num_frames`` frames after padding.

    Args:
        num_frames (int): Real frames of the video, at least 1.

    Returns:
        int: ``ceil(num_frames / 4) * 4 + 12``.
    """
    if num_frames < 1:
        raise ValueError(f'a video needs at least one frame, got {num_frames}')
    return math.ceil(num_frames / STRIDE) * STRIDE + EXTRA


def edge_pad_indices(lengths: Sequence[int], total_length: int) -> List[int]:
    """Row indices into a packed tensor that build the edge-padded batch.

    Args:
        lengths (Sequence[int]): Real frames of each video; the packed tensor holds the
            videos one after another (``sum(lengths)`` rows).
        total_length (int): Padded length of every video in the result; at least
            ``LEFT_PAD + max(lengths)``.

    Returns:
        list[int]: ``len(lengths) * total_length`` indices; row ``b * total_length + t``
        of the padded batch is row ``indices[b * total_length + t]`` of the packed tensor.
    """
    indices: List[int] = []
    start = 0
    for length in lengths:
        right = total_length - LEFT_PAD - length
        if length < 1 or right < 0:
            raise ValueError(f'cannot pad a video of {length} frames to {total_length}')
        first, last = start, start + length - 1
        indices.extend([first] * LEFT_PAD)
        indices.extend(range(first, last + 1))
        indices.extend([last] * right)
        start += length
    return indices


def released_edge_padding(packed: Tensor, lengths: Sequence[int]) -> Tuple[Tensor, List[int]]:
    """Pad the videos of a packed tensor the way the released code pads its batch.

    Works for frames (``N x 3 x H x W``) and features (``N x E``) alike.

    Args:
        packed (Tensor): ``(sum(lengths), *rest)``: the videos one after another.
        lengths (Sequence[int]): Real frames of each video (host integers).

    Returns:
        tuple[Tensor, list[int]]:

        - ``(B, T_pad, *rest)`` with ``T_pad = released_padded_length(max(lengths))``:
          each video with 6 copies of its first row before it and copies of its last row
          after it.
        - The valid padded length of each video, ``released_padded_length(T)``.
    """
    if packed.shape[0] != sum(lengths):
        raise ValueError(f'packed tensor has {packed.shape[0]} rows but the lengths '
                         f'{list(lengths)} add up to {sum(lengths)}')
    total = released_padded_length(max(lengths))
    index = torch.as_tensor(edge_pad_indices(lengths, total), dtype=torch.long)
    padded = packed.index_select(0, index.to(packed.device, non_blocking=True))
    valid = [released_padded_length(length) for length in lengths]
    return padded.view(len(lengths), total, *packed.shape[1:]), valid
