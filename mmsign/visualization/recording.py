"""What the AdaptSign backbone looks at, recorded through forward hooks.

:func:`record_attention` installs forward hooks on a backbone
(:class:`~mmsign.models.backbones.AdaptSignViTBase`) for the duration of a ``with``
block; every backbone forward inside it appends one :class:`AttentionRecord`. The
backbone's own forward knows nothing of it and keeps its fused attention
(``F.scaled_dot_product_attention``), which never forms the attention weights: the hooks
see the inputs of each aggregation block and of the temporal correlation and form the
weights beside the forward with an explicit softmax (and the temporal gates one window
position at a time), in fp32, so the features stay bit-identical. Outside the block no
hook is installed and nothing extra is computed.
"""
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from mmsign.models.backbones import (
    AdaptSignViTBase,
    AggregationBlock,
    TemporalCorrelation,
    split_heads,
)


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


def aggregation_weights(block: AggregationBlock, q: Tensor, z: Tensor) -> Tensor:
    """The query's attention weights inside ``block(q, z)``.

    The block runs SDPA, which never forms the weights; they are formed here from the
    block's own projections with an explicit softmax, in fp32.

    Args:
        block (AggregationBlock): One aggregation step.
        q (Tensor): Its query input ``[N, D]`` (before the step).
        z (Tensor): Its token input ``[N, S, D]`` (after the ViT block).

    Returns:
        Tensor: ``[N, S]`` float32, the softmax weights over the S tokens (class token and
        patches) averaged over the heads; every row sums to 1.
    """
    width = q.shape[-1]
    weight, bias = block.attn.in_proj_weight, block.attn.in_proj_bias
    query = torch.nn.functional.linear(block.ln_1(q), weight[:width], bias[:width])
    key = torch.nn.functional.linear(block.ln_1(z), weight[width:2 * width],
                                     bias[width:2 * width])
    query = split_heads(query[:, None].float(), block.num_heads)          # [N, h, 1, d]
    key = split_heads(key.float(), block.num_heads)                       # [N, h, S, d]
    with torch.autocast(q.device.type, enabled=False):
        scores = query @ key.transpose(-1, -2) * query.shape[-1] ** -0.5  # [N, h, 1, S]
    return scores.softmax(-1).mean(1)[:, 0]


def window_gates(module: TemporalCorrelation, z: Tensor, sources: Tensor) -> Tensor:
    """Every frame's gates against the patches its window sees.

    ``module(z, ...)`` sums the gated patches without keeping the gates per frame; they
    are formed here as the spec writes them, one window position at a time, in fp32.

    Args:
        module (TemporalCorrelation): The backbone's temporal correlation.
        z (Tensor): Its input, the tokens after the last block ``[N, S, D]``.
        sources (Tensor): ``[N, W]`` int64 from :func:`temporal_window_sources`.

    Returns:
        Tensor: ``[N, W, P]`` float32, ``sigmoid(c_t . U / sqrt(D)) - 0.5``; 0 where the
        window sees zeros.
    """
    y = module.ln(z).float()
    cls = y[:, 0, :, None] * (1.0 / math.sqrt(y.shape[-1]))         # [N, D, 1]
    patches = y[:, 1:]                                               # [N, P, D]
    gates = []
    with torch.autocast(z.device.type, enabled=False):
        for j in range(module.window):
            seen = patches[sources[:, j].clamp(min=0)]               # [N, P, D]
            gate = torch.sigmoid(torch.bmm(seen, cls)[..., 0]) - 0.5  # [N, P]
            gates.append(gate * (sources[:, j, None] >= 0))
    return torch.stack(gates, dim=1)


class _Recorder:
    """The hooks of one :func:`record_attention` block and the forward in progress."""

    def __init__(self, backbone: AdaptSignViTBase, records: AttentionRecords) -> None:
        self.backbone = backbone
        self.records = records
        # Set between the backbone's pre-hook and its hook: a block recomputed in the
        # backward (activation checkpointing) is not a new forward and is not recorded.
        self.pending: Optional[dict] = None

    def before_forward(self, module: nn.Module, args: Tuple[Any, ...],
                       kwargs: Dict[str, Any]) -> None:
        bound = dict(zip(('frames', 'lengths'), args), **kwargs)
        frames, lengths = bound['frames'], bound['lengths']
        self.pending = dict(lengths=tuple(int(n) for n in lengths),
                            image_size=tuple(frames.shape[-2:]), aggregation=[],
                            gates=None, sources=None, weight=0.0)

    def after_aggregation(self, block: nn.Module, args: Tuple[Any, ...], output: Any) -> None:
        if self.pending is not None:
            with torch.no_grad():
                self.pending['aggregation'].append(aggregation_weights(block, *args[:2]))

    def after_temporal(self, module: nn.Module, args: Tuple[Any, ...], output: Any) -> None:
        if self.pending is None:
            return
        z = args[0]
        with torch.no_grad():
            sources = temporal_window_sources(self.pending['lengths'], module.window,
                                              self.backbone.temporal_edge).to(z.device)
            self.pending.update(gates=window_gates(module, z, sources), sources=sources,
                                weight=float(module.weight))

    def after_forward(self, module: nn.Module, args: Tuple[Any, ...], output: Any) -> None:
        pending, self.pending = self.pending, None
        if pending is None:
            return
        self.records.append(AttentionRecord(
            pending['lengths'], pending['image_size'], torch.stack(pending['aggregation']),
            pending['gates'], pending['sources'], pending['weight']))


#: Backbones with a :func:`record_attention` block open (by id; removed on exit).
_ACTIVE = set()


@contextmanager
def record_attention(backbone: nn.Module) -> Iterator[AttentionRecords]:
    """Record what the aggregation query and the temporal correlation look at.

    Every forward of ``backbone`` inside the ``with`` block appends one
    :class:`AttentionRecord` (detached tensors on the frames' device) to the yielded
    list. Forward hooks do the recording (see the module docstring); they are removed
    when the block ends, also on an error.

    Example::

        with record_attention(model.backbone) as records:
            model(inputs, lengths, mode='tensor')
        heat = records[0].patch_attention('mean')    # [N, P], rows sum to 1

    Args:
        backbone (nn.Module): An AdaptSign backbone
            (:class:`~mmsign.models.backbones.AdaptSignViTBase`).

    Yields:
        list[AttentionRecord]: One record per forward, in call order.

    Raises:
        TypeError: ``backbone`` is not an AdaptSign backbone.
        RuntimeError: A block is already open on this backbone.
    """
    if not isinstance(backbone, AdaptSignViTBase):
        raise TypeError(f'{type(backbone).__name__} cannot record attention: attention maps '
                        'need an AdaptSign backbone (AdaptSignViT, AdaptSignMMPretrainViT)')
    if id(backbone) in _ACTIVE:
        raise RuntimeError('record_attention() is already active on this backbone')
    records: AttentionRecords = []
    recorder = _Recorder(backbone, records)
    handles = [backbone.register_forward_pre_hook(recorder.before_forward, with_kwargs=True),
               backbone.register_forward_hook(recorder.after_forward)]
    handles += [block.register_forward_hook(recorder.after_aggregation)
                for block in backbone.aggregation.blocks]
    if backbone.temporal is not None:
        handles.append(backbone.temporal.register_forward_hook(recorder.after_temporal))
    _ACTIVE.add(id(backbone))
    try:
        yield records
    finally:
        _ACTIVE.discard(id(backbone))
        for handle in handles:
            handle.remove()


__all__ = ['AttentionRecord', 'AttentionRecords', 'aggregation_weights', 'record_attention',
           'temporal_window_sources', 'window_gates']
