"""AdaptSign's backbone on a frozen CLIP ViT from open_clip (``ADAPTSIGN_SPEC.md``
section 2): the OpenAI-layout stem ``ln_pre([cls; conv1(frames)] + pos)`` and blocks, with
the AdaptSign modules of :class:`~.adaptsign_base.AdaptSignViTBase` around them.
"""
from typing import Optional

import torch
from mmaction.registry import MODELS
from torch import Tensor, nn

from mmsign.utils.state_dict import diff_state_dicts

from .adaptsign_base import AdaptSignViTBase
from .clip_checkpoint import read_clip_image_tower
from .clip_vit import (
    ArchType,
    FrozenCLIPBlock,
    build_clip_vit,
    clip_vit_config,
    resolve_pretrained,
)
from .vit_ops import layer_norm


@MODELS.register_module()
class AdaptSignViT(AdaptSignViTBase):
    """Frozen CLIP ViT adapted to sign language videos (AdaptSign).

    The CLIP image tower (architecture and weights) comes from open_clip and stays frozen;
    trainable are the adapters, prefix tokens, aggregation blocks, the temporal
    correlation's LayerNorm and weight, ``alpha``, ``ln_post``, ``ln_post_cls`` and
    ``proj``. The aggregation ``query`` is frozen too unless ``train_query=True``: the
    released code never trains it (its random initial value is part of a trained model).

    Weights are loaded here, not in ``init_weights``, so that a model built for testing
    from a checkpoint of trainable parameters only still has its CLIP weights.

    Args:
        arch (str | dict): open_clip model name (``'ViT-B-16'``, ``'ViT-B-32'``,
            ``'ViT-L-14'``, ``'ViT-L-14-336'``; always with QuickGELU as OpenAI's weights
            need) or a dict ``width, layers, heads, patch_size, image_size, output_dim``
            (optional ``mlp_ratio``) for a small random ViT. Defaults to ``'ViT-B-16'``.
        pretrained (str, optional): CLIP weights: an open_clip tag (``'openai'``,
            downloaded by open_clip), a local file (OpenAI TorchScript ``.pt``, a state
            dict, an open_clip checkpoint), or None for random weights.
        num_prefix_tokens (int): Prefix key/value tokens per block; 0 disables them.
            Defaults to 8.
        adapter_ratio (float): Adapter bottleneck width / D. Defaults to 0.25.
        temporal_window (int, optional): Frames seen by the temporal correlation (odd);
            None disables it. Defaults to 5.
        temporal_edge (str): What the window sees beyond a video's first and last frame:
            ``'zeros'`` (nothing, the spec's definition) or ``'replicate'`` (copies of the
            edge frame: what the released code's real frames see, as it runs the window
            over videos padded with copies of their edge frames). Defaults to ``'zeros'``.
        train_query (bool): Train the aggregation query (the released code does not).
            Defaults to False.
        checkpointing (str): Activation checkpointing: ``'none'``, ``'selective'`` (each
            frozen MLP, the largest activations) or ``'full'`` (each block with its
            aggregation block). Defaults to ``'none'``.
    """

    def __init__(self,
                 arch: ArchType = 'ViT-B-16',
                 pretrained: Optional[str] = None,
                 num_prefix_tokens: int = 8,
                 adapter_ratio: float = 0.25,
                 temporal_window: Optional[int] = 5,
                 temporal_edge: str = 'zeros',
                 train_query: bool = False,
                 checkpointing: str = 'none') -> None:
        cfg, arch_name = clip_vit_config(arch)
        visual = build_clip_vit(cfg)
        source = 'random weights (pretrained=None)'
        if pretrained is not None:
            source = self._load_clip(visual, resolve_pretrained(arch, pretrained))
        super().__init__(
            stem=dict(conv1=visual.conv1,
                      class_embedding=visual.class_embedding,
                      positional_embedding=visual.positional_embedding,
                      ln_pre=visual.ln_pre),
            frozen_blocks=[FrozenCLIPBlock(block) for block in visual.transformer.resblocks],
            ln_post=visual.ln_post,
            proj=visual.proj,
            width=cfg['width'],
            num_heads=cfg['heads'],
            num_prefix_tokens=num_prefix_tokens,
            adapter_ratio=adapter_ratio,
            temporal_window=temporal_window,
            temporal_edge=temporal_edge,
            train_query=train_query,
            checkpointing=checkpointing)
        self.arch_name = arch_name
        self.image_size = cfg['image_size']
        self.log_summary(f'AdaptSignViT({arch_name})', f'CLIP image tower from {source}')

    @staticmethod
    def _load_clip(visual: nn.Module, path: str) -> str:
        """Load a CLIP checkpoint file into open_clip's tower, every tensor or fail."""
        weights = read_clip_image_tower(path)
        expected = visual.state_dict()
        diff = diff_state_dicts(weights.state_dict, expected)
        if diff:
            raise ValueError(
                f'{weights.source} does not fit the image tower of this arch: '
                f'{diff.describe()}; check that `arch` names the architecture of the '
                'checkpoint')
        visual.load_state_dict(weights.state_dict, strict=True)
        return (f'{weights.source}: all {len(expected)} image-tower tensors; '
                f'{weights.num_ignored} other tensors of the file ignored')

    def embed(self, frames: Tensor) -> Tensor:
        """Patch embedding, class token, positions, ``ln_pre``: ``[N, 3, H, W]`` -> ``[N, S, D]``.
        """
        x = self.conv1(frames)                                    # [N, D, H/p, W/p]
        x = x.flatten(2).transpose(1, 2)                          # [N, P, D]
        if x.shape[1] + 1 != self.positional_embedding.shape[0]:
            raise ValueError(f'frames of {tuple(frames.shape[-2:])} pixels give {x.shape[1]} '
                             f'patches; {self.arch_name} takes {self.image_size} pixels')
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        return layer_norm(x, self.ln_pre)
