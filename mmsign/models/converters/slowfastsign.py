"""Checkpoints of the released SlowFastSign code -> mmsign (``SLOWFASTSIGN_SPEC.md`` §5).

The released file is saved like the lineage's (``{'model_state_dict': ..., 'epoch': ...,
optimiser / scheduler / RNG states}``). Its keys (``p`` = 0 slow, 1 fast)::

    conv2d.s1.pathway{p}_stem.{conv,bn}         -> backbone.{slow,fast}_path.conv1.{conv,bn}
    conv2d.s{k}.pathway{p}_res{i}.branch2.{a,b,c}    -> ...layer{k-1}.{i}.conv{1,2,3}.conv
    conv2d.s{k}.pathway{p}_res{i}.branch2.{a,b,c}_bn -> ...layer{k-1}.{i}.conv{1,2,3}.bn
    conv2d.s{k}.pathway{p}_res{i}.branch1(_bn)       -> ...layer{k-1}.{i}.downsample.{conv,bn}
    conv2d.s{k}_fuse.conv_f2s / .bn                -> backbone.fusions.{k-1}.f2s.{conv,bn}
    conv2d.s{k}_fuse.conv_s2f / .bn2               -> backbone.fusions.{k-1}.s2f.{conv,bn}
    conv2d.s{k}_fuse.weight_s / .weight_f          -> backbone.fusions.{k-1}.weight_{s,f}
    conv1d.{main,slow,fast}_temporal_conv.*        -> head(.pathway_heads.{0,1}).temporal_conv
    temporal_model.{0,1,2}.rnn.*                   -> head(.pathway_heads.{0,1}).bilstm.rnn.*
    classifier.{h}.weight = conv1d.fc.{h}.weight   -> head(.pathway_heads.{h-1}).classifier

The architecture (depth, widths, which blocks have a temporal kernel) is read from the
shapes, so the recognizer config comes from the checkpoint itself.
"""
import re
from collections import OrderedDict
from typing import List, Mapping, Set

import torch
from torch import Tensor

from mmsign.models.converters.registry import (
    OfficialCheckpointError,
    ReleasedLayout,
    register_released_layout,
)

PATHWAYS = ('slow_path', 'fast_path')
HEADS = ('head.', 'head.pathway_heads.0.', 'head.pathway_heads.1.')
TEMPORAL_CONVS = dict(main=HEADS[0], slow=HEADS[1], fast=HEADS[2])
#: The released normalisation (x / 255 - 0.45) / 0.225 as the data preprocessor's.
DATA_PREPROCESSOR = dict(type='SignDataPreprocessor', mean=[114.75] * 3, std=[57.375] * 3)

_BRANCH2 = dict(a='conv1', b='conv2', c='conv3')


def _backbone_key(key: str) -> str:
    """mmsign name of a released ``conv2d.*`` key (KeyError when it is none of them)."""
    match = re.match(r'conv2d\.s1\.pathway([01])_stem\.(conv|bn)\.(\w+)$', key)
    if match:
        return f'backbone.{PATHWAYS[int(match.group(1))]}.conv1.{match.group(2)}.' \
               f'{match.group(3)}'
    match = re.match(r'conv2d\.s([2-5])\.pathway([01])_res(\d+)\.(.+)$', key)
    if match:
        stage, path, block, rest = match.groups()
        prefix = f'backbone.{PATHWAYS[int(path)]}.layer{int(stage) - 1}.{block}.'
        inner = re.match(r'branch2\.([abc])(_bn)?\.(\w+)$', rest)
        if inner:
            return (prefix + _BRANCH2[inner.group(1)]
                    + ('.bn.' if inner.group(2) else '.conv.') + inner.group(3))
        inner = re.match(r'branch1(_bn)?\.(\w+)$', rest)
        if inner:
            return prefix + 'downsample' + ('.bn.' if inner.group(1) else '.conv.') \
                + inner.group(2)
        raise KeyError(key)
    match = re.match(r'conv2d\.s([1-4])_fuse\.(.+)$', key)
    if match:
        prefix, rest = f'backbone.fusions.{int(match.group(1)) - 1}.', match.group(2)
        for pattern, name in ((r'conv_f2s\.weight$', 'f2s.conv.weight'),
                              (r'conv_s2f\.weight$', 's2f.conv.weight'),
                              (r'weight_([sf])$', 'weight_{}'), (r'bn\.(\w+)$', 'f2s.bn.{}'),
                              (r'bn2\.(\w+)$', 's2f.bn.{}')):
            inner = re.match(pattern, rest)
            if inner:
                return prefix + name.format(*inner.groups())
    raise KeyError(key)


def released_to_mmsign_key(key: str) -> str:
    """mmsign name of a released key other than the classifiers.

    Raises:
        KeyError: The key belongs to no part of the released model.
    """
    if key.startswith('conv2d.'):
        return _backbone_key(key)
    match = re.match(r'conv1d\.(main|slow|fast)_temporal_conv\.(.+)$', key)
    if match:
        return f'{TEMPORAL_CONVS[match.group(1)]}temporal_conv.temporal_conv.{match.group(2)}'
    match = re.match(r'temporal_model\.([012])\.rnn\.(.+)$', key)
    if match:
        return f'{HEADS[int(match.group(1))]}bilstm.rnn.{match.group(2)}'
    raise KeyError(key)


def is_slowfastsign_state_dict(keys: Set[str]) -> bool:
    """Whether released keys (``module.`` stripped) are SlowFastSign's."""
    return 'conv2d.s1.pathway0_stem.conv.weight' in keys and any(
        k.startswith('conv1d.main_temporal_conv.') for k in keys)


