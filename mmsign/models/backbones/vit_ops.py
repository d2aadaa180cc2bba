"""Operations on the tokens of a frozen pre-norm ViT that AdaptSign's modules share.

CLIP's activation, a dtype-keeping LayerNorm, the :class:`FrozenBlock` interface each
source of ViTs implements, and the head split/merge of multi-head attention.
"""
from typing import Optional, Protocol, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: The scale of OpenAI CLIP's QuickGELU, ``x * sigmoid(1.702 x)``.
QUICK_GELU_SCALE = 1.702



def quick_gelu(x: Tensor) -> Tensor:
    """OpenAI CLIP's activation ``x * sigmoid(1.702 x)``.

    Written as ``silu(1.702 x) / 1.702`` (the same function): autograd then keeps one
    tensor for the backward instead of two, which matters for the 4D-wide MLP hidden layer.
    """
    return F.silu(x * QUICK_GELU_SCALE) * (1.0 / QUICK_GELU_SCALE)


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


__all__ = ['FrozenBlock', 'LayerNorm', 'QUICK_GELU_SCALE', 'QuickGELU', 'layer_norm',
           'merge_heads', 'packed_qkv_part', 'quick_gelu', 'split_heads']
