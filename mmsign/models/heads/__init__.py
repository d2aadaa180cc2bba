"""Heads: AdaptSign's CTC head and the released edge padding it uses."""
from mmsign.models.heads.ctc_head import BiLSTM, CTCHeadOutputs, NormLinear, SignCTCHead
from mmsign.models.heads.edge_padding import (
    PaddingGeometry,
    edge_pad_indices,
    layer_geometry,
    released_edge_padding,
    released_padded_length,
)
from mmsign.models.heads.temporal_conv import RELEASED_GEOMETRY, RELEASED_PATTERN, TemporalConv

__all__ = [
    'SignCTCHead', 'CTCHeadOutputs', 'NormLinear', 'BiLSTM', 'TemporalConv',
    'released_edge_padding', 'released_padded_length', 'edge_pad_indices', 'layer_geometry',
    'PaddingGeometry', 'RELEASED_GEOMETRY', 'RELEASED_PATTERN'
]
