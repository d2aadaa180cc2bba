"""The modules AdaptSign adds to a frozen image ViT, one class per concept of the paper.

Shapes: ``N`` frames (of several videos, packed), ``S = 1 + P`` tokens per frame (class
token and ``P`` patches), ``D`` the ViT width, ``M`` prefix tokens, ``W`` the temporal
window.

Nothing here knows where the frozen ViT comes from. :class:`AdaptSignBlock` reaches the
frozen block only through the small interface :class:`FrozenBlock` describes, so the same
modules work on any pre-norm ViT block that provides it.
"""
import functools
import math
from collections import OrderedDict
from typing import Callable, Optional, Protocol, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

_QUICK_GELU_SCALE = 1.702


def quick_gelu(x: Tensor) -> Tensor:
    """OpenAI CLIP's activation ``x * sigmoid(1.702 x)``.

    Written as ``silu(1.702 x) / 1.702`` (the same function): autograd then keeps one
    tensor for the backward instead of two, which matters for the 4D-wide MLP hidden layer.
    """
    return F.silu(x * _QUICK_GELU_SCALE) * (1.0 / _QUICK_GELU_SCALE)


class QuickGELU(nn.Module):
    """Module form of :func:`quick_gelu`."""

    def forward(self, x: Tensor) -> Tensor:
        return quick_gelu(x)


def layer_norm(x: Tensor, norm: nn.LayerNorm) -> Tensor:
    """``norm(x)`` computed and returned in ``x``'s dtype.

    Under GPU autocast ``F.layer_norm`` runs in fp32: a bf16/fp16 input would be cast to
    fp32, normalised into a new fp32 tensor and cast back, three passes over the token
    stream. With autocast off for the call and the (small) weights cast to ``x``'s dtype
    it is one kernel, which still accumulates the statistics in fp32. Outside autocast
    and for fp32 inputs this is ``F.layer_norm`` as it is.

    Args:
        x (Tensor): ``[..., D]``.
        norm (nn.LayerNorm): The norm whose weights, shape and eps to use.

    Returns:
        Tensor: Normalised ``x``, same shape and dtype.
    """
    device = x.device.type
    if x.dtype in (torch.float16, torch.bfloat16) and torch.is_autocast_enabled(device):
        weight = None if norm.weight is None else norm.weight.to(x.dtype)
        bias = None if norm.bias is None else norm.bias.to(x.dtype)
        with torch.autocast(device, enabled=False):
            return F.layer_norm(x, norm.normalized_shape, weight, bias, norm.eps)
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps).to(x.dtype)


class LayerNorm(nn.LayerNorm):
    """LayerNorm whose output keeps the input's dtype (:func:`layer_norm`).

    A bf16/fp16 token stream stays in its dtype (as CLIP's own LayerNorm makes it), so a
    normalised tensor used by several matrix multiplies is not cast once per use.
    """

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self)