def convert_slowfastsign_state_dict(
        state_dict: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Rename a released SlowFastSign ``model_state_dict`` for mmsign (values not copied).

    Args:
        state_dict (Mapping[str, Tensor]): The released ``model_state_dict`` (``module.``
            stripped).

    Returns:
        OrderedDict[str, Tensor]: The state dict of a ``SignRecognizer`` with a
        ``SlowFastSignResNet3d`` backbone and a ``MultiPathwayCTCHead``.

    Raises:
        OfficialCheckpointError: Unknown keys, or a head's classifier missing or saved
            with two different values.
    """
    converted: 'OrderedDict[str, Tensor]' = OrderedDict()
    unknown = []
    for key, tensor in state_dict.items():
        if re.match(r'(classifier|conv1d\.fc)\.[012]\.weight$', key):
            continue
        try:
            converted[released_to_mmsign_key(key)] = tensor
        except KeyError:
            unknown.append(key)
    if unknown:
        raise OfficialCheckpointError(
            f'{len(unknown)} keys belong to no part of the released SlowFastSign model: '
            f'{unknown[:10]}{" ..." if len(unknown) > 10 else ""}; is this a checkpoint of '
            'the released SlowFastSign code (slr_network_multi.SLRModel)?')
    for h, prefix in enumerate(HEADS):
        keys = [k for k in (f'classifier.{h}.weight', f'conv1d.fc.{h}.weight')
                if k in state_dict]
        if not keys:
            raise OfficialCheckpointError(f'no classifier of head {h} in the checkpoint: '
                                          f'expected classifier.{h}.weight')
        if not all(torch.equal(state_dict[k], state_dict[keys[0]]) for k in keys):
            raise OfficialCheckpointError(
                f'{" and ".join(keys)} differ: head {h} shares one classifier between its '
                'conv and sequence branches (share_classifier: 1) and so does mmsign')
        converted[prefix + 'classifier.weight'] = state_dict[keys[0]]
    return converted


def _pathway_cfg(state_dict: Mapping[str, Tensor], path: str) -> dict:
    """mmaction2 pathway config of a converted pathway, read from its shapes."""
    stem = state_dict[f'backbone.{path}.conv1.conv.weight']
    blocks: List[List[int]] = []
    for stage in range(1, 5):
        kernels = {}
        for key, tensor in state_dict.items():
            match = re.match(rf'backbone\.{path}\.layer{stage}\.(\d+)\.conv1\.conv\.weight$',
                             key)
            if match:
                kernels[int(match.group(1))] = int(tensor.shape[2] > 1)
        if not kernels:
            raise OfficialCheckpointError(f'the checkpoint has no res{stage + 1} stage in the '
                                          f'{path.split("_")[0]} pathway')
        blocks.append([kernels[i] for i in range(len(kernels))])
    counts = tuple(len(b) for b in blocks)
    depth = {(3, 4, 23, 3): 101, (3, 4, 6, 3): 50}.get(counts)
    cfg = dict(type='resnet3d', depth=depth or 50, pretrained=None, lateral=False,
               base_channels=int(stem.shape[0]), conv1_kernel=tuple(stem.shape[2:]),
               conv1_stride_t=1, pool1_stride_t=1,
               inflate=tuple(b[0] if len(set(b)) == 1 else tuple(b) for b in blocks))
    if depth is None:
        cfg['stage_blocks'] = counts
    return cfg


def slowfastsign_model_cfg(state_dict: Mapping[str, Tensor]) -> dict:
    """The ``SignRecognizer`` config of a converted SlowFastSign (random weights, no
    vocabulary): architecture read from the shapes, the released normalisation."""
    slow, fast = (_pathway_cfg(state_dict, path) for path in PATHWAYS)
    widths = tuple(int(state_dict[f'{HEADS[h]}temporal_conv.temporal_conv.0.weight'].shape[1])
                   for h in (1, 2))
    classifier = state_dict['head.classifier.weight']
    lstm_layers = len([k for k in state_dict if re.match(r'head\.bilstm\.rnn\.weight_ih_l\d+$',
                                                         k)])
    return dict(
        type='SignRecognizer',
        data_preprocessor=dict(DATA_PREPROCESSOR),
        backbone=dict(type='SlowFastSignResNet3d', slow_pathway=slow, fast_pathway=fast,
                      pretrained=None),
        head=dict(type='MultiPathwayCTCHead', num_classes=int(classifier.shape[1]),
                  hidden_channels=int(classifier.shape[0]), lstm_layers=lstm_layers,
                  pathway_channels=widths, pathway_weights=(0.25, 0.25),
                  pathway_names=('slow', 'fast')),
        decoder=dict(type='CTCGreedyDecoder'))


register_released_layout(ReleasedLayout(
    name='slowfastsign',
    description='SlowFastSign (ICASSP 2024): SlowFast R101 pathways with bidirectional '
    'fusion, fused / slow / fast CTC heads',
    detect=is_slowfastsign_state_dict,
    convert=convert_slowfastsign_state_dict,
    model_cfg=slowfastsign_model_cfg,
    # The released code runs the backbone on the edge-padded batch.
    parity_cfg_options={'model.padding_mode': 'frames'}))

__all__ = [
    'DATA_PREPROCESSOR', 'convert_slowfastsign_state_dict', 'is_slowfastsign_state_dict',
    'released_to_mmsign_key', 'slowfastsign_model_cfg'
]
