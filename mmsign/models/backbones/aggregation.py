"""The hierarchical aggregation query: one learnable token per frame, refined by an
attention step after every ViT block (``ADAPTSIGN_SPEC.md`` section 2)."""
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .vit_ops import LayerNorm, QuickGELU, merge_heads, split_heads


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


__all__ = ['AggregationBlock', 'AggregationQuery']
