"""OpenAI-layout CLIP image towers built by open_clip, and the frozen-block interface.

This is the only file that knows open_clip's module layout. :class:`FrozenCLIPBlock` puts
one of its residual blocks behind the :class:`~.adaptsign_layers.FrozenBlock` interface;
the parameter names stay OpenAI's (``ln_1``, ``attn.in_proj_weight``, ``mlp.c_fc`` ...).
"""
import importlib
import os.path as osp
from types import ModuleType
from typing import Dict, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .vit_ops import QUICK_GELU_SCALE, layer_norm, packed_qkv_part

ArchType = Union[str, Dict[str, Union[int, float]]]


def _open_clip() -> ModuleType:
    """open_clip, imported when a tower is first built (it pulls timm and torchvision:
    seconds that ``import mmsign`` need not pay)."""
    return importlib.import_module('open_clip')

_ARCH_DICT_KEYS = ('width', 'layers', 'heads', 'patch_size', 'image_size', 'output_dim')
_ARCH_DICT_OPTIONAL = {'mlp_ratio': 4.0}
# open_clip vision settings that the OpenAI ViT layout has; any other setting must stay at
# its default, or the tower is not the one AdaptSign's blocks are written for.
_OPENAI_LAYOUT_KEYS = ('layers', 'width', 'head_width', 'mlp_ratio', 'patch_size', 'image_size')


def clip_vit_config(arch: ArchType) -> Tuple[dict, str]:
    """Resolve ``arch`` into the settings of an OpenAI-layout ViT.

    Args:
        arch (str | dict): An open_clip model name (``'ViT-B-16'``, ``'ViT-L-14-336'``,
            ...) or a dict with ``width, layers, heads, patch_size, image_size,
            output_dim`` (and optionally ``mlp_ratio``) for a small CLIP-shaped ViT.

    Returns:
        tuple[dict, str]: ``dict(width, layers, heads, patch_size, image_size, output_dim,
        mlp_ratio)`` and a printable name.
    """
    if isinstance(arch, dict):
        missing = [key for key in _ARCH_DICT_KEYS if key not in arch]
        unknown = sorted(set(arch) - set(_ARCH_DICT_KEYS) - set(_ARCH_DICT_OPTIONAL))
        if missing or unknown:
            raise ValueError(f'arch dict {arch}: missing keys {missing}, unknown keys {unknown}; '
                             f'expected {list(_ARCH_DICT_KEYS)} (+ optional mlp_ratio)')
        cfg = {**_ARCH_DICT_OPTIONAL, **arch}
        if cfg['width'] % cfg['heads']:
            raise ValueError(f'arch dict {arch}: width must be a multiple of heads')
        return cfg, 'custom ViT ' + ', '.join(f'{k}={v}' for k, v in arch.items())

    open_clip = _open_clip()
    model_cfg = open_clip.get_model_config(arch)
    if model_cfg is None:
        import difflib  # only for this message: the closest of open_clip's ~100 ViTs
        vits = [name for name in open_clip.list_models() if name.startswith('ViT-')]
        close = difflib.get_close_matches(str(arch), vits, n=5, cutoff=0.0)
        raise ValueError(f'open_clip has no model {arch!r}; its ViTs are {close} and '
                         f'{len(vits) - len(close)} more (the names closest to {arch!r}; '
                         'open_clip.list_models() lists them all)')
    vision = model_cfg['vision_cfg']
    defaults = open_clip.CLIPVisionCfg()
    other = {key: value for key, value in vision.items()
             if key not in _OPENAI_LAYOUT_KEYS and value != getattr(defaults, key, None)}
    if other or not isinstance(vision.get('layers', defaults.layers), int):
        raise ValueError(f'open_clip model {arch!r} is not an OpenAI-layout ViT '
                         f'(vision settings {vision}); AdaptSign supports ViT-B-16, ViT-B-32, '
                         'ViT-L-14, ViT-L-14-336 and others of their layout')
    width = vision.get('width', defaults.width)
    cfg = dict(
        width=width,
        layers=vision.get('layers', defaults.layers),
        heads=width // vision.get('head_width', defaults.head_width),
        patch_size=vision.get('patch_size', defaults.patch_size),
        image_size=vision.get('image_size', defaults.image_size),
        output_dim=model_cfg['embed_dim'],
        mlp_ratio=vision.get('mlp_ratio', defaults.mlp_ratio),
    )
    return cfg, arch


