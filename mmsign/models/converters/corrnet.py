"""Checkpoints of the released CorrNet code -> mmsign checkpoints (``CORRNET_SPEC.md``).

The released file is saved like AdaptSign's (``{'model_state_dict': ..., 'epoch': ...,
optimiser / scheduler / RNG states}``); its model differs only in the backbone:

- ``conv2d.{conv1,bn1,layer1..4}.*`` (the 3-D ResNet, torchvision's names) ->
  ``backbone.*`` (same names and shapes)
- ``conv2d.corr{k}.*`` (``Get_Correlation``) -> ``backbone.stage_modules.layer{i}.0.*`` where
  ``i`` is the stage whose width the module has (read from the shapes, so the numbering of
  the modules does not matter: the CSL-Daily release has two):

  ``down_conv2`` -> ``correlation.neighbour_proj``, ``weights2`` ->
  ``correlation.direction_weights``, ``down_conv`` -> ``identification.reduce``,
  ``spatial_aggregation{j}`` -> ``identification.aggregations.{j-1}``, ``weights`` ->
  ``identification.aggregation_weights``, ``conv_back`` -> ``identification.expand``
- ``conv2d.alpha`` -> ``backbone.alpha`` (one entry per module, in stage order)
- ``conv1d.temporal_conv.*`` -> ``head.temporal_conv.temporal_conv.*``,
  ``temporal_model.rnn.*`` -> ``head.bilstm.rnn.*``, ``conv1d.fc.weight`` =
  ``classifier.weight`` -> ``head.classifier.weight`` (as for AdaptSign)
"""
import re
from collections import OrderedDict
from typing import Any, Dict, Iterable, Mapping, Tuple

import torch
from torch import Tensor

from mmsign.models.backbones.corrnet import ARCH_ZOO
from mmsign.models.converters.registry import (
    OfficialCheckpointError,
    ReleasedLayout,
    register_released_layout,
)

#: ``(pattern, replacement)`` on a released key, first match wins (the correlation
#: modules are renamed by :func:`convert_corrnet_state_dict`, which knows their stage).
CORRNET_KEY_RULES: Tuple[Tuple[str, str], ...] = (
    (r'conv2d\.alpha$', 'backbone.alpha'),
    (r'conv2d\.(conv1|bn1|layer[1-4])\.', r'backbone.\1.'),
    (r'conv1d\.temporal_conv\.', 'head.temporal_conv.temporal_conv.'),
    (r'temporal_model\.rnn\.', 'head.bilstm.rnn.'),
)

#: Inside ``Get_Correlation``: released name -> name under ``stage_modules.layer{i}.0``.
CORRELATION_RULES: Tuple[Tuple[str, str], ...] = (
    (r'down_conv2\.weight$', 'correlation.neighbour_proj.weight'),
    (r'weights2$', 'correlation.direction_weights'),
    (r'down_conv\.weight$', 'identification.reduce.weight'),
    (r'spatial_aggregation([1-3])\.(weight|bias)$', 'identification.aggregations.{}.{}'),
    (r'weights$', 'identification.aggregation_weights'),
    (r'conv_back\.weight$', 'identification.expand.weight'),
)

SHARED_CLASSIFIER_KEYS = ('conv1d.fc.weight', 'classifier.weight')
CLASSIFIER_KEY = 'head.classifier.weight'
_CORR_KEY = re.compile(r'conv2d\.(corr\d+)\.(.+)$')


def is_corrnet_state_dict(state_dict: Iterable[str]) -> bool:
    """Whether released keys are CorrNet's: a ResNet in ``conv2d`` with correlation modules
    ``conv2d.corr{k}`` (models that add more to CorrNet refine this layout)."""
    keys = [k[len('module.'):] if k.startswith('module.') else k for k in state_dict]
    return (any(k.startswith('conv2d.layer1.') for k in keys)
            and any(_CORR_KEY.match(k) for k in keys))


def _stage_widths(state_dict: Mapping[str, Tensor]) -> Dict[int, int]:
    """Output channels -> stage, from the first block of every released stage."""
    widths = {}
    for stage in range(1, 5):
        key = f'conv2d.layer{stage}.0.bn2.weight'
        if key not in state_dict:
            raise OfficialCheckpointError(f'{key} missing: not a CorrNet ResNet checkpoint')
        widths[state_dict[key].shape[0]] = stage
    return widths


def _rename_correlation(module: str, rest: str, stage: int) -> str:
    for pattern, replacement in CORRELATION_RULES:
        match = re.match(pattern, rest)
        if match:
            if '{}' in replacement:
                replacement = replacement.format(int(match.group(1)) - 1, match.group(2))
            return f'backbone.stage_modules.layer{stage}.0.{replacement}'
    raise KeyError(f'conv2d.{module}.{rest}')


