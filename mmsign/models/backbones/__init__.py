"""Backbones: AdaptSignViT (frozen CLIP ViT + AdaptSign modules) and its building blocks."""
from .adaptsign_layers import (
                               Adapter,
                               AdaptSignBlock,
                               AggregationBlock,
                               AggregationQuery,
                               FrozenBlock,
                               PrefixTokens,
                               TemporalCorrelation,
                               temporal_window_weights,
)
from .adaptsign_vit import AdaptSignViT
from .clip_checkpoint import read_clip_image_tower
from .clip_vit import FrozenCLIPBlock

__all__ = [
    'Adapter', 'AdaptSignBlock', 'AdaptSignViT', 'AggregationBlock', 'AggregationQuery',
    'FrozenBlock', 'FrozenCLIPBlock', 'PrefixTokens', 'TemporalCorrelation',
    'read_clip_image_tower', 'temporal_window_weights'
]
