"""Temporal 1-D convolution of the CTC head ("K5 P2 K5 P2")."""
from typing import List, Sequence, Tuple

from torch import Tensor, nn

from mmsign.models.heads.edge_padding import Length, PaddingGeometry, layer_geometry
from mmsign.models.heads.lift_pooling import LiftResiduals, TemporalLiftPooling

#: What a "P" layer is: ``MaxPool1d`` or :class:`TemporalLiftPooling` (TLP).
POOLINGS = ('max', 'lift')

#: The released AdaptSign head's temporal conv.
RELEASED_PATTERN = ('K5', 'P2', 'K5', 'P2')


def _parse_layer(spec: str) -> tuple:
    kind, size = spec[:1], spec[1:]
    if kind not in ('K', 'P') or not size.isdigit() or int(size) < 1:
        raise ValueError(f'temporal conv layer {spec!r} is neither "K<kernel>" nor '
                         '"P<pool>", e.g. ("K5", "P2", "K5", "P2")')
    return kind, int(size)


class TemporalConv(nn.Module):
    """Stack of ``Conv1d -> BatchNorm1d -> ReLU`` ("K") and pooling ("P") layers.

    The layers are one ``nn.Sequential`` indexed like the released code's
    ``temporal_conv`` (conv 0, norm 1, relu 2, pool 3, conv 4, ...), so released weights
    map onto it key for key. Convolutions have no padding; pools drop an odd last frame.
    A pool is ``MaxPool1d`` or, with ``pooling='lift'``, :class:`TemporalLiftPooling`
    (TLP, CorrNet+; size 2 only), which keeps the same length bookkeeping (``T // 2``).

    :attr:`geometry` (stride, receptive field) and :meth:`output_length` are derived from
    the modules the pattern builds (:func:`~mmsign.models.heads.edge_padding.layer_geometry`),
    so a new layer kind only has to be built here: a ``Conv1d`` or pool is read from its
    settings, any other module declares ``temporal_geometry = (kernel, stride, padding)``.
    Everything that needs the head's stride or padding (the edge padding, datasets' length
    checks, long-video windows, timestamps, the ONNX export) asks the head's ``geometry``.

    Args:
        in_channels (int): Feature width E of the input.
        hidden_channels (int): Output width H of every convolution.
        pattern (Sequence[str]): Layers in order, e.g. ``('K5', 'P2', 'K5', 'P2')``.
        pooling (str): ``'max'`` or ``'lift'``. Defaults to ``'max'``.
        lift_kernel (int): Kernel of the lift pooling's predictor and updater
            (:class:`TemporalLiftPooling`'s ``operator_kernel``). Defaults to 3.
    """

    def __init__(self, in_channels: int, hidden_channels: int,
                 pattern: Sequence[str] = RELEASED_PATTERN,
                 pooling: str = 'max',
                 lift_kernel: int = 3) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f'temporal conv pooling must be one of {POOLINGS}, '
                             f'got {pooling!r}')
        self.pattern = tuple(pattern)
        self.pooling = pooling
        self.layers = [_parse_layer(spec) for spec in self.pattern]
        if not any(kind == 'K' for kind, _ in self.layers):
            raise ValueError(f'temporal conv pattern {self.pattern} has no convolution')
        modules: List[nn.Module] = []
        channels = in_channels
        for kind, size in self.layers:
            if kind == 'K':
                modules += [nn.Conv1d(channels, hidden_channels, size),
                            nn.BatchNorm1d(hidden_channels),
                            nn.ReLU(inplace=True)]
                channels = hidden_channels
            elif pooling == 'lift':
                modules.append(TemporalLiftPooling(channels, size, lift_kernel))
            else:
                modules.append(nn.MaxPool1d(size))
        self.temporal_conv = nn.Sequential(*modules)
        self.out_channels = hidden_channels
        self.geometry = PaddingGeometry.of_modules(self.temporal_conv)

    def output_length(self, length: Length) -> Length:
        """Output frames for ``length`` input frames (host arithmetic, or 0-dim tensors
        while an export traces them).

        Args:
            length (int | Tensor): Input frames.

        Returns:
            int | Tensor: Output frames; zero or less means the input was too short.
        """
        for module in self.temporal_conv:
            geometry = layer_geometry(module)
            if geometry is not None:
                kernel, stride, padding = geometry
                length = (length + 2 * padding - kernel) // stride + 1
        return length

    def forward(self, x: Tensor) -> Tensor:
        """Convolve over time.

        Args:
            x (Tensor): ``(B, E, T)``.

        Returns:
            Tensor: ``(B, H, T')`` with ``T' = output_length(T)``.
        """
        return self.temporal_conv(x)

    def forward_with_residuals(self, x: Tensor) -> Tuple[Tensor, List[LiftResiduals]]:
        """Convolve over time and keep what the lift pooling losses need.

        Args:
            x (Tensor): ``(B, E, T)``.

        Returns:
            tuple[Tensor, list[LiftResiduals]]: ``(B, H, T')`` as :meth:`forward`, and
            the residuals of every :class:`TemporalLiftPooling` in order (none for max
            pooling).
        """
        residuals: List[LiftResiduals] = []
        for module in self.temporal_conv:
            if isinstance(module, TemporalLiftPooling):
                x, step = module.lift(x)
                residuals.append(step)
            else:
                x = module(x)
        return x, residuals


#: Geometry of :data:`RELEASED_PATTERN`: stride 4, receptive field 16 (a model's own is
#: its head's ``geometry``).
RELEASED_GEOMETRY = TemporalConv(1, 2).geometry