def convert_corrnet_state_dict(
        state_dict: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Rename a released CorrNet ``model_state_dict`` for mmsign (values not copied).

    Args:
        state_dict (Mapping[str, Tensor]): The released ``model_state_dict`` (a
            ``module.`` prefix of a ``DataParallel`` model is removed).

    Returns:
        OrderedDict[str, Tensor]: The state dict of a ``SignRecognizer`` with a
        ``CorrNetResNet`` backbone.

    Raises:
        OfficialCheckpointError: Unknown keys, a correlation module of no stage's width,
            ``alpha`` of another length than the modules, or the shared classifier missing
            or saved with two different values.
    """
    state_dict = {(k[len('module.'):] if k.startswith('module.') else k): v
                  for k, v in state_dict.items()}
    widths = _stage_widths(state_dict)
    stages: Dict[str, int] = {}
    for key, tensor in state_dict.items():
        match = _CORR_KEY.match(key)
        if match and match.group(2) == 'down_conv2.weight':
            if tensor.shape[0] not in widths:
                raise OfficialCheckpointError(
                    f'{key}: a correlation module of {tensor.shape[0]} channels follows no '
                    f'stage (stage widths {sorted(widths)})')
            stages[match.group(1)] = widths[tensor.shape[0]]
    converted: 'OrderedDict[str, Tensor]' = OrderedDict()
    unknown = []
    for key, tensor in state_dict.items():
        if key in SHARED_CLASSIFIER_KEYS:
            continue
        match = _CORR_KEY.match(key)
        try:
            if match:
                if match.group(1) not in stages:
                    raise KeyError(key)
                name = _rename_correlation(match.group(1), match.group(2),
                                           stages[match.group(1)])
            else:
                name = next(re.sub('^' + p, r, key) for p, r in CORRNET_KEY_RULES
                            if re.match(p, key))
        except (KeyError, StopIteration):
            unknown.append(key)
            continue
        converted[name] = tensor
    if unknown:
        raise OfficialCheckpointError(
            f'{len(unknown)} keys belong to no part of the released CorrNet model: '
            f'{unknown[:10]}{" ..." if len(unknown) > 10 else ""}; is this a checkpoint of '
            'the released CorrNet code (SLRModel with a ResNet-18)?')
    alpha = converted.get('backbone.alpha')
    if alpha is None or alpha.shape != (len(stages), ):
        raise OfficialCheckpointError(
            f'conv2d.alpha has shape {None if alpha is None else list(alpha.shape)}, but '
            f'the checkpoint has {len(stages)} correlation modules (one alpha each)')
    present = [k for k in SHARED_CLASSIFIER_KEYS if k in state_dict]
    if not present:
        raise OfficialCheckpointError(
            f'no classifier in the checkpoint: expected {" and ".join(SHARED_CLASSIFIER_KEYS)}')
    if not all(torch.equal(state_dict[k], state_dict[present[0]]) for k in present):
        raise OfficialCheckpointError(
            f'{" and ".join(present)} differ: CorrNet shares one classifier between the conv '
            'and the sequence branch and so does mmsign')
    converted[CLASSIFIER_KEY] = state_dict[present[0]]
    return converted


def infer_corrnet_settings(state_dict: Mapping[str, Tensor]) -> Dict[str, Any]:
    """Architecture of a converted CorrNet state dict, read from its keys and shapes.

    Args:
        state_dict (Mapping[str, Tensor]): mmsign names (:func:`convert_corrnet_state_dict`).

    Returns:
        dict: ``backbone`` and ``head`` keyword arguments and ``num_classes``.
    """
    blocks = tuple(len({k.split('.')[2] for k in state_dict
                        if k.startswith(f'backbone.layer{i}.')}) for i in range(1, 5))
    arch = next((name for name, counts in ARCH_ZOO.items() if counts == blocks), None)
    if arch is None:
        raise OfficialCheckpointError(f'residual blocks per stage {blocks} are none of '
                                      f'{ARCH_ZOO}')
    stages = sorted({int(k.split('.')[2][len('layer'):]) for k in state_dict
                     if k.startswith('backbone.stage_modules.')})
    lstm_layers = len([k for k in state_dict
                       if re.match(r'head\.bilstm\.rnn\.weight_ih_l\d+$', k)])
    return dict(
        backbone=dict(arch=arch, base_channels=state_dict['backbone.conv1.weight'].shape[0],
                      stage_modules={f'layer{i}': [dict(type='CorrelationIdentification')]
                                     for i in stages}),
        head=dict(hidden_channels=state_dict['head.temporal_conv.temporal_conv.0.weight']
                  .shape[0], lstm_layers=lstm_layers),
        num_classes=state_dict[CLASSIFIER_KEY].shape[1])


def corrnet_model_cfg(settings: Mapping[str, Any]) -> dict:
    """The ``SignRecognizer`` config of a released CorrNet (random weights, no vocabulary)."""
    return dict(
        type='SignRecognizer',
        backbone=dict(type='CorrNetResNet', pretrained=None, **settings['backbone']),
        head=dict(type='SignCTCHead', num_classes=settings['num_classes'], **settings['head']),
        decoder=dict(type='CTCGreedyDecoder'))


register_released_layout(ReleasedLayout(
    name='corrnet',
    description='CorrNet (3-D ResNet-18 with correlation modules)',
    detect=is_corrnet_state_dict,
    convert=convert_corrnet_state_dict,
    model_cfg=lambda state_dict: corrnet_model_cfg(infer_corrnet_settings(state_dict))))
