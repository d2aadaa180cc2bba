"""The temporal correlation: each frame's class token against the patches of its
neighbour frames in the same video (``ADAPTSIGN_SPEC.md`` section 2)."""
import functools
import math
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .vit_ops import LayerNorm

TEMPORAL_EDGES = ('zeros', 'replicate')


def _window_weights(lengths: Tuple[int, ...], window: int, edge: str) -> Tensor:
    radius = window // 2
    offsets = range(-radius, radius + 1)
    per_video = []
    for length in lengths:
        source = torch.arange(length)
        columns = []
        for offset in offsets:
            frame = source - offset  # the frame whose window sees `source` at `offset`
            inside = (frame >= 0) & (frame < length)
            if edge == 'zeros':
                uses = inside.to(torch.float32)
            else:
                # At the edge, several window positions clamp onto the same source frame.
                uses = sum(((frame + other).clamp(0, length - 1) == source).to(torch.float32)
                           for other in offsets) * inside
            columns.append(uses)
        per_video.append(torch.stack(columns, dim=1))
    return torch.cat(per_video)


_window_weights_cpu = functools.lru_cache(maxsize=256)(_window_weights)


def temporal_window_weights(lengths: Sequence[int], window: int, edge: str,
                            device: torch.device) -> Tensor:
    """How often each frame is seen by each window position of its neighbours.

    Entry ``[s, j]`` counts the uses of source frame ``s`` by the window of frame
    ``s - (j - window // 2)``: 1 inside a video, 0 across video boundaries; with
    ``edge='replicate'`` a video's edge frames also stand in for the missing neighbours
    beyond the edge (counts up to ``window // 2 + 1``). Built on the host from the Python
    lengths and copied asynchronously, so no device synchronisation happens; while an
    ONNX export traces the lengths (0-dim tensors), built in the graph instead.

    Args:
        lengths (Sequence[int]): Frames per video, packed in this order.
        window (int): Odd window size W.
        edge (str): ``'zeros'`` or ``'replicate'``.
        device (torch.device): Where the weights are needed.

    Returns:
        Tensor: ``[sum(lengths), W]`` float32.
    """
    if torch.jit.is_tracing():
        return _window_weights(tuple(lengths), window, edge).to(device)
    weights = _window_weights_cpu(tuple(lengths), window, edge)
    if device.type == 'cpu':
        return weights
    if device.type == 'cuda':
        weights = weights.pin_memory()
    return weights.to(device, non_blocking=True)


class TemporalCorrelation(nn.Module):
    """Correlation of each frame's class token with the patches of its neighbour frames.

    For frame t, with ``y = ln(z)``, ``c = y_t[0]`` and ``U`` the ``W * P`` patch tokens of
    frames ``t - W//2 .. t + W//2`` of the same video::

        m_t = sum_j (sigmoid(c . U_j / sqrt(D)) - 0.5) * U_j
        output = weight * m_t                       # weight starts at 0

    Neighbours outside the video count as zero vectors (they contribute nothing) unless the
    caller's window weights say otherwise (see :func:`temporal_window_weights`).

    Each frame's patches are read twice (one batched matmul against the ``W`` class tokens
    that see them, one for the weighted sum) instead of gathering ``W`` copies of them.

    Args:
        width (int): Token width D.
        window (int): Odd window size W. Defaults to 5.
    """

    def __init__(self, width: int, window: int = 5) -> None:
        super().__init__()
        if window < 1 or window % 2 == 0:
            raise ValueError(f'temporal window must be a positive odd number, got {window}')
        self.window = window
        self.ln = LayerNorm(width)
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, z: Tensor, window_weights: Tensor) -> Tensor:
        """Compute the weighted correlation feature of every frame.

        Args:
            z (Tensor): Tokens after the last block ``[N, S, D]``, videos packed.
            window_weights (Tensor): ``[N, W]`` from :func:`temporal_window_weights`.

        Returns:
            Tensor: ``weight * m`` of shape ``[N, D]``, to add to the tokens.
        """
        n, _, width = z.shape
        radius = self.window // 2
        y = self.ln(z)
        cls = y[:, 0] * (1.0 / math.sqrt(width))                    # [N, D]
        patches = y[:, 1:]                                           # [N, P, D]
        # seeing[s, j]: class token of frame s - (j - radius), the frame whose window
        # sees source frame s at position j.
        cls_pad = F.pad(cls, (0, 0, radius, radius))
        seeing = torch.stack(
            [cls_pad[2 * radius - j:2 * radius - j + n] for j in range(self.window)], dim=1)
        affinity = torch.bmm(patches, seeing.transpose(1, 2))        # [N, P, W]
        # The affinity tensor is small: keep the sigmoid in fp32 so the -0.5 does not
        # cancel the few mantissa bits of bf16/fp16.
        gate = (torch.sigmoid(affinity.float()) - 0.5) * window_weights[:, None, :]
        sent = torch.bmm(gate.to(patches.dtype).transpose(1, 2), patches)  # [N, W, D]
        # Frame t receives sent[t + j - radius, j] from each window position j.
        sent_pad = F.pad(sent, (0, 0, 0, 0, radius, radius))
        received = sent_pad[0:n, 0]
        for j in range(1, self.window):
            received = received + sent_pad[j:j + n, j]
        return self.weight * received


__all__ = ['TEMPORAL_EDGES', 'TemporalCorrelation', 'temporal_window_weights']
