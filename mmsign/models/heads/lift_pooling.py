"""Temporal lift pooling (TLP, ECCV 2022): the lifting scheme in place of max pooling.

On features ``x`` of shape ``(B, C, T)`` one lifting step halves the time axis::

    x_even, x_odd = x[..., 0::2], x[..., 1::2]          # split
    d = x_odd - P(x_even)                               # predict: the detail
    s = x_even + U(d)                                   # update: the smooth part
    out = W1(s) + W2(d)                                 # (B, C, T // 2)

``P`` and ``U`` are each a depthwise 3-frame (5 in the released CSL model) convolution,
ReLU, a 1x1 convolution whose weight starts at zero, and tanh; ``W1`` and ``W2`` are
:class:`LocalWeighting`. The two residuals ``s - x_odd`` and ``d`` are what the paper's
losses ``Cu`` and ``Cp`` keep small (:class:`~mmsign.models.losses.LiftingLoss`). An odd
last frame is dropped, so the output length is ``T // 2`` as for ``MaxPool1d(2)``.
"""
from typing import NamedTuple, Tuple

from torch import Tensor, nn


class LiftResiduals(NamedTuple):
    """What one lifting step leaves for its losses.

    Attributes:
        update (Tensor): ``s - x_odd``, ``(B, C, T // 2)`` (the loss ``Cu``).
        detail (Tensor): ``d = x_odd - P(x_even)``, ``(B, C, T // 2)`` (the loss ``Cp``).
    """
    update: Tensor
    detail: Tensor


def lifting_operator(channels: int, kernel_size: int = 3) -> nn.Sequential:
    """The predict or update operator: depthwise Conv1d -> ReLU -> Conv1d 1x1 -> tanh.

    The 1x1 convolution's weight starts at zero (its bias keeps PyTorch's default), so at
    the start the operator is a constant per channel. Indexed like the released code
    (``0`` depthwise conv, ``2`` 1x1 conv).

    Args:
        channels (int): Feature width C.
        kernel_size (int): Odd kernel of the depthwise convolution (padded to keep the
            length). Defaults to 3.

    Returns:
        nn.Sequential: ``(B, C, T) -> (B, C, T)``.
    """
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f'the lifting operators need an odd kernel, got {kernel_size}')
    operator = nn.Sequential(
        nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2,
                  groups=channels),
        nn.ReLU(inplace=True),
        nn.Conv1d(channels, channels, 1),
        nn.Tanh())
    nn.init.zeros_(operator[2].weight)
    return operator


class LocalWeighting(nn.Module):
    """Local weighting of a lifting output: ``z + z * (sigmoid(IN(conv(z))) - 0.5)``.

    ``conv`` is a 5-frame Conv1d (C -> C, bias, weight initialised to zero) and ``IN`` an
    affine ``InstanceNorm1d`` (statistics over the whole time axis of each video, no
    running statistics). On a single frame the normalised value is 0 (its limit; torch's
    instance norm refuses one element), so the weighting is ``sigmoid(IN bias) - 0.5``.

    Args:
        channels (int): Feature width C.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 5, padding=2)
        self.insnorm = nn.InstanceNorm1d(channels, affine=True)
        nn.init.zeros_(self.conv.weight)

    def forward(self, z: Tensor) -> Tensor:
        """Weight every frame and channel of ``z`` by a factor in ``(0.5, 1.5)``.

        Args:
            z (Tensor): ``(B, C, T)``.

        Returns:
            Tensor: ``(B, C, T)``.
        """
        if z.shape[-1] == 1:
            gate = self.insnorm.bias[:, None].expand_as(z)
        else:
            gate = self.insnorm(self.conv(z))
        return z + z * (gate.sigmoid() - 0.5)


class TemporalLiftPooling(nn.Module):
    """Temporal lift pooling of stride 2 (TLP), a learnable ``MaxPool1d(2)``.

    ``kernel_size`` and ``stride`` are 2, as the max pool's that it replaces.

    Args:
        channels (int): Feature width C.
        size (int): Pooling size; only 2 (one lifting step). Defaults to 2.
        operator_kernel (int): Kernel of the predictor's and updater's depthwise
            convolutions: 3 (5 in the released CSL model). Defaults to 3.
    """

    def __init__(self, channels: int, size: int = 2, operator_kernel: int = 3) -> None:
        super().__init__()
        if size != 2:
            raise ValueError(f'temporal lift pooling halves the time axis: pool size 2, '
                             f'got {size}')
        self.kernel_size = self.stride = size
        # (kernel, stride, padding) for the head's geometry: a MaxPool1d(size)'s.
        self.temporal_geometry = (size, size, 0)
        self.predictor = lifting_operator(channels, operator_kernel)
        self.updater = lifting_operator(channels, operator_kernel)
        self.weight1 = LocalWeighting(channels)
        self.weight2 = LocalWeighting(channels)

    @staticmethod
    def split(x: Tensor) -> Tuple[Tensor, Tensor]:
        """Even and odd frames; an odd last frame is dropped.

        Args:
            x (Tensor): ``(B, C, T)``.

        Returns:
            tuple[Tensor, Tensor]: ``x[..., 0::2]`` and ``x[..., 1::2]``, each
            ``(B, C, T // 2)``.
        """
        end = x.shape[-1] // 2 * 2
        return x[..., 0:end:2], x[..., 1:end:2]

    def predict(self, even: Tensor, odd: Tensor) -> Tensor:
        """The detail ``d = odd - P(even)``, ``(B, C, T // 2)``."""
        return odd - self.predictor(even)

    def update(self, even: Tensor, detail: Tensor) -> Tensor:
        """The smooth part ``s = even + U(d)``, ``(B, C, T // 2)``."""
        return even + self.updater(detail)

    def lift(self, x: Tensor) -> Tuple[Tensor, LiftResiduals]:
        """One lifting step and the residuals its losses need.

        Args:
            x (Tensor): ``(B, C, T)``.

        Returns:
            tuple[Tensor, LiftResiduals]: ``W1(s) + W2(d)``, ``(B, C, T // 2)``, and
            ``(s - odd, d)``.
        """
        even, odd = self.split(x)
        detail = self.predict(even, odd)
        smooth = self.update(even, detail)
        out = self.weight1(smooth) + self.weight2(detail)
        return out, LiftResiduals(smooth - odd, detail)

    def forward(self, x: Tensor) -> Tensor:
        """Pool ``(B, C, T)`` to ``(B, C, T // 2)`` (:meth:`lift` without its residuals)."""
        return self.lift(x)[0]
