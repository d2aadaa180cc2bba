"""Heads: AdaptSign's CTC head and the released edge padding it uses; the multi-pathway
CTC head (SlowFastSign) for backbones with several feature groups."""
from mmsign.models.heads.ctc_head import BiLSTM, CTCHeadOutputs, NormLinear, SignCTCHead
from mmsign.models.heads.edge_padding import (
    RELEASED_GEOMETRY,
    PaddingGeometry,
    edge_pad_indices,
    released_edge_padding,
    released_padded_length,
)
from mmsign.models.heads.multi_pathway_head import MultiPathwayCTCHead, MultiPathwayOutputs
from mmsign.models.heads.temporal_conv import TemporalConv

__all__ = [
    'SignCTCHead', 'CTCHeadOutputs', 'NormLinear', 'BiLSTM', 'TemporalConv',
    'released_edge_padding', 'released_padded_length', 'edge_pad_indices',
    'PaddingGeometry', 'RELEASED_GEOMETRY', 'MultiPathwayCTCHead', 'MultiPathwayOutputs'
]
