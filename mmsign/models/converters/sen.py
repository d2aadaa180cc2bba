"""Checkpoints of the released SEN code -> mmsign checkpoints (``LINEAGE_SPEC.md``).

The released model is CorrNet's trunk without correlation modules, with a spatial and a
temporal emphasis module in every residual block, max pooling in the temporal conv, and
plain (not shared, not normalised) classifiers:

- ``conv2d.{conv1,bn1,layer1..4}.*`` -> ``backbone.*`` (torchvision's names), except
- ``conv2d.layer{i}.{b}.ssem.*`` -> ``backbone.layer{i}.{b}.block_modules.0.*`` and
  ``conv2d.layer{i}.{b}.tsem.*`` -> ``backbone.layer{i}.{b}.block_modules.1.*``, inside
  each: ``conv_transform`` -> ``reduce``, ``conv_enhance.{j}`` -> ``aggregations.{j}``,
  ``weights`` -> ``aggregation_weights``, ``conv_back`` -> ``expand``, ``alpha`` -> ``alpha``
- ``conv1d.temporal_conv.*`` -> ``head.temporal_conv.temporal_conv.*``,
  ``temporal_model.rnn.*`` -> ``head.bilstm.rnn.*``, ``classifier.*`` ->
  ``head.classifier.*`` and ``conv1d.fc.*`` -> ``head.conv_classifier.*`` (plain
  ``Linear`` layers, one per branch).
"""
import re
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Set, Tuple

import torch
from torch import Tensor

from mmsign.models.converters.registry import (
    OfficialCheckpointError,
    ReleasedLayout,
    register_released_layout,
    strip_module_prefix,
)

#: SEN's modules inside every block, in the order of the backbone's ``block_modules``.
BLOCK_MODULES: Dict[str, int] = {'ssem': 0, 'tsem': 1}

#: Inside SSEM / TSEM (the release's names) -> :class:`SpatialEmphasis` /
#: :class:`TemporalEmphasis` (mmsign's).
EMPHASIS_RULES: Tuple[Tuple[str, str], ...] = (
    (r'conv_transform\.(weight|bias)$', r'reduce.\1'),
    (r'conv_enhance\.(\d+)\.(weight|bias)$', r'aggregations.\1.\2'),
    (r'weights$', 'aggregation_weights'),
    (r'conv_back\.(weight|bias)$', r'expand.\1'),
    (r'alpha$', 'alpha'),
)

_EMPHASIS_KEY = re.compile(r'conv2d\.(layer[1-4]\.\d+)\.(ssem|tsem)\.(.+)$')


def emphasis_name(rest: str) -> Optional[str]:
    """mmsign's name of a tensor inside a released SSEM / TSEM / temporal weighting
    (``conv_enhance.2.weight`` -> ``aggregations.2.weight``), or None if unknown."""
    for pattern, replacement in EMPHASIS_RULES:
        if re.match(pattern, rest):
            return re.sub(pattern, replacement, rest)
    return None


def sen_backbone_key(key: str) -> Optional[str]:
    """mmsign's name of a released SEN emphasis-module key, or None for other keys.

    Raises:
        KeyError: A key inside an emphasis module that belongs to no known tensor.
    """
    match = _EMPHASIS_KEY.match(key)
    if not match:
        return None
    block, module, rest = match.groups()
    name = emphasis_name(rest)
    if name is None:
        raise KeyError(key)
    return f'backbone.{block}.block_modules.{BLOCK_MODULES[module]}.{name}'


def is_sen_state_dict(keys: Set[str]) -> bool:
    """Whether released keys (``module.`` stripped) are SEN's: emphasis modules in the
    residual blocks."""
    return any(_EMPHASIS_KEY.match(k) for k in keys)


#: Head keys shared by SEN and CorrNet+ (the temporal conv's own layout aside).
HEAD_RULES: Tuple[Tuple[str, str], ...] = (
    (r'conv2d\.alpha$', 'backbone.alpha'),
    (r'conv2d\.(conv1|bn1|layer[1-4])\.', r'backbone.\1.'),
    (r'temporal_model\.rnn\.', 'head.bilstm.rnn.'),
)
#: SEN's plain classifiers, one per branch.
SEPARATE_CLASSIFIERS: Tuple[Tuple[str, str], ...] = (
    (r'classifier\.(weight|bias)$', r'head.classifier.\1'),
    (r'conv1d\.fc\.(weight|bias)$', r'head.conv_classifier.\1'),
    (r'conv1d\.temporal_conv\.', 'head.temporal_conv.temporal_conv.'),
)


def rename_by_rules(key: str, rules: Tuple[Tuple[str, str], ...]) -> Optional[str]:
    """The first rule's rename of ``key`` (patterns anchored at its start), or None."""
    for pattern, replacement in rules:
        if re.match(pattern, key):
            return re.sub('^' + pattern, replacement, key)
    return None


def convert_sen_state_dict(state_dict: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Rename a released SEN ``model_state_dict`` for mmsign (values not copied).

    Args:
        state_dict (Mapping[str, Tensor]): The released ``model_state_dict`` (a
            ``module.`` prefix is removed).

    Returns:
        OrderedDict[str, Tensor]: The state dict of a ``SignRecognizer`` with a
        ``CorrNetResNet`` backbone with SEN's block modules.

    Raises:
        OfficialCheckpointError: Unknown keys.
    """
    converted: 'OrderedDict[str, Tensor]' = OrderedDict()
    unknown = []
    for key, tensor in strip_module_prefix(state_dict).items():
        try:
            name = sen_backbone_key(key) or rename_by_rules(key, HEAD_RULES
                                                            + SEPARATE_CLASSIFIERS)
        except KeyError:
            name = None
        if name is None:
            unknown.append(key)
            continue
        converted[name] = tensor
    if unknown:
        raise OfficialCheckpointError(
            f'{len(unknown)} keys belong to no part of the released SEN model: '
            f'{unknown[:10]}{" ..." if len(unknown) > 10 else ""}; is this a checkpoint of '
            'the released SEN code (SLRModel with a ResNet-18 with SSEM / TSEM)?')
    # SEN has no module after a stage: mmsign's backbone keeps an empty mixing vector.
    converted.setdefault('backbone.alpha', torch.zeros(0))
    return converted


def sen_model_cfg(state_dict: Mapping[str, Tensor]) -> dict:
    """The ``SignRecognizer`` config of a converted SEN state dict (random weights, no
    vocabulary)."""
    weight = state_dict['head.classifier.weight']
    return dict(
        type='SignRecognizer',
        backbone=dict(type='CorrNetResNet', pretrained=None, stage_modules=dict(),
                      base_channels=state_dict['backbone.conv1.weight'].shape[0],
                      block_modules=[dict(type='SpatialEmphasis'),
                                     dict(type='TemporalEmphasis')]),
        head=dict(type='SignCTCHead', num_classes=weight.shape[0],
                  hidden_channels=weight.shape[1], classifier='Linear',
                  share_classifier=False),
        decoder=dict(type='CTCGreedyDecoder'))


register_released_layout(ReleasedLayout(
    name='sen',
    description='SEN (3-D ResNet-18 with spatial / temporal emphasis modules in every block)',
    detect=is_sen_state_dict,
    convert=convert_sen_state_dict,
    model_cfg=sen_model_cfg))
