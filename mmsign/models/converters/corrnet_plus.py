"""Checkpoints of the released CorrNet+ code -> mmsign checkpoints (``LINEAGE_SPEC.md``).

The released model is CorrNet's with, after layer ``k`` (2, 3, 4), a richer correlation
module ``conv2d.corr{k}`` and a temporal weighting ``conv2d.temporal_weight{k}``; its head
pools with temporal lift pooling and shares one weight-normalised classifier:

- ``conv2d.corr{k}.*`` -> ``backbone.stage_modules.layer{k}.0.*``: ``down_conv2`` ->
  ``correlation.key_proj``, ``weights2`` -> ``correlation.offset_weights``, ``weights4``
  -> ``correlation.query.pooling_weights``, ``attpool.{q,k,v}_proj`` / ``attpool.c_proj``
  -> ``correlation.query.attention_pool.{q,k,v}_proj`` / ``.out_proj``, ``attpool.query``
  (``[1, 1, C]``) -> ``correlation.query.attention_pool.query`` (``[C]``), and CorrNet's
  identification map (``down_conv``, ``spatial_aggregation{j}``, ``weights``,
  ``conv_back``) -> ``identification.*``. The module's unused ``mlp.*`` and ``weights3``
  are dropped.
- ``conv2d.temporal_weight{k}.*`` -> ``backbone.stage_modules.layer{k}.1.*`` (names as
  SEN's TSEM, :data:`~.sen.EMPHASIS_RULES`)
- ``conv2d.alpha`` -> ``backbone.alpha``; the trunk, the BiLSTM and the shared classifier
  as for CorrNet; the lift-pooling temporal conv ``conv1d.temporal_conv.{0..3}`` (K layers
  nested ``Sequential``) -> mmsign's flat ``head.temporal_conv.temporal_conv.*``
  (:data:`LIFT_LAYER_START`).
"""
import re
from collections import OrderedDict
from typing import List, Mapping, Optional, Set, Tuple

import torch
from torch import Tensor

from mmsign.models.converters.corrnet import CLASSIFIER_KEY, SHARED_CLASSIFIER_KEYS
from mmsign.models.converters.registry import (
    OfficialCheckpointError,
    ReleasedLayout,
    register_released_layout,
    strip_module_prefix,
)
from mmsign.models.converters.sen import HEAD_RULES, emphasis_name, rename_by_rules

#: Inside ``Get_Correlation``: released name -> name under ``stage_modules.layer{k}.0``.
CORRELATION_PLUS_RULES: Tuple[Tuple[str, str], ...] = (
    (r'down_conv2\.weight$', 'correlation.key_proj.weight'),
    (r'weights2$', 'correlation.offset_weights'),
    (r'weights4$', 'correlation.query.pooling_weights'),
    (r'attpool\.query$', 'correlation.query.attention_pool.query'),
    (r'attpool\.([qkv])_proj\.(weight|bias)$', r'correlation.query.attention_pool.\1_proj.\2'),
    (r'attpool\.c_proj\.(weight|bias)$', r'correlation.query.attention_pool.out_proj.\1'),
    (r'down_conv\.weight$', 'identification.reduce.weight'),
    (r'spatial_aggregation([1-3])\.(weight|bias)$', 'identification.aggregations.{}.{}'),
    (r'weights$', 'identification.aggregation_weights'),
    (r'conv_back\.weight$', 'identification.expand.weight'),
)

#: Tensors the released ``Get_Correlation`` builds but never uses.
DEAD_KEYS = re.compile(r'conv2d\.corr[2-4]\.(mlp\.\d+\.(weight|bias)|weights3)$')

_CORR_KEY = re.compile(r'conv2d\.corr([2-4])\.(.+)$')
_WEIGHTING_KEY = re.compile(r'conv2d\.temporal_weight([2-4])\.(.+)$')


def is_corrnet_plus_state_dict(keys: Set[str]) -> bool:
    """Whether released keys (``module.`` stripped) are CorrNet+'s: temporal weighting or
    an attention-pooled query after the stages."""
    return any(_WEIGHTING_KEY.match(k) or re.match(r'conv2d\.corr\d\.attpool\.', k)
               for k in keys)


def dropped_corrnet_plus_keys(keys: Set[str]) -> List[str]:
    """The released keys that are accepted and dropped: every ``corr{k}.mlp.*`` and
    ``corr{k}.weights3`` (built by the released module, never used in its forward)."""
    return sorted(k for k in keys if DEAD_KEYS.match(k))


def corrnet_plus_backbone_key(key: str) -> Optional[str]:
    """mmsign's name of a released CorrNet+ stage-module key, None for other keys.

    Raises:
        KeyError: A key inside a stage module that belongs to no known tensor.
    """
    match = _CORR_KEY.match(key)
    if match:
        stage, rest = match.groups()
        for pattern, replacement in CORRELATION_PLUS_RULES:
            found = re.match(pattern, rest)
            if found:
                if '{}' in replacement:
                    replacement = replacement.format(int(found.group(1)) - 1, found.group(2))
                name = re.sub(pattern, replacement, rest)
                return f'backbone.stage_modules.layer{stage}.0.{name}'
        raise KeyError(key)
    match = _WEIGHTING_KEY.match(key)
    if match:
        stage, rest = match.groups()
        name = emphasis_name(rest)
        if name is None:
            raise KeyError(key)
        return f'backbone.stage_modules.layer{stage}.1.{name}'
    return None


