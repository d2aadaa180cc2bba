"""AdaptSign's block: a frozen ViT block with prefix tokens and two adapters
(``ADAPTSIGN_SPEC.md`` section 2)."""
from typing import Callable, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .vit_ops import FrozenBlock, merge_heads, quick_gelu, split_heads


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


__all__ = ['Adapter', 'AdaptSignBlock', 'PrefixTokens']
