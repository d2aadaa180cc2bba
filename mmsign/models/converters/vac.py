"""Checkpoints of the released VAC and TLP code -> mmsign (``LINEAGE_SPEC.md``).

Both save ``{'model_state_dict': ...}`` like the rest of the lineage, with a torchvision
ResNet run frame by frame in ``conv2d`` (no correlation, emphasis or weighting modules, no
``alpha``); TLP's temporal conv has lift pooling layers. The keys:

- ``conv2d.{conv1,bn1,layer1..4}.*`` -> ``backbone.*`` (:class:`FrameWiseResNet`, the same
  names and shapes; the released ``fc`` is an identity without tensors)
- VAC's ``conv1d.temporal_conv.{i}.*`` (one ``nn.Sequential``: conv, BN, ReLU, pool, ...)
  -> ``head.temporal_conv.temporal_conv.{i}.*``
- TLP's ``conv1d.temporal_conv.{i}.{j}.*`` (a list of ``Sequential(conv, BN, ReLU)`` and
  ``Temporal_LiftPool`` layers) -> the same flat sequence: layer ``i`` of the released
  pattern K5 P2 K5 P2 is mmsign's 0, 3, 4, 7; ``.predictor / .updater / .weight1 /
  .weight2`` keep their names
- ``temporal_model.rnn.*`` -> ``head.bilstm.rnn.*``
- ``classifier.*`` and ``conv1d.fc.*``: one tensor saved under both names (shared, SMKD)
  -> ``head.classifier.*``; two different ones -> ``head.classifier.*`` and
  ``head.conv_classifier.*``. With a bias the classifiers are plain ``Linear`` (weight
  ``C x H``), without it weight-normalised (``H x C``).
"""
import re
from collections import OrderedDict
from typing import Any, Dict, Mapping, Set

import torch
from torch import Tensor

from mmsign.models.backbones.framewise_resnet import ARCH_DEPTHS
from mmsign.models.converters.registry import (
    OfficialCheckpointError,
    ReleasedLayout,
    register_released_layout,
    strip_module_prefix,
)

#: Residual blocks per stage of each arch of :data:`ARCH_DEPTHS`.
ARCH_BLOCKS = {'resnet18': (2, 2, 2, 2), 'resnet34': (3, 4, 6, 3)}
#: Layers of the released temporal conv (``conv_type=2``).
RELEASED_PATTERN = ('K5', 'P2', 'K5', 'P2')
#: Keys of the other lineage models' backbones: none of them is a VAC or TLP checkpoint.
OTHER_BACKBONES = re.compile(
    r'^conv2d\.(alpha$|corr\d|temporal_weight|visual\.)|\.(ssem|tsem)\.')
LIFT_KEY = re.compile(r'^conv1d\.temporal_conv\.\d+\.(predictor|updater|weight[12])\.')

_TRUNK = re.compile(r'^conv2d\.((conv1|bn1)\.|layer[1-4]\.)')
_TEMPORAL = re.compile(r'^conv1d\.temporal_conv\.(\d+)\.(.+)$')
_NESTED_K = re.compile(r'^([01])\.(.+)$')  # TLP's Sequential(conv, BN, ReLU)
_CLASSIFIERS = {'classifier.': 'head.classifier.', 'conv1d.fc.': 'head.conv_classifier.'}


def is_frame_wise_lineage(keys: Set[str]) -> bool:
    """A 2-D ResNet in ``conv2d`` with no module of CorrNet, SEN, CorrNet+ or AdaptSign."""
    return (any(_TRUNK.match(k) for k in keys)
            and not any(OTHER_BACKBONES.search(k) for k in keys))


def is_vac_checkpoint(keys: Set[str]) -> bool:
    """VAC (and its baseline / SMKD settings): frame-wise ResNet, max pooling."""
    return is_frame_wise_lineage(keys) and not any(LIFT_KEY.match(k) for k in keys)


def is_tlp_checkpoint(keys: Set[str]) -> bool:
    """TLP: frame-wise ResNet, temporal lift pooling in the temporal conv."""
    return is_frame_wise_lineage(keys) and any(LIFT_KEY.match(k) for k in keys)


def _temporal_index(layer: int, rest: str, lift: bool) -> str:
    """mmsign's name under ``head.temporal_conv.temporal_conv`` of a released layer."""
    if not lift:
        return f'{layer}.{rest}'
    if layer >= len(RELEASED_PATTERN):
        raise KeyError(layer)
    start = sum(3 if spec[0] == 'K' else 1 for spec in RELEASED_PATTERN[:layer])
    if RELEASED_PATTERN[layer][0] == 'P':
        return f'{start}.{rest}'
    nested = _NESTED_K.match(rest)
    if nested is None:
        raise KeyError(rest)
    return f'{start + int(nested.group(1))}.{nested.group(2)}'


