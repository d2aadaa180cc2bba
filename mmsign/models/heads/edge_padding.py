"""The released AdaptSign code's temporal edge padding and its length bookkeeping.

Each video of a batch is padded on the left with ``left_pad`` copies of its first frame
and on the right with copies of its last frame up to ``padded_length(T_max)``; the
length the temporal head treats as valid for a video of ``T`` frames is
``padded_length(T)``, so that the head gives ``ceil(T / stride)`` outputs.

The numbers come from the head's temporal convolution (:class:`PaddingGeometry`, which
``TemporalConv`` derives from the layers it builds): a stack of convolutions and pools of
total stride ``s`` and receptive field ``R`` gives ``n`` outputs for ``(n - 1) s + R``
input frames, so a video of ``T`` frames is padded to ``ceil(T / s) s + (R - s)``,
``(R - s) // 2`` of them before it. The released "K5 P2 K5 P2" has ``s = 4``, ``R = 16``:
6 frames before, ``ceil(T / 4) * 4 + 12`` in all.

Everything here is index arithmetic on host integers: the padded tensors are built with
one ``index_select`` whose index tensor is made on the host, so no device value is read.
The same arithmetic also runs on 0-dim tensors, which is how an ONNX export traced with
``lengths=[frames.shape[0]]`` keeps the number of frames dynamic
(:mod:`mmsign.apis.onnx_export`).
"""
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

#: A host integer, or a 0-dim tensor while an export traces the lengths.
Length = Union[int, Tensor]

#: Modules that act on each time step alone (no temporal geometry of their own).
POINTWISE = (nn.BatchNorm1d, nn.ReLU, nn.LeakyReLU, nn.GELU, nn.Dropout, nn.Identity,
             nn.Sigmoid, nn.Tanh)


def layer_geometry(module: nn.Module) -> Optional[Tuple[int, int, int]]:
    """Temporal ``(kernel, stride, padding)`` of one layer of a temporal conv.

    ``Conv1d``, ``MaxPool1d`` and ``AvgPool1d`` are read from their settings (a dilated
    kernel counts its span); a module of another kind declares its own as the attribute
    ``temporal_geometry = (kernel, stride, padding)``; pointwise layers (:data:`POINTWISE`)
    have none.

    Args:
        module (nn.Module): One layer.

    Returns:
        tuple[int, int, int] | None: The geometry, None for a pointwise layer.
    """
    if isinstance(module, (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d)):
        def first(value):
            return value[0] if isinstance(value, (tuple, list)) else value
        kernel, stride, padding = (first(module.kernel_size), first(module.stride),
                                   first(module.padding))
        dilation = first(getattr(module, 'dilation', 1))
        if getattr(module, 'ceil_mode', False):
            raise ValueError(f'{module}: ceil_mode pools have no fixed temporal geometry')
        return dilation * (kernel - 1) + 1, stride, padding
    declared = getattr(module, 'temporal_geometry', None)
    if declared is not None:
        return tuple(int(v) for v in declared)
    if isinstance(module, POINTWISE):
        return None
    raise TypeError(f'{type(module).__name__} in a temporal conv neither is pointwise nor '
                    'declares temporal_geometry = (kernel, stride, padding)')


