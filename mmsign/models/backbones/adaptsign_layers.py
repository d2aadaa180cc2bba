"""The modules AdaptSign adds to a frozen image ViT, one module per concept of the paper.

Shapes: ``N`` frames (of several videos, packed), ``S = 1 + P`` tokens per frame (class
token and ``P`` patches), ``D`` the ViT width, ``M`` prefix tokens, ``W`` the temporal
window.

- :mod:`.vit_ops`: CLIP's activation, the dtype-keeping LayerNorm, the
  :class:`FrozenBlock` interface and the head split/merge;
- :mod:`.adaptsign_block`: the adapters, prefix tokens and :class:`AdaptSignBlock`;
- :mod:`.aggregation`: the hierarchical aggregation query;
- :mod:`.temporal_correlation`: the temporal correlation and its window weights.

Nothing here knows where the frozen ViT comes from. :class:`AdaptSignBlock` reaches the
frozen block only through the small interface :class:`FrozenBlock` describes, so the same
modules work on any pre-norm ViT block that provides it. This module gathers them under
one name.
"""
from .adaptsign_block import Adapter, AdaptSignBlock, PrefixTokens
from .aggregation import AggregationBlock, AggregationQuery
from .temporal_correlation import TEMPORAL_EDGES, TemporalCorrelation, temporal_window_weights
from .vit_ops import (
    QUICK_GELU_SCALE,
    FrozenBlock,
    LayerNorm,
    QuickGELU,
    layer_norm,
    merge_heads,
    packed_qkv_part,
    quick_gelu,
    split_heads,
)

__all__ = [
    'Adapter', 'AdaptSignBlock', 'AggregationBlock', 'AggregationQuery', 'FrozenBlock',
    'LayerNorm', 'PrefixTokens', 'QUICK_GELU_SCALE', 'QuickGELU', 'TemporalCorrelation',
    'TEMPORAL_EDGES', 'layer_norm', 'merge_heads', 'packed_qkv_part', 'quick_gelu',
    'split_heads', 'temporal_window_weights'
]