def convert_frame_wise_state_dict(
        state_dict: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Rename a released VAC or TLP ``model_state_dict`` for mmsign (values not copied).

    Args:
        state_dict (Mapping[str, Tensor]): The released ``model_state_dict`` (a
            ``module.`` prefix is removed).

    Returns:
        OrderedDict[str, Tensor]: The state dict of a ``SignRecognizer`` with a
        ``FrameWiseResNet`` backbone.

    Raises:
        OfficialCheckpointError: Unknown keys, or no classifier.
    """
    state_dict = strip_module_prefix(state_dict)
    lift = is_tlp_checkpoint(set(state_dict))
    shared = _shared_classifier(state_dict)
    converted: 'OrderedDict[str, Tensor]' = OrderedDict()
    unknown = []
    for key, tensor in state_dict.items():
        temporal = _TEMPORAL.match(key)
        classifier = next((p for p in _CLASSIFIERS if key.startswith(p)), None)
        try:
            if _TRUNK.match(key):
                name = 'backbone.' + key[len('conv2d.'):]
            elif temporal:
                name = 'head.temporal_conv.temporal_conv.' + _temporal_index(
                    int(temporal.group(1)), temporal.group(2), lift)
            elif key.startswith('temporal_model.rnn.'):
                name = 'head.bilstm.rnn.' + key[len('temporal_model.rnn.'):]
            elif classifier and key[len(classifier):] in ('weight', 'bias'):
                if shared and classifier == 'conv1d.fc.':
                    continue
                name = _CLASSIFIERS[classifier] + key[len(classifier):]
            else:
                raise KeyError(key)
        except KeyError:
            unknown.append(key)
            continue
        converted[name] = tensor
    if unknown:
        raise OfficialCheckpointError(
            f'{len(unknown)} keys belong to no part of the released VAC / TLP model: '
            f'{unknown[:10]}{" ..." if len(unknown) > 10 else ""}; is this a checkpoint of '
            'the released VAC or TLP code (SLRModel with a 2-D ResNet-18)?')
    return converted


def _shared_classifier(state_dict: Mapping[str, Tensor]) -> bool:
    """Whether the conv branch's ``conv1d.fc`` is the sequence ``classifier`` (SMKD)."""
    names = [n for n in ('weight', 'bias') if f'classifier.{n}' in state_dict]
    if 'weight' not in names or 'conv1d.fc.weight' not in state_dict:
        raise OfficialCheckpointError(
            'no classifier in the checkpoint: expected classifier.weight and '
            'conv1d.fc.weight (VAC / TLP save one per branch, or one tensor twice)')
    return all(f'conv1d.fc.{n}' in state_dict and torch.equal(
        state_dict[f'classifier.{n}'], state_dict[f'conv1d.fc.{n}']) for n in names)


def infer_frame_wise_settings(state_dict: Mapping[str, Tensor]) -> Dict[str, Any]:
    """Architecture of a converted VAC / TLP state dict, read from its keys and shapes.

    Args:
        state_dict (Mapping[str, Tensor]): mmsign names
            (:func:`convert_frame_wise_state_dict`).

    Returns:
        dict: ``backbone`` and ``head`` keyword arguments (``num_classes`` included).
    """
    blocks = tuple(len({k.split('.')[2] for k in state_dict
                        if k.startswith(f'backbone.layer{i}.')}) for i in range(1, 5))
    arch = next((name for name, counts in ARCH_BLOCKS.items() if counts == blocks), None)
    if arch is None or arch not in ARCH_DEPTHS:
        raise OfficialCheckpointError(f'residual blocks per stage {blocks} are none of '
                                      f'{ARCH_BLOCKS}')
    plain = 'head.classifier.bias' in state_dict
    weight = state_dict['head.classifier.weight']
    head: Dict[str, Any] = dict(
        hidden_channels=state_dict['head.temporal_conv.temporal_conv.0.weight'].shape[0],
        lstm_layers=len([k for k in state_dict
                         if re.match(r'head\.bilstm\.rnn\.weight_ih_l\d+$', k)]),
        classifier='Linear' if plain else 'NormLinear',
        share_classifier='head.conv_classifier.weight' not in state_dict,
        num_classes=weight.shape[0] if plain else weight.shape[1])
    predictor = 'head.temporal_conv.temporal_conv.3.predictor.0.weight'
    if predictor in state_dict:
        head.update(pooling='lift', lift_kernel=state_dict[predictor].shape[-1],
                    loss_lift_update=dict(type='LiftingLoss', loss_weight=0.001),
                    loss_lift_predict=dict(type='LiftingLoss', loss_weight=0.001))
    return dict(backbone=dict(arch=arch,
                              base_channels=state_dict['backbone.conv1.weight'].shape[0]),
                head=head)


def frame_wise_model_cfg(state_dict: Mapping[str, Tensor]) -> dict:
    """The ``SignRecognizer`` config of a converted VAC / TLP state dict (random weights,
    no vocabulary)."""
    settings = infer_frame_wise_settings(state_dict)
    return dict(
        type='SignRecognizer',
        backbone=dict(type='FrameWiseResNet', pretrained=None, **settings['backbone']),
        head=dict(type='SignCTCHead', **settings['head']),
        decoder=dict(type='CTCGreedyDecoder'))


register_released_layout(ReleasedLayout(
    name='vac',
    description='VAC (2-D ResNet-18 frame by frame, max pooling; baseline, VAC or SMKD '
                'classifiers)',
    detect=is_vac_checkpoint,
    convert=convert_frame_wise_state_dict,
    model_cfg=frame_wise_model_cfg))
register_released_layout(ReleasedLayout(
    name='tlp',
    description='TLP (2-D ResNet-18 frame by frame, temporal lift pooling)',
    detect=is_tlp_checkpoint,
    convert=convert_frame_wise_state_dict,
    model_cfg=frame_wise_model_cfg))
