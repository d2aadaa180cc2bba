"""AdaptSign's backbone: a frozen CLIP ViT with adapters, prefix tokens, a hierarchical
aggregation query and temporal correlation (``ADAPTSIGN_SPEC.md`` section 2).

Per frame, ``N`` frames of several videos packed along dim 0::

    z = ln_pre([cls; patches] + pos)                              # [N, S, D]
    q = query                                                     # [N, D]
    for block l:   z = AdaptSignBlock_l(z);  q = AggregationBlock_l(q, z)
    cls = z[:, 0] + TemporalCorrelation(z)                        # window inside each video
    f = (ln_post(cls) * alpha_0 + ln_post_cls(q) * alpha_1) @ proj    # [N, E]
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmaction.registry import MODELS
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .adaptsign_layers import (
    TEMPORAL_EDGES,
    AdaptSignBlock,
    AggregationQuery,
    LayerNorm,
    TemporalCorrelation,
    temporal_window_weights,
)
from .clip_checkpoint import read_clip_image_tower
from .clip_vit import (
    ArchType,
    FrozenCLIPBlock,
    build_clip_vit,
    clip_vit_config,
    resolve_pretrained,
)

CHECKPOINTING_MODES = ('none', 'selective', 'full')


@MODELS.register_module()
class AdaptSignViT(BaseModule):
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
        super().__init__()
        if temporal_edge not in TEMPORAL_EDGES:
            raise ValueError(f'temporal_edge={temporal_edge!r}: use one of {TEMPORAL_EDGES}')
        if checkpointing not in CHECKPOINTING_MODES:
            raise ValueError(
                f'checkpointing={checkpointing!r}: use one of {CHECKPOINTING_MODES}')
        cfg, self.arch_name = clip_vit_config(arch)
        visual = build_clip_vit(cfg)
        source = 'random weights (pretrained=None)'
        if pretrained is not None:
            source = self._load_clip(visual, resolve_pretrained(arch, pretrained))

        width, self.image_size = cfg['width'], cfg['image_size']
        self.out_channels: int = cfg['output_dim']
        self.temporal_edge = temporal_edge
        self.train_query = train_query
        self.checkpointing = checkpointing

        # Frozen CLIP stem and blocks, taken over from open_clip's tower.
        self.conv1 = visual.conv1
        self.class_embedding = visual.class_embedding
        self.positional_embedding = visual.positional_embedding
        self.ln_pre = visual.ln_pre
        self.blocks = nn.ModuleList(
            AdaptSignBlock(FrozenCLIPBlock(block), width, num_prefix_tokens, adapter_ratio,
                           checkpoint_mlp=checkpointing == 'selective')
            for block in visual.transformer.resblocks)
        self.aggregation = AggregationQuery(width, cfg['layers'], cfg['heads'])
        self.temporal = (TemporalCorrelation(width, temporal_window)
                         if temporal_window else None)
        # Output head: ln_post and proj start from CLIP's and are trained.
        self.ln_post = visual.ln_post
        self.ln_post_cls = LayerNorm(width)
        self.proj = visual.proj
        self.alpha = nn.Parameter(torch.tensor([0.5, 0.5]))

        self._freeze()
        counts = self.parameter_counts()
        print_log(f'AdaptSignViT({self.arch_name}): CLIP image tower from {source}; '
                  f'{counts["trainable"]:,} trainable and {counts["frozen"]:,} frozen '
                  'parameters. Not from CLIP: the adapters, prefix tokens, aggregation '
                  'blocks, temporal correlation, ln_post_cls, alpha (trainable) and the '
                  f'aggregation query ({"trainable" if train_query else "frozen"}), '
                  'all at their initialisation', logger='current')

    @staticmethod
    def _load_clip(visual: nn.Module, path: str) -> str:
        """Load a CLIP checkpoint file into open_clip's tower, every tensor or fail."""
        weights = read_clip_image_tower(path)
        expected = visual.state_dict()
        missing = sorted(set(expected) - set(weights.state_dict))
        unexpected = sorted(set(weights.state_dict) - set(expected))
        mismatched = [f'{key}: file {tuple(value.shape)}, model {tuple(expected[key].shape)}'
                      for key, value in weights.state_dict.items()
                      if key in expected and value.shape != expected[key].shape]
        if missing or unexpected or mismatched:
            raise ValueError(
                f'{weights.source} does not fit the image tower of this arch: missing '
                f'{missing}, unexpected {unexpected}, shape mismatches {mismatched}; check '
                'that `arch` names the architecture of the checkpoint')
        visual.load_state_dict(weights.state_dict, strict=True)
        return (f'{weights.source}: all {len(expected)} image-tower tensors; '
                f'{weights.num_ignored} other tensors of the file ignored')

    def _frozen_clip_modules(self) -> List[nn.Module]:
        return [self.conv1, self.ln_pre, *(block.frozen for block in self.blocks)]

    def _freeze(self) -> None:
        for module in self._frozen_clip_modules():
            module.requires_grad_(False)
        self.class_embedding.requires_grad_(False)
        self.positional_embedding.requires_grad_(False)
        self.aggregation.query.requires_grad_(self.train_query)

    def clip_parameter_names(self) -> List[str]:
        """Names of the parameters that come from the CLIP checkpoint (``pretrained``).

        All the others (including the frozen aggregation ``query``) exist only in an
        AdaptSign checkpoint.
        """
        from_clip = {id(p) for module in [*self._frozen_clip_modules(), self.ln_post]
                     for p in module.parameters()}
        from_clip.update(id(p) for p in (self.class_embedding, self.positional_embedding,
                                         self.proj))
        return [name for name, p in self.named_parameters() if id(p) in from_clip]

    def parameter_counts(self) -> Dict[str, int]:
        """Number of trainable and frozen parameters: ``dict(trainable=..., frozen=...)``."""
        counts = {'trainable': 0, 'frozen': 0}
        for p in self.parameters():
            counts['trainable' if p.requires_grad else 'frozen'] += p.numel()
        return counts

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
        return self.ln_pre(x)

    def _layer(self, index: int, z: Tensor, q: Tensor) -> Tuple[Tensor, Tensor]:
        z = self.blocks[index](z)
        return z, self.aggregation.blocks[index](q, z)

    def forward(self, frames: Tensor, lengths: Sequence[int]) -> Tensor:
        """Per-frame features of several videos packed along dim 0.

        Args:
            frames (Tensor): ``[N, 3, H, W]``, the frames of video i are the ``lengths[i]``
                rows after those of the videos before it.
            lengths (Sequence[int]): Frames per video (host-side ints), summing to N.

        Returns:
            Tensor: ``[N, E]`` frame features, ``E = out_channels``.
        """
        lengths = tuple(int(length) for length in lengths)
        if sum(lengths) != frames.shape[0] or min(lengths, default=0) < 1:
            raise ValueError(f'lengths {lengths} must be positive and sum to the '
                             f'{frames.shape[0]} packed frames')
        z = self.embed(frames)
        q = self.aggregation.start(z.shape[0])
        full = self.checkpointing == 'full' and torch.is_grad_enabled()
        for index in range(len(self.blocks)):
            if full:
                z, q = checkpoint(self._layer, index, z, q, use_reentrant=False)
            else:
                z, q = self._layer(index, z, q)
        # The correlation is added to every token in the paper; only the class token
        # is used afterwards.
        cls = z[:, 0]
        if self.temporal is not None:
            weights = temporal_window_weights(lengths, self.temporal.window,
                                              self.temporal_edge, z.device)
            cls = cls + self.temporal(z, weights)
        features = self.ln_post(cls) * self.alpha[0] + self.ln_post_cls(q) * self.alpha[1]
        return features @ self.proj