def build_clip_vit(cfg: dict) -> nn.Module:
    """Build open_clip's image tower with random weights and QuickGELU (OpenAI's).

    Args:
        cfg (dict): Settings from :func:`clip_vit_config`.
    """
    transformer = _open_clip().transformer
    return transformer.VisionTransformer(
        image_size=cfg['image_size'],
        patch_size=cfg['patch_size'],
        width=cfg['width'],
        layers=cfg['layers'],
        heads=cfg['heads'],
        mlp_ratio=cfg['mlp_ratio'],
        output_dim=cfg['output_dim'],
        act_layer=transformer.QuickGELU,
        norm_layer=transformer.LayerNorm,
    )


def resolve_pretrained(arch: ArchType, pretrained: str) -> str:
    """A local file path as it is, or an open_clip tag (``'openai'``) downloaded.

    Raises:
        FileNotFoundError: ``pretrained`` is neither a file nor a tag of ``arch``.
        ValueError: The tag's weights were trained with GELU, not QuickGELU.
    """
    if osp.isfile(pretrained):
        return pretrained
    open_clip = _open_clip()
    cfg = open_clip.get_pretrained_cfg(arch, pretrained) if isinstance(arch, str) else {}
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(arch) if isinstance(arch, str) else []
        raise FileNotFoundError(
            f'pretrained={pretrained!r} is neither a file nor an open_clip weight tag of '
            f'arch={arch!r} (tags: {tags}); give a local CLIP checkpoint path or a tag')
    if not (cfg.get('quick_gelu') or arch.endswith('-quickgelu')):
        raise ValueError(f'open_clip weights {arch}:{pretrained} were trained with GELU; '
                         'AdaptSign uses QuickGELU towers (OpenAI weights, pretrained="openai")')
    return open_clip.download_pretrained(cfg)


def _check_openai_block(block: nn.Module) -> None:
    transformer = _open_clip().transformer
    attn = getattr(block, 'attn', None)
    plain = (isinstance(block, transformer.ResidualAttentionBlock)
             and isinstance(block.ls_1, nn.Identity) and isinstance(block.ls_2, nn.Identity)
             and not hasattr(block, 'ln_1_kv')
             and isinstance(attn, nn.MultiheadAttention) and attn.in_proj_weight is not None
             and attn.in_proj_bias is not None and attn.bias_k is None
             and not attn.add_zero_attn
             and isinstance(block.mlp.gelu, transformer.QuickGELU))
    if not plain:
        raise TypeError(f'{type(block).__name__} is not an OpenAI CLIP residual block '
                        '(packed in-projection with bias, no layer scale, QuickGELU MLP)')


class FrozenCLIPBlock(nn.Module):
    """The frozen parts of one OpenAI CLIP residual block (``ln_1, attn, ln_2, mlp``).

    Implements :class:`~.adaptsign_layers.FrozenBlock`; it takes the block's modules
    over, so their parameter names and values are CLIP's.

    Args:
        block (ResidualAttentionBlock): An open_clip block of the OpenAI layout.
    """

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        _check_openai_block(block)
        self.num_heads = block.attn.num_heads
        self.ln_1 = block.ln_1
        self.attn = block.attn
        self.ln_2 = block.ln_2
        self.mlp = block.mlp

    def attn_norm(self, z: Tensor) -> Tensor:
        return layer_norm(z, self.ln_1)

    def qkv(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        return F.linear(x, self.attn.in_proj_weight, self.attn.in_proj_bias).chunk(3, dim=-1)

    def key(self, x: Tensor) -> Tensor:
        return packed_qkv_part(x, self.attn.in_proj_weight, self.attn.in_proj_bias, 1)

    def value(self, x: Tensor) -> Tensor:
        return packed_qkv_part(x, self.attn.in_proj_weight, self.attn.in_proj_bias, 2)

    def attn_proj(self, x: Tensor) -> Tensor:
        return self.attn.out_proj(x)

    def mlp_norm(self, z: Tensor) -> Tensor:
        return layer_norm(z, self.ln_2)

    def feed_forward(self, x: Tensor) -> Tensor:
        # c_proj(QuickGELU(c_fc(x))) with QuickGELU(h) = silu(1.702 h) / 1.702: both
        # scales ride on the GEMMs' alpha (addmm), so there is one element-wise kernel over
        # the 4D-wide hidden layer instead of three, and the frozen weights are used as
        # they are (no rescaled copy per call; state_dict, load_state_dict and .to() see
        # CLIP's own tensors).
        fc, proj = self.mlp.c_fc, self.mlp.c_proj
        rows = x.reshape(-1, x.shape[-1])
        hidden = F.silu(torch.addmm(fc.bias * QUICK_GELU_SCALE, rows, fc.weight.t(),
                                    alpha=QUICK_GELU_SCALE))
        out = torch.addmm(proj.bias, hidden, proj.weight.t(), alpha=1.0 / QUICK_GELU_SCALE)
        return out.view(*x.shape[:-1], out.shape[-1])