@dataclass(frozen=True)
class PaddingGeometry:
    """The temporal geometry of a stack of convolutions and pools.

    Attributes:
        stride (int): Input frames per output step (the product of the strides).
        receptive_field (int): Input frames one output step sees.
        padding (int): Zero frames the layers' own padding adds before the first
            input frame (in input frames); 0 for the released valid convolutions.
    """
    stride: int
    receptive_field: int
    padding: int = 0

    @classmethod
    def of_modules(cls, modules: Iterable[nn.Module]) -> 'PaddingGeometry':
        """The geometry of the layers, in order (see :func:`layer_geometry`)."""
        stride, field, padding = 1, 1, 0
        for module in modules:
            geometry = layer_geometry(module)
            if geometry is None:
                continue
            kernel, step, pad = geometry
            field += (kernel - 1) * stride
            padding += pad * stride
            stride *= step
        return cls(stride, field, padding)

    @property
    def extra(self) -> int:
        """Frames the padding adds beyond the length rounded up to the stride."""
        return self.receptive_field - self.stride - 2 * self.padding

    @property
    def left_pad(self) -> int:
        """Copies of the first frame put before every video (half of :attr:`extra`)."""
        return self.extra // 2

    def padded_length(self, num_frames: Length) -> Length:
        """Length a video of ``num_frames`` frames has after the edge padding.

        Args:
            num_frames (int | Tensor): Real frames of the video, at least 1.

        Returns:
            int | Tensor: ``ceil(num_frames / stride) * stride + extra`` (released:
            ``ceil(num_frames / 4) * 4 + 12``).
        """
        if num_frames < 1:
            raise ValueError(f'a video needs at least one frame, got {num_frames}')
        return self.output_steps(num_frames) * self.stride + self.extra

    def output_steps(self, num_frames: Length) -> Length:
        """Output steps of the head for a video of ``num_frames`` frames:
        ``ceil(num_frames / stride)``."""
        # No negative operand: an ONNX graph divides integers rounding toward zero.
        return (num_frames + self.stride - 1) // self.stride

    def min_frames(self, steps: int) -> int:
        """Fewest frames a video needs for ``steps`` output steps (a CTC label of ``L``
        glosses needs ``L`` steps plus one per repeated neighbour)."""
        return max(1, (steps - 1) * self.stride + 1)


def released_padded_length(num_frames: Length, geometry: PaddingGeometry) -> Length:
    """Length the released code gives a video of ``num_frames`` frames after padding.

    Args:
        num_frames (int | Tensor): Real frames of the video, at least 1.
        geometry (PaddingGeometry): The head's temporal convolution (``head.geometry``).

    Returns:
        int | Tensor: :meth:`PaddingGeometry.padded_length`.
    """
    return geometry.padded_length(num_frames)


def edge_pad_indices(lengths: Sequence[Length], total_length: Length,
                     left_pad: int) -> Tensor:
    """Row indices into a packed tensor that build the edge-padded batch.

    Args:
        lengths (Sequence[int | Tensor]): Real frames of each video; the packed tensor
            holds the videos one after another (``sum(lengths)`` rows).
        total_length (int | Tensor): Padded length of every video in the result; at
            least ``left_pad + max(lengths)``.
        left_pad (int): Copies of the first row before every video (released: 6).

    Returns:
        Tensor: ``len(lengths) * total_length`` int64 indices (on the host); row
        ``b * total_length + t`` of the padded batch is row ``indices[b * total_length +
        t]`` of the packed tensor.
    """
    positions = torch.arange(total_length) - left_pad
    rows: List[Tensor] = []
    start = 0
    for length in lengths:
        if length < 1 or total_length - left_pad - length < 0:
            raise ValueError(f'cannot pad a video of {length} frames to {total_length}')
        rows.append(positions.clamp(min=0).clamp(max=length - 1) + start)
        start = start + length
    return torch.cat(rows)


def released_edge_padding(packed: Tensor, lengths: Sequence[Length],
                          geometry: PaddingGeometry) -> Tuple[Tensor, List[Length]]:
    """Pad the videos of a packed tensor the way the released code pads its batch.

    Works for frames (``N x 3 x H x W``) and features (``N x E``) alike.

    Args:
        packed (Tensor): ``(sum(lengths), *rest)``: the videos one after another.
        lengths (Sequence[int | Tensor]): Real frames of each video (host integers, or
            0-dim tensors while an export traces them).
        geometry (PaddingGeometry): The head's temporal convolution (``head.geometry``).

    Returns:
        tuple[Tensor, list[int]]:

        - ``(B, T_pad, *rest)`` with ``T_pad = geometry.padded_length(max(lengths))``:
          each video with ``left_pad`` (released: 6) copies of its first row before it
          and copies of its last row after it.
        - The valid padded length of each video, ``geometry.padded_length(T)``.
    """
    if packed.shape[0] != sum(lengths):
        raise ValueError(f'packed tensor has {packed.shape[0]} rows but the lengths '
                         f'{list(lengths)} add up to {sum(lengths)}')
    total = geometry.padded_length(max(lengths))
    index = edge_pad_indices(lengths, total, geometry.left_pad)
    padded = packed.index_select(0, index.to(packed.device, non_blocking=True))
    valid = [geometry.padded_length(length) for length in lengths]
    return padded.view(len(lengths), total, *packed.shape[1:]), valid
