"""AdaptSign's modules around any frozen pre-norm ViT (``ADAPTSIGN_SPEC.md`` section 2).

Per frame, ``N`` frames of several videos packed along dim 0::

    z = stem(frames)                            # [N, S, D]: class token first, then patches
    q = query                                                     # [N, D]
    for block l:   z = AdaptSignBlock_l(z);  q = AggregationBlock_l(q, z)
    cls = z[:, 0] + TemporalCorrelation(z)                        # window inside each video
    f = (ln_post(cls) * alpha_0 + ln_post_cls(q) * alpha_1) @ proj    # [N, E]

:class:`AdaptSignViTBase` holds all of it except the stem, which a subclass writes for its
source of frozen ViTs (open_clip: :class:`~.adaptsign_vit.AdaptSignViT`, mmpretrain:
:class:`~.adaptsign_mmpretrain_vit.AdaptSignMMPretrainViT`). The subclass hands over the
source's frozen parts: the stem modules, each block behind the
:class:`~.adaptsign_layers.FrozenBlock` interface, the final norm and the projection.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from mmsign.utils.lengths import host_lengths

from .adaptsign_layers import (
    TEMPORAL_EDGES,
    AdaptSignBlock,
    AggregationQuery,
    FrozenBlock,
    LayerNorm,
    TemporalCorrelation,
    temporal_window_weights,
)

CHECKPOINTING_MODES = ('none', 'selective', 'full')

StemPart = Union[nn.Module, nn.Parameter]


class AdaptSignViTBase(BaseModule):
    """A frozen pre-norm ViT with AdaptSign's adapters, prefix tokens, aggregation query,
    temporal correlation and output mix. Subclasses provide the ViT and :meth:`embed`.

    Trainable: the adapters, prefix tokens, aggregation blocks, the temporal correlation's
    LayerNorm and weight, ``alpha``, ``ln_post``, ``ln_post_cls`` and ``proj``. Frozen:
    the stem and the blocks of the ViT, and the aggregation ``query`` unless
    ``train_query=True`` (the released code never trains it; its random initial value is
    part of a trained model).

    Args:
        stem (dict[str, nn.Module | nn.Parameter]): The ViT's frozen parts before the
            blocks (patch embedding, class token, position embedding, pre-norm), registered
            under these names in this order; :meth:`embed` uses them.
        frozen_blocks (Sequence[FrozenBlock]): The ViT's blocks, first to last.
        ln_post (nn.Module): The ViT's final norm (trained from its pretrained value), or
            ``nn.Identity()`` for a ViT without one.
        proj (nn.Parameter, optional): ``[D, E]`` output projection (trained from its
            pretrained value), or None for ``E = D``.
        width (int): Token width D.
        num_heads (int): Attention heads of the ViT, used by the aggregation blocks too.
        num_prefix_tokens (int): Prefix key/value tokens per block; 0 disables them.
        adapter_ratio (float): Adapter bottleneck width / D.
        temporal_window (int, optional): Frames seen by the temporal correlation (odd);
            None disables it.
        temporal_edge (str): What the window sees beyond a video's first and last frame:
            ``'zeros'`` (nothing, the spec's definition) or ``'replicate'`` (copies of the
            edge frame: what the released code's real frames see, as it runs the window
            over videos padded with copies of their edge frames).
        train_query (bool): Train the aggregation query (the released code does not).
        checkpointing (str): Activation checkpointing: ``'none'``, ``'selective'`` (each
            frozen MLP, the largest activations) or ``'full'`` (each block with its
            aggregation block).
    """

    def __init__(self,
                 stem: Dict[str, StemPart],
                 frozen_blocks: Sequence[FrozenBlock],
                 ln_post: nn.Module,
                 proj: Optional[nn.Parameter],
                 width: int,
                 num_heads: int,
                 num_prefix_tokens: int,
                 adapter_ratio: float,
                 temporal_window: Optional[int],
                 temporal_edge: str,
                 train_query: bool,
                 checkpointing: str) -> None:
        super().__init__()
        if temporal_edge not in TEMPORAL_EDGES:
            raise ValueError(f'temporal_edge={temporal_edge!r}: use one of {TEMPORAL_EDGES}')
        if checkpointing not in CHECKPOINTING_MODES:
            raise ValueError(
                f'checkpointing={checkpointing!r}: use one of {CHECKPOINTING_MODES}')
        self.out_channels: int = width if proj is None else proj.shape[1]
        self.temporal_edge = temporal_edge
        self.train_query = train_query
        self.checkpointing = checkpointing

        self._stem_names = tuple(stem)
        for name, part in stem.items():
            setattr(self, name, part)
        self.blocks = nn.ModuleList(
            AdaptSignBlock(block, width, num_prefix_tokens, adapter_ratio,
                           checkpoint_mlp=checkpointing == 'selective')
            for block in frozen_blocks)
        self.aggregation = AggregationQuery(width, len(self.blocks), num_heads)
        self.temporal = (TemporalCorrelation(width, temporal_window)
                         if temporal_window else None)
        self.ln_post = ln_post
        self.ln_post_cls = LayerNorm(width)
        self.proj = proj
        self.alpha = nn.Parameter(torch.tensor([0.5, 0.5]))
        self._freeze()

    def _frozen_parts(self) -> List[StemPart]:
        return [*(getattr(self, name) for name in self._stem_names),
                *(block.frozen for block in self.blocks)]

    def _freeze(self) -> None:
        for part in self._frozen_parts():
            part.requires_grad_(False)
        self.aggregation.query.requires_grad_(self.train_query)

    def pretrained_parameter_names(self) -> List[str]:
        """Names of the parameters that come from the ViT's checkpoint (``pretrained``).

        The frozen stem and blocks, and ``ln_post`` and ``proj`` (trained from their
        pretrained values). All the others (including the frozen aggregation ``query``)
        exist only in an AdaptSign checkpoint.
        """
        parts = [*self._frozen_parts(), self.ln_post]
        if self.proj is not None:
            parts.append(self.proj)
        from_vit = set()
        for part in parts:
            params = [part] if isinstance(part, nn.Parameter) else part.parameters()
            from_vit.update(id(p) for p in params)
        return [name for name, p in self.named_parameters() if id(p) in from_vit]

    def parameter_counts(self) -> Dict[str, int]:
        """Number of trainable and frozen parameters: ``dict(trainable=..., frozen=...)``."""
        counts = {'trainable': 0, 'frozen': 0}
        for p in self.parameters():
            counts['trainable' if p.requires_grad else 'frozen'] += p.numel()
        return counts

    def log_summary(self, title: str, source: str) -> None:
        """Log where the ViT's weights came from and what starts at its initialisation.

        Args:
            title (str): The backbone and its architecture, e.g. ``AdaptSignViT(ViT-B-16)``.
            source (str): Where the frozen ViT's weights came from.
        """
        counts = self.parameter_counts()
        query = 'trainable' if self.train_query else 'frozen'
        print_log(f'{title}: {source}; {counts["trainable"]:,} trainable and '
                  f'{counts["frozen"]:,} frozen parameters. Not from the pretrained ViT: '
                  'the adapters, prefix tokens, aggregation blocks, temporal correlation, '
                  f'ln_post_cls, alpha (trainable) and the aggregation query ({query}), '
                  'all at their initialisation', logger='current')

    def embed(self, frames: Tensor) -> Tensor:
        """The ViT's frozen stem: ``[N, 3, H, W]`` -> tokens ``[N, S, D]``, class token
        first."""
        raise NotImplementedError

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
        lengths = host_lengths(lengths)
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
        return features if self.proj is None else features @ self.proj
