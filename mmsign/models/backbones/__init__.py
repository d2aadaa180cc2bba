"""Backbones: AdaptSign's modules on a frozen ViT from open_clip (AdaptSignViT) or
mmpretrain (AdaptSignMMPretrainViT), and their building blocks."""
from mmaction.registry import MODELS

from .adaptsign_base import AdaptSignViTBase
from .adaptsign_layers import (
    Adapter,
    AdaptSignBlock,
    AggregationBlock,
    AggregationQuery,
    FrozenBlock,
    PrefixTokens,
    TemporalCorrelation,
    merge_heads,
    split_heads,
    temporal_window_weights,
)
from .adaptsign_mmpretrain_vit import AdaptSignMMPretrainViT
from .adaptsign_vit import AdaptSignViT
from .clip_checkpoint import read_clip_image_tower
from .clip_vit import FrozenCLIPBlock
from .corrnet import CorrNetResNet
from .corrnet_modules import CorrelationIdentification, CorrelationModule, IdentificationModule
from .corrnet_plus_modules import (
    AttentionPool,
    FrameQuery,
    MultiNeighbourCorrelation,
    MultiNeighbourCorrelationIdentification,
)
from .emphasis_modules import SpatialEmphasis, TemporalEmphasis
from .framewise_resnet import FrameWiseResNet
from .mmpretrain_vit import FrozenMMPretrainBlock
from .signgraph_modules import (
    EdgeConvolution,
    GraphConvolution,
    LocalSignGraph,
    TemporalSignGraph,
)
from .slowfastsign_fusion import BidirectionalFusion, PackedConv3d


def _build_slowfastsign(*args, **kwargs):
    """Build ``SlowFastSignResNet3d``, importing mmaction2's models (seconds) on first use."""
    from .slowfastsign import SlowFastSignResNet3d
    return SlowFastSignResNet3d(*args, **kwargs)


# Registered by name now, defined on first build: ``import mmsign`` stays light. The class
# replaces this builder in the registry when its module is imported.
if 'SlowFastSignResNet3d' not in MODELS.module_dict:
    MODELS.register_module(name='SlowFastSignResNet3d', module=_build_slowfastsign)


def __getattr__(name: str):
    if name == 'SlowFastSignResNet3d':
        from .slowfastsign import SlowFastSignResNet3d
        return SlowFastSignResNet3d
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = [
    'Adapter', 'AdaptSignBlock', 'AdaptSignMMPretrainViT', 'AdaptSignViT',
    'AdaptSignViTBase', 'AggregationBlock', 'AggregationQuery', 'AttentionRecord',
    'CorrelationIdentification', 'CorrelationModule', 'CorrNetResNet', 'EdgeConvolution',
    'FrameWiseResNet', 'FrozenBlock', 'FrozenCLIPBlock', 'FrozenMMPretrainBlock',
    'GraphConvolution', 'IdentificationModule', 'LocalSignGraph', 'PrefixTokens',
    'TemporalCorrelation', 'TemporalSignGraph', 'merge_heads', 'read_clip_image_tower',
    'split_heads',
    'BidirectionalFusion', 'PackedConv3d', 'SlowFastSignResNet3d',
    'temporal_window_weights',
    # SEN and CorrNet+
    'AttentionPool', 'FrameQuery', 'MultiNeighbourCorrelation',
    'MultiNeighbourCorrelationIdentification', 'SpatialEmphasis', 'TemporalEmphasis'
]
