"""Frozen ViTs from mmpretrain: ``mmpretrain.models.VisionTransformer`` and its weights.

This is the only file that knows mmpretrain's ViT layout. :class:`FrozenMMPretrainBlock`
puts one ``TransformerEncoderLayer`` behind the :class:`~.adaptsign_layers.FrozenBlock`
interface; the parameter names stay mmpretrain's (``ln1``, ``attn.qkv``, ``attn.proj``,
``attn.gamma1``, ``ln2``, ``ffn.layers.0.0``, ``ffn.gamma2`` ...).
"""
import functools
import importlib
import math
from types import SimpleNamespace
from typing import Dict, Tuple

from mmengine.runner import CheckpointLoader
from torch import Tensor, nn
from torch.nn import functional as F

from mmsign.utils.state_dict import diff_state_dicts, submodule_state_dict, tensors_of

from .vit_ops import layer_norm, packed_qkv_part

# Backbone tensors of pretraining checkpoints that a forward pass never uses.
PRETRAINING_ONLY = ('mask_token',)
VIT_TYPES = ('VisionTransformer', 'mmpretrain.VisionTransformer')


@functools.lru_cache(maxsize=None)
def mmpretrain_parts() -> SimpleNamespace:
    """mmpretrain's ViT classes, imported when a ViT is first built: ``mmpretrain.models``
    imports every model, head and metric of mmpretrain (seconds that ``import mmsign``
    need not pay). Looked up once; later calls (every forward's position embedding)
    return the same namespace."""
    vision_transformer = importlib.import_module(
        'mmpretrain.models.backbones.vision_transformer')
    utils = importlib.import_module('mmpretrain.models.utils')
    return SimpleNamespace(
        VisionTransformer=vision_transformer.VisionTransformer,
        TransformerEncoderLayer=vision_transformer.TransformerEncoderLayer,
        MultiheadAttention=utils.MultiheadAttention, SwiGLUFFN=utils.SwiGLUFFN,
        resize_pos_embed=utils.resize_pos_embed,
        FFN=importlib.import_module('mmcv.cnn.bricks.transformer').FFN)
# VisionTransformer arguments that shape the frozen network, passed on as they are.
VIT_KEYS = ('arch', 'img_size', 'patch_size', 'qkv_bias', 'norm_cfg', 'final_norm',
            'pre_norm', 'layer_scale_init_value', 'interpolate_mode', 'patch_cfg',
            'layer_cfgs')
# Arguments AdaptSign needs at these values: it reads the class token of the last block,
# and the frozen ViT runs without dropout (train() and eval() compute the same).
VIT_FIXED = dict(out_type='cls_token', with_cls_token=True, drop_rate=0.0,
                 drop_path_rate=0.0, in_channels=3)


def mmpretrain_vit_config(vit: dict) -> Tuple[dict, str]:
    """Check an mmpretrain ``VisionTransformer`` config for use as a frozen AdaptSign ViT.

    Args:
        vit (dict): The ``backbone`` dict of an mmpretrain config (``type`` optional),
            e.g. ``dict(arch='base', img_size=224, patch_size=14,
            layer_scale_init_value=1e-5)`` for DINOv2 ViT-B/14.

    Returns:
        tuple[dict, str]: ``VisionTransformer`` keyword arguments and a printable name.
    """
    if not isinstance(vit, dict):
        raise TypeError(f'vit must be a dict of mmpretrain VisionTransformer arguments, '
                        f'got {type(vit).__name__}')
    cfg = dict(vit)
    vit_type = cfg.pop('type', VIT_TYPES[0])
    if vit_type not in VIT_TYPES:
        raise ValueError(
            f'vit type {vit_type!r}: AdaptSign wraps mmpretrain\'s VisionTransformer only '
            '(its blocks are plain pre-norm blocks with a packed qkv projection); BEiTViT '
            '(relative position bias, q/v-only bias) and ViTEVA02 (rotary embedding) are '
            'different blocks')
    unknown = sorted(set(cfg) - set(VIT_KEYS) - set(VIT_FIXED))
    if unknown:
        hint = (' (weights: use the backbone\'s `pretrained` argument)'
                if 'init_cfg' in unknown else '')
        raise ValueError(f'vit {vit}: unsupported keys {unknown}{hint}; AdaptSign takes '
                         f'{list(VIT_KEYS)} and {VIT_FIXED}')
    wrong = {key: cfg[key] for key, value in VIT_FIXED.items()
             if key in cfg and cfg[key] != value}
    if wrong:
        raise ValueError(f'vit {vit}: {wrong} not supported; AdaptSign needs {VIT_FIXED} '
                         '(the class token of the last block, no dropout in the frozen ViT)')
    cfg.update(VIT_FIXED)
    cfg.setdefault('arch', 'base')
    arch = cfg['arch'] if isinstance(cfg['arch'], str) else 'custom'
    name = ', '.join([f'arch={arch}'] + [f'{key}={cfg[key]}' for key in
                                         ('img_size', 'patch_size', 'layer_scale_init_value',
                                          'pre_norm') if key in cfg])
    return cfg, name