class FrozenBlock(Protocol):
    """What :class:`AdaptSignBlock` needs from one frozen pre-norm ViT block.

    A pre-norm block computes ``z + attn_proj(MHA(qkv(attn_norm(z))))`` and then
    ``z + feed_forward(mlp_norm(z))``; each source of ViTs maps its block's parts onto
    these methods (``clip_vit.FrozenCLIPBlock``, ``mmpretrain_vit.FrozenMMPretrainBlock``).
    ``z`` is the block input ``[N, S, D]``; ``x`` any ``[..., D]`` tensor.
    """

    num_heads: int

    def attn_norm(self, z: Tensor) -> Tensor:
        """The norm before attention (CLIP's ``ln_1``)."""

    def qkv(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """The packed in-projection: queries, keys, values, each ``[..., D]``."""

    def key(self, x: Tensor) -> Tensor:
        """The key part of the in-projection only."""

    def value(self, x: Tensor) -> Tensor:
        """The value part of the in-projection only."""

    def attn_proj(self, x: Tensor) -> Tensor:
        """The attention output projection, and the block's layer scale if it has one
        (everything between the heads' outputs and the residual sum)."""

    def mlp_norm(self, z: Tensor) -> Tensor:
        """The norm before the MLP (CLIP's ``ln_2``)."""

    def feed_forward(self, x: Tensor) -> Tensor:
        """The MLP, and its layer scale if the block has one."""


def packed_qkv_part(x: Tensor, weight: Tensor, bias: Optional[Tensor], part: int) -> Tensor:
    """One part of a packed in-projection: ``x W_part^T + b_part``.

    Args:
        x (Tensor): ``[..., D]``.
        weight (Tensor): ``[3D, D]``, the query, key and value weights stacked.
        bias (Tensor, optional): ``[3D]`` or None (a ViT without qkv bias).
        part (int): 0 for queries, 1 for keys, 2 for values.

    Returns:
        Tensor: ``[..., D]``.
    """
    width = weight.shape[0] // 3
    rows = slice(part * width, (part + 1) * width)
    return F.linear(x, weight[rows], None if bias is None else bias[rows])


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """``[N, L, D]`` -> ``[N, heads, L, D / heads]`` (a view)."""
    n, length, width = x.shape
    return x.view(n, length, num_heads, width // num_heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """``[N, heads, L, d]`` -> ``[N, L, heads * d]``."""
    n, heads, length, head_dim = x.shape
    return x.transpose(1, 2).reshape(n, length, heads * head_dim)


class Adapter(nn.Module):
    """Bottleneck adapter ``c_out(QuickGELU(c_in(u)))``, a parallel branch of a block.

    ``c_out`` starts at zero, so a new adapter changes nothing until it is trained. There
    is no skip connection inside: the block adds the adapter's output to its residual.
    AdaptSign uses two per block, the spatial adapter (beside attention) and the MLP
    adapter (beside the MLP).

    Args:
        width (int): Token width D.
        ratio (float): Bottleneck width as a fraction of D. Defaults to 0.25.
    """

    def __init__(self, width: int, ratio: float = 0.25) -> None:
        super().__init__()
        hidden = int(width * ratio)
        self.c_in = nn.Linear(width, hidden)
        self.c_out = nn.Linear(hidden, width)
        nn.init.zeros_(self.c_out.weight)
        nn.init.zeros_(self.c_out.bias)

    def forward(self, u: Tensor) -> Tensor:
        """``[..., D]`` -> ``[..., D]``."""
        return self.c_out(quick_gelu(self.c_in(u)))


class PrefixTokens(nn.Module):
    """Learnable key and value tokens appended to one block's attention.

    They join the keys and values *before* the frozen in-projection, so they pass through
    the frozen key/value weights like ordinary tokens (but not through ``ln_1``).

    Args:
        width (int): Token width D.
        num_tokens (int): M, tokens for the keys and as many for the values. Defaults to 8.
    """

    def __init__(self, width: int, num_tokens: int = 8) -> None:
        super().__init__()
        scale = width ** -0.5
        self.key = nn.Parameter(torch.randn(num_tokens, width) * scale)
        self.value = nn.Parameter(torch.randn(num_tokens, width) * scale)

    def forward(self, key_proj: Callable[[Tensor], Tensor],
                value_proj: Callable[[Tensor], Tensor]) -> Tuple[Tensor, Tensor]:
        """Project the tokens with the frozen block's key and value weights.

        Returns:
            tuple[Tensor, Tensor]: Projected keys and values, ``[M, D]`` each, the same for
            every frame.
        """
        return key_proj(self.key), value_proj(self.value)


class AdaptSignBlock(nn.Module):
    """One frozen ViT block with AdaptSign's prefix tokens and two adapters::

        a = ln_1(z)
        z = z + attn_proj(SDPA(q(a), [k(a); k(K)], [v(a); v(V)])) + spatial_adapter(z)
        z = z + feed_forward(ln_2(z)) + mlp_adapter(z)

    Args:
        frozen (FrozenBlock): The frozen block (its parameters must not require grad).
        width (int): Token width D.
        num_prefix_tokens (int): Prefix key/value tokens; 0 leaves attention as it is.
        adapter_ratio (float): Adapter bottleneck width as a fraction of D.
        checkpoint_mlp (bool): Recompute ``mlp(ln_2(z))`` in the backward instead of
            storing its activations (the largest of the block).
    """

    def __init__(self, frozen: FrozenBlock, width: int, num_prefix_tokens: int = 8,
                 adapter_ratio: float = 0.25, checkpoint_mlp: bool = False) -> None:
        super().__init__()
        self.frozen = frozen
        self.prefix = PrefixTokens(width, num_prefix_tokens) if num_prefix_tokens else None
        self.spatial_adapter = Adapter(width, adapter_ratio)
        self.mlp_adapter = Adapter(width, adapter_ratio)
        self.checkpoint_mlp = checkpoint_mlp

    def attention(self, z: Tensor) -> Tensor:
        """Frozen multi-head attention with the prefix tokens: ``[N, S, D]`` -> same."""
        frozen = self.frozen
        q, k, v = frozen.qkv(frozen.attn_norm(z))
        if self.prefix is not None:
            prefix_k, prefix_v = self.prefix(frozen.key, frozen.value)
            n = z.shape[0]
            k = torch.cat([k, prefix_k.expand(n, -1, -1)], dim=1)  # [N, S+M, D]
            v = torch.cat([v, prefix_v.expand(n, -1, -1)], dim=1)
        heads = frozen.num_heads
        out = F.scaled_dot_product_attention(
            split_heads(q, heads), split_heads(k, heads), split_heads(v, heads))
        return frozen.attn_proj(merge_heads(out))

    def frozen_mlp(self, z: Tensor) -> Tensor:
        """``mlp(ln_2(z))``: ``[N, S, D]`` -> same."""
        return self.frozen.feed_forward(self.frozen.mlp_norm(z))

    def forward(self, z: Tensor) -> Tensor:
        """``[N, S, D]`` -> ``[N, S, D]``."""
        z = z + self.attention(z) + self.spatial_adapter(z)
        if self.checkpoint_mlp and torch.is_grad_enabled():
            mlp = checkpoint(self.frozen_mlp, z, use_reentrant=False)
        else:
            mlp = self.frozen_mlp(z)
        return z + mlp + self.mlp_adapter(z)


class AggregationBlock(nn.Module):
    """One step of the hierarchical aggregation query, run after each ViT block::

        q = q + MHA(ln_1(q), ln_1(z), ln_1(z))     # the query attends to all S tokens
        q = q + mlp(ln_2(q))                       # D -> D -> D, QuickGELU

    ``LN([q; z])`` of the paper is computed as ``[LN(q); LN(z)]`` (LayerNorm works per
    token), which saves concatenating the query with the frame's tokens.

    Args:
        width (int): Token width D.
        num_heads (int): Attention heads (AdaptSign uses the ViT's).
    """

    def __init__(self, width: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = LayerNorm(width)
        # Holds the packed in-projection and out_proj (and their initialisation);
        # the computation goes through SDPA with a single query per frame.
        self.attn = nn.MultiheadAttention(width, num_heads, batch_first=True)
        self.ln_2 = LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ('c_fc', nn.Linear(width, width)),
            ('gelu', QuickGELU()),
            ('c_proj', nn.Linear(width, width)),
        ]))

    def forward(self, q: Tensor, z: Tensor) -> Tensor:
        """Update the query of every frame.

        Args:
            q (Tensor): Queries ``[N, D]``.
            z (Tensor): Tokens after the ViT block ``[N, S, D]``.

        Returns:
            Tensor: Updated queries ``[N, D]``.
        """
        width = q.shape[-1]
        weight, bias = self.attn.in_proj_weight, self.attn.in_proj_bias
        query = F.linear(self.ln_1(q), weight[:width], bias[:width])           # [N, D]
        k, v = F.linear(self.ln_1(z), weight[width:], bias[width:]).chunk(2, -1)  # [N, S, D]
        heads = self.num_heads
        out = F.scaled_dot_product_attention(
            split_heads(query[:, None], heads), split_heads(k, heads), split_heads(v, heads))
        q = q + self.attn.out_proj(merge_heads(out)[:, 0])
        return q + self.mlp(self.ln_2(q))

    def attention_weights(self, q: Tensor, z: Tensor) -> Tensor:
        """The query's attention weights in :meth:`forward`, for inspection.

        :meth:`forward` runs SDPA, which never forms the weights; this recomputes them
        with an explicit softmax (in fp32).

        Args:
            q (Tensor): Queries before this block ``[N, D]``.
            z (Tensor): Tokens after the ViT block ``[N, S, D]``.

        Returns:
            Tensor: ``[N, S]`` float32, the softmax weights over the S tokens (class
            token and patches) averaged over the heads; every row sums to 1.
        """
        width = q.shape[-1]
        weight, bias = self.attn.in_proj_weight, self.attn.in_proj_bias
        query = F.linear(self.ln_1(q), weight[:width], bias[:width])             # [N, D]
        key = F.linear(self.ln_1(z), weight[width:2 * width], bias[width:2 * width])
        query = split_heads(query[:, None].float(), self.num_heads)             # [N, h, 1, d]
        key = split_heads(key.float(), self.num_heads)                          # [N, h, S, d]
        with torch.autocast(q.device.type, enabled=False):
            scores = query @ key.transpose(-1, -2) * query.shape[-1] ** -0.5  # [N, h, 1, S]
        return scores.softmax(-1).mean(1)[:, 0]