#: Released temporal conv layer (``K5 P2 K5 P2``, a K layer a ``Sequential(conv, BN,
#: ReLU)``) -> its first index in mmsign's flat ``head.temporal_conv.temporal_conv``.
LIFT_LAYER_START = {0: 0, 1: 3, 2: 4, 3: 7}
_TEMPORAL_KEY = re.compile(r'conv1d\.temporal_conv\.(\d+)\.(.+)$')
_NESTED = re.compile(r'([01])\.(.+)$')


def lift_temporal_conv_key(key: str) -> Optional[str]:
    """mmsign's name of a key of the released lift-pooling temporal conv, or None."""
    match = _TEMPORAL_KEY.match(key)
    if not match or int(match.group(1)) not in LIFT_LAYER_START:
        return None
    layer, rest = int(match.group(1)), match.group(2)
    start = LIFT_LAYER_START[layer]
    if layer % 2:  # a lift pooling layer: predictor, updater, weight1, weight2
        return f'head.temporal_conv.temporal_conv.{start}.{rest}'
    nested = _NESTED.match(rest)
    if nested is None:
        return None
    return f'head.temporal_conv.temporal_conv.{start + int(nested.group(1))}.{nested.group(2)}'


def convert_corrnet_plus_state_dict(
        state_dict: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Rename a released CorrNet+ ``model_state_dict`` for mmsign (values not copied;
    the dead ``mlp.*`` / ``weights3`` tensors left out).

    Args:
        state_dict (Mapping[str, Tensor]): The released ``model_state_dict`` (a
            ``module.`` prefix is removed).

    Returns:
        OrderedDict[str, Tensor]: The state dict of a ``SignRecognizer`` with a
        ``CorrNetResNet`` backbone with CorrNet+'s stage modules.

    Raises:
        OfficialCheckpointError: Unknown keys, or the shared classifier missing or saved
            with two different values.
    """
    state_dict = strip_module_prefix(state_dict)
    converted: 'OrderedDict[str, Tensor]' = OrderedDict()
    unknown = []
    for key, tensor in state_dict.items():
        if DEAD_KEYS.match(key) or key in SHARED_CLASSIFIER_KEYS:
            continue
        try:
            name = (corrnet_plus_backbone_key(key) or lift_temporal_conv_key(key)
                    or rename_by_rules(key, HEAD_RULES))
        except KeyError:
            name = None
        if name is None:
            unknown.append(key)
            continue
        converted[name] = tensor.reshape(-1) if key.endswith('attpool.query') else tensor
    if unknown:
        raise OfficialCheckpointError(
            f'{len(unknown)} keys belong to no part of the released CorrNet+ model: '
            f'{unknown[:10]}{" ..." if len(unknown) > 10 else ""}; is this a checkpoint of '
            'the released CorrNet+ code?')
    present = [k for k in SHARED_CLASSIFIER_KEYS if k in state_dict]
    if not present or not all(torch.equal(state_dict[k], state_dict[present[0]])
                              for k in present):
        raise OfficialCheckpointError(
            f'CorrNet+ shares one classifier saved as {" and ".join(SHARED_CLASSIFIER_KEYS)}'
            f'; the checkpoint has {present or "neither"}, or two different tensors')
    converted[CLASSIFIER_KEY] = state_dict[present[0]]
    return converted


def corrnet_plus_model_cfg(state_dict: Mapping[str, Tensor]) -> dict:
    """The ``SignRecognizer`` config of a converted CorrNet+ state dict (random weights,
    no vocabulary)."""
    stages = {}
    for key, tensor in state_dict.items():
        match = re.match(r'backbone\.stage_modules\.(layer\d)\.0\.correlation\.offset_weights$',
                         key)
        if match:
            stages[match.group(1)] = [
                dict(type='MultiNeighbourCorrelationIdentification',
                     neighbours=tensor.shape[0] // 2),
                dict(type='TemporalEmphasis', dilations=(1, 2, 3))]
    weight = state_dict[CLASSIFIER_KEY]
    lift = dict(type='LiftingLoss', loss_weight=0.0005)
    return dict(
        type='SignRecognizer',
        backbone=dict(type='CorrNetResNet', pretrained=None, mixing_init=0.0,
                      base_channels=state_dict['backbone.conv1.weight'].shape[0],
                      stage_modules=dict(sorted(stages.items()))),
        head=dict(type='SignCTCHead', num_classes=weight.shape[1],
                  hidden_channels=weight.shape[0], pooling='lift', loss_lift_update=lift,
                  loss_lift_predict=dict(lift)),
        decoder=dict(type='CTCGreedyDecoder'))


register_released_layout(ReleasedLayout(
    name='corrnet_plus',
    description='CorrNet+ (3-D ResNet-18, multi-neighbour correlation and temporal '
                'weighting after layers 2-4, lift pooling)',
    detect=is_corrnet_plus_state_dict,
    convert=convert_corrnet_plus_state_dict,
    model_cfg=corrnet_plus_model_cfg,
    refines='corrnet',
    parity_cfg_options={'model.padding_mode': 'frames'},
    dropped=dropped_corrnet_plus_keys))
