"""What the AdaptSign backbone looks at, recorded on demand.

:meth:`~.adaptsign_base.AdaptSignViTBase.record_attention` switches recording on; every
forward inside it appends one :class:`AttentionRecord`. Outside it nothing is recorded
and nothing extra is computed: the forward keeps its fused attention
(``F.scaled_dot_product_attention``), which never forms the attention weights. While
recording, the weights are recomputed beside the forward with an explicit softmax (and
the temporal gates beside the fused correlation), so the features stay bit-identical.
"""
import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor


def temporal_window_sources(lengths: Sequence[int], window: int, edge: str) -> Tensor:
    """The frame each window position of each frame sees, as packed row indices.

    Position ``j`` of frame ``t`` sees frame ``t + j - window // 2`` of the same video.
    Beyond the video's edge it sees nothing (``edge='zeros'``, index -1) or the edge
    frame itself (``edge='replicate'``).

    Args:
        lengths (Sequence[int]): Frames per video, packed in this order.
        window (int): Odd window size W.
        edge (str): ``'zeros'`` or ``'replicate'``.

    Returns:
        Tensor: ``[sum(lengths), W]`` int64 on the CPU.
    """
    radius = window // 2
    offsets = torch.arange(-radius, radius + 1)
    rows = []
    start = 0
    for length in lengths:
        seen = torch.arange(length)[:, None] + offsets[None]          # [T, W], in-video
        if edge == 'zeros':
            inside = (seen >= 0) & (seen < length)
            rows.append(torch.where(inside, seen + start, torch.full_like(seen, -1)))
        else:
            rows.append(seen.clamp(0, length - 1) + start)
        start += length
    return torch.cat(rows)


@dataclass
class AttentionRecord:
    """The attention maps of one backbone forward.

    ``N`` frames (packed as in the forward), ``L`` layers, ``S = 1 + P`` tokens per frame
    (class token first, then the ``P`` patches row by row), ``W`` the temporal window.

    Attributes:
        lengths (tuple[int, ...]): Frames per video, as given to the forward.
        image_size (tuple[int, int]): ``(H, W)`` of the frames in pixels.
        aggregation (Tensor): ``[L, N, S]`` float32: after block ``l``, the softmax
            weights of the aggregation query over the frame's ``1 + P`` tokens (its keys),
            averaged over the heads. Every row sums to 1.
        temporal_gates (Tensor, optional): ``[N, W, P]`` float32, the gates
            ``sigmoid(c_t . U / sqrt(D)) - 0.5`` of frame t's class token against each
            patch of the frame its window position ``j`` sees (offset ``j - W // 2``),
            in ``(-0.5, 0.5)``; 0 where the window sees zeros beyond the video. The
            correlation feature is ``temporal_weight * sum_j sum_p gate * U``. None when
            the backbone has no temporal correlation.
        temporal_sources (Tensor, optional): ``[N, W]`` int64, the packed row of the frame
            each window position sees, -1 for zeros (:func:`temporal_window_sources`).
        temporal_weight (float): The learned scale ``w_t`` of the correlation feature.
    """
    lengths: Tuple[int, ...]
    image_size: Tuple[int, int]
    aggregation: Tensor
    temporal_gates: Optional[Tensor] = None
    temporal_sources: Optional[Tensor] = None
    temporal_weight: float = 0.0

    @property
    def num_patches(self) -> int:
        """P, the patches per frame."""
        return self.aggregation.shape[-1] - 1

    def patch_grid(self) -> Tuple[int, int]:
        """``(rows, columns)`` of the patch grid, from P and the frames' aspect ratio."""
        height, width = self.image_size
        rows = max(1, round(math.sqrt(self.num_patches * height / width)))
        if self.num_patches % rows:
            raise ValueError(f'{self.num_patches} patches do not form a grid for frames of '
                             f'{height}x{width} pixels')
        return rows, self.num_patches // rows

    def patch_attention(self, layer: Union[int, str] = 'mean') -> Tensor:
        """The aggregation query's attention over the patches only.

        The weights of the patches, divided by their sum, so that every frame's map sums
        to 1 over its P patches (the class token's share is :meth:`cls_share`).

        Args:
            layer (int | str): A layer index (negative counts from the last) or
                ``'mean'``, the average of the layers' normalised maps.

        Returns:
            Tensor: ``[N, P]`` float32, rows summing to 1.
        """
        patches = self.aggregation[..., 1:]
        maps = patches / patches.sum(-1, keepdim=True)                # [L, N, P]
        if layer == 'mean':
            return maps.mean(0)
        if isinstance(layer, int) and -len(maps) <= layer < len(maps):
            return maps[layer]
        raise ValueError(f"layer must be 'mean' or an index below {len(maps)}, got {layer!r}")

    def cls_share(self, layer: Union[int, str] = 'mean') -> Tensor:
        """``[N]``: the aggregation query's weight on the class token (the rest went to
        the patches); ``layer`` as in :meth:`patch_attention`."""
        share = self.aggregation[..., 0]
        return share.mean(0) if layer == 'mean' else share[layer]

    def mean_temporal_gates(self) -> Optional[Tensor]:
        """``[N, W]``: the temporal gates averaged over the patches of each window
        position (0 for a position that sees zeros); None without temporal correlation."""
        if self.temporal_gates is None:
            return None
        return self.temporal_gates.mean(-1)

    def to(self, device: Union[str, torch.device]) -> 'AttentionRecord':
        """A copy with the tensors on ``device``."""
        def move(x: Optional[Tensor]) -> Optional[Tensor]:
            return None if x is None else x.to(device)
        return AttentionRecord(self.lengths, self.image_size, move(self.aggregation),
                               move(self.temporal_gates), move(self.temporal_sources),
                               self.temporal_weight)


AttentionRecords = List[AttentionRecord]

__all__ = ['AttentionRecord', 'AttentionRecords', 'temporal_window_sources']
