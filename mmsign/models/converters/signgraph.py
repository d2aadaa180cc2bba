"""Checkpoints of the released SignGraph code -> mmsign checkpoints (``SIGNGRAPH_SPEC.md``).

The released file is saved like CorrNet's; its backbone is CorrNet's ResNet with graph
modules after layers 3 and 4 instead of correlation modules, told apart from CorrNet's by
``conv2d.localG``:

- ``conv2d.{conv1,bn1,layer1..4}.*``, ``conv2d.alpha`` (4), the head and the shared
  classifier: as CorrNet (:data:`~mmsign.models.converters.corrnet.CORRNET_KEY_RULES`)
- ``conv2d.localG`` / ``localG2`` (after layer 3 / 4) ->
  ``backbone.stage_modules.layer{3,4}.0`` (:class:`LocalSignGraph`):
  ``fc1.{0,1}`` -> ``node_proj`` / ``node_norm``, ``fc2.{0,1}`` -> ``out_proj`` /
  ``out_norm``, and the groups=4 edge convolution ``graph_conv.gconv.nn.{0,1}`` (``2C``
  channels) split in halves: channels ``[0, C)`` -> ``edge_conv.center_{conv,norm}``,
  ``[C, 2C)`` -> ``edge_conv.neighbour_{conv,norm}``. ``relative_pos`` (the fixed ViG
  position table, recomputed by mmsign) is checked against the formula and left out.
- ``conv2d.temporalG`` / ``temporalG2`` -> ``backbone.stage_modules.layer{3,4}.1``
  (:class:`TemporalSignGraph`): ``down_conv.{0,1}`` -> ``node_conv`` / ``node_norm``,
  ``up_conv.{0,1}`` -> ``out_conv`` / ``out_norm``, ``gconv.lin.weight`` (``[out, in]``,
  torch_geometric 2) or ``gconv.weight`` (``[in, out]``, torch_geometric 1, transposed) ->
  ``gcn.weight``, ``gconv.bias`` -> ``gcn.bias``.
"""
import re
from collections import OrderedDict
from typing import Dict, Iterable, Mapping, Tuple

import torch
from torch import Tensor

from mmsign.models.backbones.signgraph_modules import relative_position_table
from mmsign.models.converters.corrnet import (
    CLASSIFIER_KEY,
    CORRNET_KEY_RULES,
    SHARED_CLASSIFIER_KEYS,
    infer_corrnet_settings,
)
from mmsign.models.converters.registry import (
    OfficialCheckpointError,
    ReleasedLayout,
    register_released_layout,
)

#: Released graph module -> (stage, index in the stage's module list).
GRAPH_MODULES: Dict[str, Tuple[int, int]] = {
    'localG': (3, 0), 'temporalG': (3, 1), 'localG2': (4, 0), 'temporalG2': (4, 1)}

#: Released names inside a graph module -> mmsign names (whole tensors).
GRAPH_RULES: Tuple[Tuple[str, str], ...] = (
    (r'fc1\.0\.', 'node_proj.'),
    (r'fc1\.1\.', 'node_norm.'),
    (r'fc2\.0\.', 'out_proj.'),
    (r'fc2\.1\.', 'out_norm.'),
    (r'down_conv\.0\.', 'node_conv.'),
    (r'down_conv\.1\.', 'node_norm.'),
    (r'up_conv\.0\.', 'out_conv.'),
    (r'up_conv\.1\.', 'out_norm.'),
    (r'gconv\.lin\.weight$', 'gcn.weight'),
    (r'gconv\.bias$', 'gcn.bias'),
)

#: The edge convolution's released prefix -> the mmsign halves (channels [0, C), [C, 2C)).
EDGE_RULES: Tuple[Tuple[str, Tuple[str, str]], ...] = (
    (r'graph_conv\.gconv\.nn\.0\.', ('edge_conv.center_conv.', 'edge_conv.neighbour_conv.')),
    (r'graph_conv\.gconv\.nn\.1\.', ('edge_conv.center_norm.', 'edge_conv.neighbour_norm.')),
)

#: Neighbours per node of each local graph and node pairs of each temporal graph, as the
#: released code hard-codes them (not in the checkpoint).
RELEASED_K = {'LocalSignGraph': {3: 3, 4: 4}, 'TemporalSignGraph': {3: 49, 4: 49}}

_GRAPH_KEY = re.compile(r'conv2d\.(localG2?|temporalG2?)\.(.+)$')


def is_signgraph_state_dict(keys: Iterable[str]) -> bool:
    """Whether released keys are SignGraph's: a ResNet in ``conv2d`` with the local graph
    ``conv2d.localG`` instead of CorrNet's correlation modules ``conv2d.corr{k}``."""
    keys = [k[len('module.'):] if k.startswith('module.') else k for k in keys]
    return (any(k.startswith('conv2d.layer1.') for k in keys)
            and any(k.startswith('conv2d.localG.') for k in keys)
            and not any(re.match(r'conv2d\.corr\d+\.', k) for k in keys))


def _check_relative_pos(key: str, table: Tensor, channels: int) -> None:
    """The released table must be the formula mmsign recomputes (else the k-NN differs)."""
    nodes = table.shape[-1]
    grid = int(round(nodes**0.5))
    if table.shape != (1, nodes, nodes) or grid * grid != nodes:
        raise OfficialCheckpointError(f'{key} has shape {list(table.shape)}: expected '
                                      '[1, N, N] of a square grid')
    difference = (table[0].float() - relative_position_table(grid, grid, channels)).abs().max()
    if difference > 1e-6:
        raise OfficialCheckpointError(
            f'{key} differs from ViG\'s relative position formula by up to {difference:.3g}; '
            'mmsign recomputes the table, so this checkpoint would not give its outputs')


