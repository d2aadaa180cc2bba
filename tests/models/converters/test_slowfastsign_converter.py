"""Released SlowFastSign checkpoints -> mmsign checkpoints.

The released file is built from the key table of SLOWFASTSIGN_SPEC.md section 5 (written
here as mmsign -> released, independently of the converter), random values, the classifier
of every head under two keys, ``{'model_state_dict': ...}`` with optimiser / scheduler / RNG
states; it converts and loads strictly into the PHOENIX14 recipe's model.
"""
import os.path as osp
import re
from collections import OrderedDict

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config

from mmsign.models.converters.adaptsign import OfficialCheckpointError
from mmsign.models.converters.registry import released_layouts
from mmsign.models.converters.slowfastsign import (
    convert_slowfastsign_state_dict,
    is_slowfastsign_state_dict,
    slowfastsign_model_cfg,
)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
HEAD_PREFIXES = {'head.': 0, 'head.pathway_heads.0.': 1, 'head.pathway_heads.1.': 2}


def released_keys(name: str) -> list:
    """Released key(s) of an mmsign name, from the spec's table."""
    match = re.match(r'backbone\.(slow|fast)_path\.conv1\.(conv|bn)\.(\w+)$', name)
    if match:
        path = 0 if match.group(1) == 'slow' else 1
        return [f'conv2d.s1.pathway{path}_stem.{match.group(2)}.{match.group(3)}']
    match = re.match(r'backbone\.(slow|fast)_path\.layer(\d)\.(\d+)\.(.+)$', name)
    if match:
        path = 0 if match.group(1) == 'slow' else 1
        block = f'conv2d.s{int(match.group(2)) + 1}.pathway{path}_res{match.group(3)}.'
        rest = match.group(4)
        conv = re.match(r'conv([123])\.(conv|bn)\.(\w+)$', rest)
        if conv:
            letter = 'abc'[int(conv.group(1)) - 1]
            suffix = '' if conv.group(2) == 'conv' else '_bn'
            return [f'{block}branch2.{letter}{suffix}.{conv.group(3)}']
        down = re.match(r'downsample\.(conv|bn)\.(\w+)$', rest)
        return [f'{block}branch1{"" if down.group(1) == "conv" else "_bn"}.{down.group(2)}']
    match = re.match(r'backbone\.fusions\.(\d)\.(.+)$', name)
    if match:
        fuse, rest = f'conv2d.s{int(match.group(1)) + 1}_fuse.', match.group(2)
        table = {'f2s.conv.weight': 'conv_f2s.weight', 's2f.conv.weight': 'conv_s2f.weight',
                 'weight_s': 'weight_s', 'weight_f': 'weight_f'}
        if rest in table:
            return [fuse + table[rest]]
        part, stat = rest.split('.bn.')
        return [fuse + ('bn.' if part == 'f2s' else 'bn2.') + stat]
    for prefix, h in sorted(HEAD_PREFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.startswith(prefix):
            rest = name[len(prefix):]
            if rest == 'classifier.weight':
                return [f'conv1d.fc.{h}.weight', f'classifier.{h}.weight']
            if rest.startswith('temporal_conv.temporal_conv.'):
                branch = ('main', 'slow', 'fast')[h]
                return [f'conv1d.{branch}_temporal_conv.'
                        + rest[len('temporal_conv.temporal_conv.'):]]
            if rest.startswith('bilstm.rnn.'):
                return [f'temporal_model.{h}.rnn.' + rest[len('bilstm.rnn.'):]]
    raise KeyError(name)


def recipe_model_cfg(hidden: int = 64) -> dict:
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'slowfastsign_phoenix14.py'))
    cfg.merge_from_dict({'model.vocab': None, 'model.head.num_classes': 1296,
                         'model.head.hidden_channels': hidden})
    return cfg.model.to_dict()


@pytest.fixture(scope='module')
def released():
    model = MODELS.build(recipe_model_cfg())
    generator = torch.Generator().manual_seed(0)
    ours = OrderedDict(
        (k, v if not v.is_floating_point() else torch.randn(v.shape, generator=generator))
        for k, v in model.state_dict().items())
    state_dict = OrderedDict()
    for name, tensor in ours.items():
        for key in released_keys(name):
            state_dict[key] = tensor
    return ours, state_dict


def test_the_released_layout_has_the_spec_key_count_converts_and_loads_strictly(released):
    ours, state_dict = released
    assert len(state_dict) == 1400  # the spec: 1400 entries for 1296 classes
    assert 'conv2d.s4.pathway1_res22.branch2.c_bn.running_var' in state_dict
    assert state_dict['conv2d.s4.pathway0_res5.branch2.a.weight'].shape[2] == 3
    assert state_dict['conv2d.s4.pathway0_res6.branch2.a.weight'].shape[2] == 1
    assert is_slowfastsign_state_dict(set(state_dict))
    converted = convert_slowfastsign_state_dict(state_dict)
    assert set(converted) == set(ours)
    for name, tensor in ours.items():
        assert torch.equal(converted[name], tensor), name

    # The recognizer config read from the shapes is the recipe's model: it loads strictly.
    cfg = slowfastsign_model_cfg(converted)
    assert cfg['data_preprocessor']['mean'] == [114.75] * 3
    assert cfg['head']['pathway_channels'] == (2048, 256)
    slow = cfg['backbone']['slow_pathway']
    assert slow['depth'] == 101 and slow['conv1_kernel'] == (1, 7, 7)
    assert slow['inflate'] == (0, 0, (1, ) * 6 + (0, ) * 17, 1)
    assert cfg['backbone']['fast_pathway']['inflate'] == (1, 1, (1, ) * 6 + (0, ) * 17, 1)
    model = MODELS.build(cfg)
    model.load_state_dict(converted, strict=True)
    recipe = MODELS.build(recipe_model_cfg())
    recipe.load_state_dict(converted, strict=True)


def test_the_layout_is_registered_for_the_converter_tool():
    layout = released_layouts()['slowfastsign']
    assert layout.convert is convert_slowfastsign_state_dict
    assert layout.parity_cfg_options == {'model.padding_mode': 'frames'}
    assert not layout.detect({'conv2d.layer1.0.conv1.weight', 'conv1d.temporal_conv.0.weight'})


def test_broken_checkpoints_are_named(released):
    _, state_dict = released
    extra = OrderedDict(state_dict, **{'conv2d.s2.pathway0_nonlocal1.theta.weight':
                                       torch.zeros(1)})
    with pytest.raises(OfficialCheckpointError, match='nonlocal1'):
        convert_slowfastsign_state_dict(extra)
    differing = OrderedDict(state_dict)
    differing['conv1d.fc.2.weight'] = differing['classifier.2.weight'] + 1
    with pytest.raises(OfficialCheckpointError, match='differ'):
        convert_slowfastsign_state_dict(differing)
    missing = OrderedDict((k, v) for k, v in state_dict.items() if '.1.weight' not in k
                          or not k.startswith(('classifier', 'conv1d.fc')))
    with pytest.raises(OfficialCheckpointError, match='classifier of head 1'):
        convert_slowfastsign_state_dict(missing)