def build_mmpretrain_vit(cfg: dict) -> nn.Module:
    """Build mmpretrain's ``VisionTransformer`` (random weights) from
    :func:`mmpretrain_vit_config`'s arguments."""
    return mmpretrain_parts().VisionTransformer(**cfg)


def _checkpoint_backbone(path: str) -> Tuple[Dict[str, Tensor], int]:
    """The ``backbone.*`` tensors of an mmpretrain checkpoint (or a bare ViT state dict),
    and the number of other tensors."""
    loaded = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    if not isinstance(loaded, dict):
        raise TypeError(f'{path} holds a {type(loaded).__name__}, not an mmpretrain '
                        'checkpoint')
    state = loaded.get('state_dict', loaded)
    state = tensors_of(state)
    backbone = submodule_state_dict(state, 'backbone.')
    if not backbone and 'pos_embed' in state:
        backbone = state
    if not backbone:
        raise KeyError(f'{path} has no mmpretrain ViT: expected keys \'backbone.pos_embed\', '
                       f"'backbone.layers.0.ln1.weight', ... (or the same without "
                       f'\'backbone.\'); its first keys are {sorted(state)[:5]}')
    return backbone, len(state) - len(backbone)


def _pos_embed_grid(num_tokens: int) -> int:
    side = math.isqrt(num_tokens - 1)
    return side if side * side == num_tokens - 1 else -1


def load_mmpretrain_vit(vit: nn.Module, path: str) -> str:
    """Load an mmpretrain checkpoint into ``vit``: every tensor of the ViT or fail.

    The position embedding may be for another input size (DINOv2's files are for 518
    pixels): mmpretrain's own load hook resizes it (bicubic) to ``vit``'s ``img_size``.
    Backbone tensors that ``vit`` has no place for fail the load (a DINOv2 file loaded
    without ``layer_scale_init_value`` would otherwise lose its layer scales), except the
    masked-image-modelling ``mask_token``, which only pretraining uses.

    Args:
        vit (VisionTransformer): Built by :func:`build_mmpretrain_vit`.
        path (str): A local file or a URL (mmengine downloads it to the torch hub cache).

    Returns:
        str: What was loaded, for the log.
    """
    weights, num_other = _checkpoint_backbone(path)
    expected = vit.state_dict()
    unused = sorted(set(weights) & set(PRETRAINING_ONLY))

    def resized_by_mmpretrain(key: str, theirs: tuple, ours: tuple) -> bool:
        # mmpretrain's load hook resizes a square position-embedding grid.
        return key == 'pos_embed' and theirs[-1] == ours[-1] and _pos_embed_grid(theirs[1]) > 0

    diff = diff_state_dicts(weights, expected, ignore=unused, shape_ok=resized_by_mmpretrain)
    if diff:
        raise ValueError(
            f'{path} does not fit this mmpretrain ViT: {diff.describe()}; check that `vit` '
            '(arch, patch_size, layer_scale_init_value, pre_norm, qkv_bias, final_norm, '
            'layer_cfgs) describes the checkpoint\'s model')
    file_grid = _pos_embed_grid(weights['pos_embed'].shape[1])
    vit.load_state_dict({key: weights[key] for key in expected}, strict=True)
    resized = ''
    if weights['pos_embed'].shape != expected['pos_embed'].shape:
        height, width = vit.patch_resolution
        resized = (f'; pos_embed resized from {file_grid}x{file_grid} to {height}x{width} '
                   'patches')
    return (f'{path}: all {len(expected)} ViT tensors{resized}; {num_other} tensors of '
            f'the file outside the backbone (head, neck ...) and {unused} ignored')