def _rename_graph(module: str, rest: str, tensor: Tensor) -> Dict[str, Tensor]:
    stage, index = GRAPH_MODULES[module]
    prefix = f'backbone.stage_modules.layer{stage}.{index}.'
    if module.startswith('temporalG') and rest == 'gconv.weight':  # torch_geometric < 2
        return {prefix + 'gcn.weight': tensor.t()}
    for pattern, replacement in GRAPH_RULES:
        if re.match(pattern, rest):
            return {prefix + re.sub('^' + pattern, replacement, rest): tensor}
    for pattern, (first, second) in EDGE_RULES:
        if module.startswith('localG') and re.match(pattern, rest):
            name = re.sub('^' + pattern, '', rest)
            if name == 'num_batches_tracked':
                return {prefix + first + name: tensor, prefix + second + name: tensor}
            half = tensor.shape[0] // 2
            return {prefix + first + name: tensor[:half], prefix + second + name: tensor[half:]}
    raise KeyError(f'conv2d.{module}.{rest}')


def convert_signgraph_state_dict(
        state_dict: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Rename a released SignGraph ``model_state_dict`` for mmsign (values not copied).

    Args:
        state_dict (Mapping[str, Tensor]): The released ``model_state_dict`` (a
            ``module.`` prefix is removed).

    Returns:
        OrderedDict[str, Tensor]: The state dict of a ``SignRecognizer`` whose backbone is
        ``CorrNetResNet`` with SignGraph's stage modules.

    Raises:
        OfficialCheckpointError: Unknown keys, a position table that is not ViG's formula,
            ``alpha`` of another length than 4, or the shared classifier missing or saved
            with two different values.
    """
    state_dict = {(k[len('module.'):] if k.startswith('module.') else k): v
                  for k, v in state_dict.items()}
    converted: 'OrderedDict[str, Tensor]' = OrderedDict()
    unknown = []
    for key, tensor in state_dict.items():
        if key in SHARED_CLASSIFIER_KEYS:
            continue
        match = _GRAPH_KEY.match(key)
        try:
            if match and match.group(2) == 'relative_pos':
                width = state_dict.get(f'conv2d.{match.group(1)}.fc1.0.weight')
                if width is None:
                    raise KeyError(key)
                _check_relative_pos(key, tensor, width.shape[0])
                continue
            if match:
                converted.update(_rename_graph(match.group(1), match.group(2), tensor))
            else:
                name = next(re.sub('^' + p, r, key) for p, r in CORRNET_KEY_RULES
                            if re.match(p, key))
                converted[name] = tensor
        except (KeyError, StopIteration):
            unknown.append(key)
    if unknown:
        raise OfficialCheckpointError(
            f'{len(unknown)} keys belong to no part of the released SignGraph model: '
            f'{unknown[:10]}{" ..." if len(unknown) > 10 else ""}; is this a checkpoint of '
            'the released SignGraph code (SLRModel with a ResNet-18 and graph modules)?')
    alpha = converted.get('backbone.alpha')
    if alpha is None or alpha.shape != (4, ):
        raise OfficialCheckpointError(
            f'conv2d.alpha has shape {None if alpha is None else list(alpha.shape)}: '
            'SignGraph mixes its four graph modules with one alpha each')
    present = [k for k in SHARED_CLASSIFIER_KEYS if k in state_dict]
    if not present:
        raise OfficialCheckpointError(
            f'no classifier in the checkpoint: expected {" and ".join(SHARED_CLASSIFIER_KEYS)}')
    if not all(torch.equal(state_dict[k], state_dict[present[0]]) for k in present):
        raise OfficialCheckpointError(
            f'{" and ".join(present)} differ: SignGraph shares one classifier between the '
            'conv and the sequence branch and so does mmsign')
    converted[CLASSIFIER_KEY] = state_dict[present[0]]
    return converted


def signgraph_model_cfg(state_dict: Mapping[str, Tensor]) -> dict:
    """The ``SignRecognizer`` config of a released SignGraph (random weights, no
    vocabulary), read from a converted state dict.

    Args:
        state_dict (Mapping[str, Tensor]): mmsign names
            (:func:`convert_signgraph_state_dict`).

    Returns:
        dict: The model config.
    """
    settings = infer_corrnet_settings(state_dict)
    backbone = dict(settings['backbone'])
    backbone['stage_modules'] = {
        f'layer{stage}': [dict(type=t, k=RELEASED_K[t][stage])
                          for t in ('LocalSignGraph', 'TemporalSignGraph')]
        for stage in (3, 4)}
    return dict(
        type='SignRecognizer',
        backbone=dict(type='CorrNetResNet', pretrained=None, mixing_init=1.0, **backbone),
        head=dict(type='SignCTCHead', num_classes=settings['num_classes'], **settings['head']),
        decoder=dict(type='CTCGreedyDecoder'))


register_released_layout(ReleasedLayout(
    name='signgraph',
    description='SignGraph (3-D ResNet-18 with local and temporal graph modules)',
    detect=is_signgraph_state_dict,
    convert=convert_signgraph_state_dict,
    model_cfg=signgraph_model_cfg,
    refines='corrnet'))
