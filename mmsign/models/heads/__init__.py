"""Heads: the lineage's CTC head, its temporal conv and pools, the released edge padding."""
from mmsign.models.heads.ctc_head import (
    BiLSTM,
    CTCHeadOutputs,
    NormLinear,
    SignCTCHead,
    build_classifier,
)
from mmsign.models.heads.edge_padding import (
    PaddingGeometry,
    edge_pad_indices,
    layer_geometry,
    released_edge_padding,
    released_padded_length,
)
from mmsign.models.heads.lift_pooling import LiftResiduals, LocalWeighting, TemporalLiftPooling
from mmsign.models.heads.multi_pathway_head import MultiPathwayCTCHead, MultiPathwayOutputs
from mmsign.models.heads.temporal_conv import RELEASED_GEOMETRY, RELEASED_PATTERN, TemporalConv

__all__ = [
    'SignCTCHead', 'CTCHeadOutputs', 'NormLinear', 'BiLSTM', 'TemporalConv',
    'released_edge_padding', 'released_padded_length', 'edge_pad_indices', 'layer_geometry',
    'PaddingGeometry', 'RELEASED_GEOMETRY', 'RELEASED_PATTERN', 'LiftResiduals',
    'LocalWeighting', 'TemporalLiftPooling', 'build_classifier', 'MultiPathwayCTCHead',
    'MultiPathwayOutputs'
]
