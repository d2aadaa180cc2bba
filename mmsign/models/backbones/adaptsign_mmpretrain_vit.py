"""AdaptSign's backbone on a frozen ViT from mmpretrain (DINOv2, DeiT, ViT, its CLIP
conversions ...): mmpretrain's stem ``pre_norm([cls; patch_embed(frames)] + pos)`` and
blocks, with the AdaptSign modules of :class:`~.adaptsign_base.AdaptSignViTBase` around
them.
"""
from typing import Optional

import torch
from mmaction.registry import MODELS
from torch import Tensor, nn

from .adaptsign_base import AdaptSignViTBase
from .adaptsign_layers import layer_norm
from .mmpretrain_vit import (
    FrozenMMPretrainBlock,
    build_mmpretrain_vit,
    load_mmpretrain_vit,
    mmpretrain_parts,
    mmpretrain_vit_config,
)


@MODELS.register_module()
class AdaptSignMMPretrainViT(AdaptSignViTBase):
    """Frozen mmpretrain ``VisionTransformer`` adapted to sign language videos (AdaptSign).

    The same modules as :class:`~.adaptsign_vit.AdaptSignViT` on a ViT that mmpretrain
    builds: ``vit`` is the ``backbone`` dict of an mmpretrain config. Frozen: the patch
    embedding, class token, position embedding, pre-norm and blocks. Trained from the
    checkpoint: the final norm (``ln_post``, mmpretrain's ``ln1``). The ViT has no output
    projection, so ``out_channels`` is its width D.

    Weights are loaded here, not in ``init_weights`` (see :class:`AdaptSignViT`).

    Args:
        vit (dict): mmpretrain ``VisionTransformer`` arguments (``type`` optional):
            ``arch`` (an mmpretrain arch name such as ``'base'``, ``'deit-small'``,
            ``'dinov2-small'``, or a dict ``embed_dims, num_layers, num_heads,
            feedforward_channels``), ``img_size``, ``patch_size``,
            ``layer_scale_init_value``, ``pre_norm``, ``qkv_bias``, ``norm_cfg``,
            ``final_norm``, ``interpolate_mode``, ``patch_cfg``, ``layer_cfgs``. E.g.
            DINOv2 ViT-B/14 at 224 pixels: ``dict(arch='base', img_size=224,
            patch_size=14, layer_scale_init_value=1e-5)``.
        pretrained (str, optional): An mmpretrain checkpoint (local file or URL, e.g. from
            the OpenMMLab model zoo), or None for random weights. Its position embedding
            is resized to ``img_size`` if it was trained at another size.
        num_prefix_tokens (int): Prefix key/value tokens per block; 0 disables them.
            Defaults to 8.
        adapter_ratio (float): Adapter bottleneck width / D. Defaults to 0.25.
        temporal_window (int, optional): Frames seen by the temporal correlation (odd);
            None disables it. Defaults to 5.
        temporal_edge (str): ``'zeros'`` or ``'replicate'``, as for
            :class:`AdaptSignViT`. Defaults to ``'zeros'``.
        train_query (bool): Train the aggregation query. Defaults to False.
        checkpointing (str): ``'none'``, ``'selective'`` or ``'full'``, as for
            :class:`AdaptSignViT`. Defaults to ``'none'``.
    """

    def __init__(self,
                 vit: dict,
                 pretrained: Optional[str] = None,
                 num_prefix_tokens: int = 8,
                 adapter_ratio: float = 0.25,
                 temporal_window: Optional[int] = 5,
                 temporal_edge: str = 'zeros',
                 train_query: bool = False,
                 checkpointing: str = 'none') -> None:
        cfg, name = mmpretrain_vit_config(vit)
        backbone = build_mmpretrain_vit(cfg)
        source = 'random weights (pretrained=None)'
        if pretrained is not None:
            source = load_mmpretrain_vit(backbone, pretrained)
        super().__init__(
            stem=dict(patch_embed=backbone.patch_embed,
                      cls_token=backbone.cls_token,
                      pos_embed=backbone.pos_embed,
                      pre_norm=backbone.pre_norm),
            frozen_blocks=[FrozenMMPretrainBlock(layer) for layer in backbone.layers],
            ln_post=backbone.ln1 if backbone.final_norm else nn.Identity(),
            proj=None,
            width=backbone.embed_dims,
            num_heads=backbone.arch_settings['num_heads'],
            num_prefix_tokens=num_prefix_tokens,
            adapter_ratio=adapter_ratio,
            temporal_window=temporal_window,
            temporal_edge=temporal_edge,
            train_query=train_query,
            checkpointing=checkpointing)
        self.arch_name = name
        self.patch_resolution = backbone.patch_resolution
        self.interpolate_mode = backbone.interpolate_mode
        self.log_summary(f'AdaptSignMMPretrainViT({name})', f'mmpretrain ViT from {source}')

    def embed(self, frames: Tensor) -> Tensor:
        """Patch embedding, class token, positions, pre-norm: ``[N, 3, H, W]`` ->
        ``[N, 1 + P, D]``.

        Frames of another size than the ViT's ``img_size`` work as in mmpretrain: the
        position embedding is interpolated to their patch grid.
        """
        x, grid = self.patch_embed(frames)                        # [N, P, D], (H/p, W/p)
        cls = self.cls_token.to(x.dtype).expand(x.shape[0], -1, -1)
        pos = mmpretrain_parts().resize_pos_embed(
            self.pos_embed, self.patch_resolution, grid, mode=self.interpolate_mode,
            num_extra_tokens=1)
        x = torch.cat([cls, x], dim=1) + pos.to(x.dtype)
        if isinstance(self.pre_norm, nn.LayerNorm):  # CLIP's ln_pre (pre_norm=True)
            return layer_norm(x, self.pre_norm)
        return self.pre_norm(x)