class AggregationQuery(nn.Module):
    """The hierarchical aggregation query: one learnable token refined after every block.

    Args:
        width (int): Token width D.
        num_layers (int): ViT blocks, one :class:`AggregationBlock` each.
        num_heads (int): Attention heads of the aggregation blocks.
    """

    def __init__(self, width: int, num_layers: int, num_heads: int) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.rand(1, width))
        self.blocks = nn.ModuleList(
            AggregationBlock(width, num_heads) for _ in range(num_layers))

    def start(self, num_frames: int) -> Tensor:
        """The initial query of every frame, ``[N, D]``."""
        return self.query.expand(num_frames, -1)


TEMPORAL_EDGES = ('zeros', 'replicate')


@functools.lru_cache(maxsize=256)
def _window_weights_cpu(lengths: Tuple[int, ...], window: int, edge: str) -> Tensor:
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


def temporal_window_weights(lengths: Sequence[int], window: int, edge: str,
                            device: torch.device) -> Tensor:
    """How often each frame is seen by each window position of its neighbours.

    Entry ``[s, j]`` counts the uses of source frame ``s`` by the window of frame
    ``s - (j - window // 2)``: 1 inside a video, 0 across video boundaries; with
    ``edge='replicate'`` a video's edge frames also stand in for the missing neighbours
    beyond the edge (counts up to ``window // 2 + 1``). Built on the host from the Python
    lengths and copied asynchronously, so no device synchronisation happens.

    Args:
        lengths (Sequence[int]): Frames per video, packed in this order.
        window (int): Odd window size W.
        edge (str): ``'zeros'`` or ``'replicate'``.
        device (torch.device): Where the weights are needed.

    Returns:
        Tensor: ``[sum(lengths), W]`` float32.
    """
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

    def window_gates(self, z: Tensor, sources: Tensor) -> Tensor:
        """Every frame's gates against the patches its window sees, for inspection.

        :meth:`forward` sums the gated patches without keeping the gates per frame; this
        recomputes them (in fp32) as the spec writes them.

        Args:
            z (Tensor): Tokens after the last block ``[N, S, D]``, videos packed.
            sources (Tensor): ``[N, W]`` int64, the packed row each window position of
                each frame sees, -1 for zeros beyond the video
                (:func:`~.attention_maps.temporal_window_sources`).

        Returns:
            Tensor: ``[N, W, P]`` float32, ``sigmoid(c_t . U / sqrt(D)) - 0.5``; 0 where
            the window sees zeros.
        """
        y = self.ln(z).float()
        cls = y[:, 0, :, None] * (1.0 / math.sqrt(y.shape[-1]))         # [N, D, 1]
        patches = y[:, 1:]                                               # [N, P, D]
        gates = []
        with torch.autocast(z.device.type, enabled=False):
            for j in range(self.window):
                seen = patches[sources[:, j].clamp(min=0)]               # [N, P, D]
                gate = torch.sigmoid(torch.bmm(seen, cls)[..., 0]) - 0.5  # [N, P]
                gates.append(gate * (sources[:, j, None] >= 0))
        return torch.stack(gates, dim=1)


__all__ = [
    'Adapter', 'AdaptSignBlock', 'AggregationBlock', 'AggregationQuery', 'FrozenBlock',
    'LayerNorm', 'PrefixTokens', 'QuickGELU', 'TemporalCorrelation', 'TEMPORAL_EDGES',
    'layer_norm', 'packed_qkv_part', 'quick_gelu', 'temporal_window_weights'
]