def _check_plain_block(layer: nn.Module) -> None:
    parts = mmpretrain_parts()
    attn, ffn = getattr(layer, 'attn', None), getattr(layer, 'ffn', None)
    plain_attn = (type(attn) is parts.MultiheadAttention and not attn.v_shortcut
                  and attn.input_dims == attn.embed_dims and attn.attn_drop == 0)
    plain_ffn = ((type(ffn) is parts.FFN or isinstance(ffn, parts.SwiGLUFFN))
                 and ffn.add_identity and getattr(ffn, 'out_dims', ffn.embed_dims)
                 == ffn.embed_dims)
    layer_norms = all(type(getattr(layer, name, None)) is nn.LayerNorm for name in ('ln1', 'ln2'))
    dropout = [name for name, module in layer.named_modules()
               if (isinstance(module, nn.Dropout) and module.p)
               or getattr(module, 'drop_prob', 0)]
    if (type(layer) is not parts.TransformerEncoderLayer or not plain_attn or not plain_ffn
            or not layer_norms):
        raise TypeError(f'{type(layer).__name__} is not a plain mmpretrain ViT block '
                        '(TransformerEncoderLayer: LayerNorms, MultiheadAttention without '
                        'v_shortcut, FFN or SwiGLUFFN with a residual)')
    if dropout:
        raise ValueError(f'the frozen ViT block has dropout in {dropout}: set its drop '
                         'rates to 0 (train() and eval() must compute the same)')


class FrozenMMPretrainBlock(nn.Module):
    """The frozen parts of one mmpretrain ViT block (``ln1, attn, ln2, ffn``).

    Implements :class:`~.adaptsign_layers.FrozenBlock`; it takes the block's modules
    over, so their parameter names and values are mmpretrain's. Layer scale (DINOv2's
    ``gamma1`` and ``gamma2``) belongs to the attention and MLP branches; AdaptSign's
    adapters run beside the scaled branches.

    Args:
        layer (TransformerEncoderLayer): A block of ``mmpretrain.models.VisionTransformer``
            with an ``FFN`` (GELU MLP) or ``SwiGLUFFN`` (DINOv2 giant).
    """

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        _check_plain_block(layer)
        self.swiglu = isinstance(layer.ffn, mmpretrain_parts().SwiGLUFFN)
        self.num_heads = layer.attn.num_heads
        self.ln1 = layer.ln1
        self.attn = layer.attn
        self.ln2 = layer.ln2
        self.ffn = layer.ffn

    def attn_norm(self, z: Tensor) -> Tensor:
        # In the token stream's dtype under autocast, as for CLIP (see layer_norm).
        return layer_norm(z, self.ln1)

    def qkv(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        return self.attn.qkv(x).chunk(3, dim=-1)

    def key(self, x: Tensor) -> Tensor:
        return packed_qkv_part(x, self.attn.qkv.weight, self.attn.qkv.bias, 1)

    def value(self, x: Tensor) -> Tensor:
        return packed_qkv_part(x, self.attn.qkv.weight, self.attn.qkv.bias, 2)

    def attn_proj(self, x: Tensor) -> Tensor:
        return self.attn.gamma1(self.attn.proj(x))

    def mlp_norm(self, z: Tensor) -> Tensor:
        return layer_norm(z, self.ln2)

    def feed_forward(self, x: Tensor) -> Tensor:
        ffn = self.ffn
        if self.swiglu:
            gate, hidden = ffn.w12(x).chunk(2, dim=-1)
            return ffn.gamma2(ffn.w3(ffn.norm(F.silu(gate) * hidden)))
        return ffn.gamma2(ffn.layers(x))
