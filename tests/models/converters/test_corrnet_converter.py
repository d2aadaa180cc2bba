"""Released CorrNet checkpoints -> mmsign checkpoints.

The released file is built from the key layout of the released code (``CORRNET_SPEC.md``:
``conv2d.*`` with ``corr{k}.*`` and ``alpha``, ``conv1d.*``, ``temporal_model.*``, the
classifier under two keys, ``{'model_state_dict': ...}`` with optimiser / scheduler / RNG
states), random values, converted with the tool and loaded strictly into the recipe model.
"""
import importlib.util
import json
import os.path as osp
import random
import re
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config

from mmsign.models.converters import (
    OfficialCheckpointError,
    convert_corrnet_state_dict,
    convert_released_checkpoint,
    infer_corrnet_settings,
    is_corrnet_state_dict,
)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

# mmsign -> released names inside one Get_Correlation, written from the release's
# attribute names (the inverse of the converter, kept independent of it).
MODULE_TO_RELEASED = {
    'correlation.neighbour_proj.weight': 'down_conv2.weight',
    'correlation.direction_weights': 'weights2',
    'identification.reduce.weight': 'down_conv.weight',
    'identification.aggregation_weights': 'weights',
    'identification.expand.weight': 'conv_back.weight',
    **{f'identification.aggregations.{j}.{p}': f'spatial_aggregation{j + 1}.{p}'
       for j in range(3) for p in ('weight', 'bias')},
}


def released_keys(name: str, corr_names: dict) -> list:
    """Released key(s) of an mmsign name; ``corr_names`` maps a stage to ``corr{k}``."""
    if name == 'head.classifier.weight':
        return ['conv1d.fc.weight', 'classifier.weight']
    match = re.match(r'backbone\.stage_modules\.layer(\d)\.0\.(.+)$', name)
    if match:
        return [f'conv2d.{corr_names[int(match.group(1))]}.'
                f'{MODULE_TO_RELEASED[match.group(2)]}']
    for prefix, released in [('backbone.', 'conv2d.'),
                             ('head.temporal_conv.temporal_conv.', 'conv1d.temporal_conv.'),
                             ('head.bilstm.rnn.', 'temporal_model.rnn.')]:
        if name.startswith(prefix):
            return [released + name[len(prefix):]]
    raise KeyError(name)


def recipe_model_cfg(recipe: str) -> dict:
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', f'{recipe}.py'))
    cfg.merge_from_dict({'model.backbone.pretrained': None, 'model.vocab': None,
                         'model.head.num_classes': 1296, 'model.head.hidden_channels': 64})
    return cfg.model.to_dict()


def released_checkpoint(path: str, recipe: str, corr_names: dict, seed: int = 0):
    """The recipe's model with random values, saved as the released training code saves."""
    model = MODELS.build(recipe_model_cfg(recipe))
    generator = torch.Generator().manual_seed(seed)
    ours = OrderedDict(
        (k, v if not v.is_floating_point() else torch.randn(v.shape, generator=generator))
        for k, v in model.state_dict().items())
    released = OrderedDict()
    for name, tensor in ours.items():
        for key in released_keys(name, corr_names):
            released[key] = tensor  # the classifier: one tensor under two keys
    param = torch.nn.Parameter(torch.randn(4, 3))
    optimizer = torch.optim.Adam([param], lr=1e-4, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [20, 35], gamma=0.2)
    param.sum().backward()
    optimizer.step()
    scheduler.step()
    rng_state = dict(torch=torch.get_rng_state(), cuda=[], numpy=np.random.get_state(),
                     random=random.getstate())
    torch.save(dict(epoch=39, model_state_dict=released,
                    optimizer_state_dict=optimizer.state_dict(),
                    scheduler_state_dict=scheduler.state_dict(), rng_state=rng_state), path)
    return ours, released


def load_tool():
    path = osp.join(REPO_ROOT, 'tools', 'model_converters', 'released_to_mmsign.py')
    spec = importlib.util.spec_from_file_location('released_to_mmsign', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PHOENIX_CORRS = {2: 'corr1', 3: 'corr2', 4: 'corr3'}


def test_tool_tells_corrnet_apart_converts_and_the_recipe_loads_it_strictly(tmp_path):
    src, dst = str(tmp_path / 'dev_18.90_PHOENIX14.pt'), str(tmp_path / 'corrnet.pth')
    ours, released = released_checkpoint(src, 'corrnet_phoenix14', PHOENIX_CORRS)
    assert 'conv2d.corr1.spatial_aggregation3.bias' in released
    assert released['conv2d.alpha'].shape == (3, )
    assert load_tool().main([src, dst, '--dataset', 'phoenix2014']) == 0

    checkpoint = torch.load(dst, map_location='cpu', weights_only=True)
    model = MODELS.build(recipe_model_cfg('corrnet_phoenix14'))
    model.load_state_dict(checkpoint['state_dict'], strict=True)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, ours[name]), name
    meta = checkpoint['meta']
    assert meta['source'].startswith('CorrNet') and meta['epoch'] == 39
    assert meta['dataset'] == 'phoenix2014'
    assert json.loads(meta['arch']) == dict(
        arch='resnet18', base_channels=64,
        stage_modules={f'layer{i}': [dict(type='CorrelationIdentification')]
                       for i in (2, 3, 4)})


def test_csl_daily_layout_two_modules_fit_the_csl_daily_recipe(tmp_path):
    """Two modules (after layers 3 and 4): found by their width whatever their numbers."""
    src, dst = str(tmp_path / 'csl_daily.pt'), str(tmp_path / 'corrnet_csl.pth')
    ours, released = released_checkpoint(src, 'corrnet_csl-daily', {3: 'corr1', 4: 'corr2'})
    converted = convert_corrnet_state_dict(released)
    assert sorted(infer_corrnet_settings(converted)['backbone']['stage_modules']) == [
        'layer3', 'layer4']
    meta = convert_released_checkpoint(src, dst, model='corrnet',
                                       model_cfg=recipe_model_cfg('corrnet_csl-daily'))
    assert meta['num_classes'] == 1296
    state_dict = torch.load(dst, weights_only=True)['state_dict']
    assert torch.equal(state_dict['backbone.stage_modules.layer3.0.identification.expand.weight'],
                       released['conv2d.corr1.conv_back.weight'])
    # The PHOENIX14 recipe has a module after layer2 too: the strict check says so.
    with pytest.raises(OfficialCheckpointError, match=r'missing \[.*stage_modules\.layer2'):
        convert_released_checkpoint(src, dst, model='corrnet',
                                    model_cfg=recipe_model_cfg('corrnet_phoenix14'))


def test_layouts_are_told_apart_and_broken_files_are_named(tmp_path, release_data, capsys):
    with open(osp.join(release_data, 'official_adaptsign_vitb16_state_dict_keys.json')) as f:
        adaptsign_keys = {entry['key']: None for entry in json.load(f)['keys']}
    assert not is_corrnet_state_dict(adaptsign_keys)

    src = str(tmp_path / 'released.pt')
    _, released = released_checkpoint(src, 'corrnet_phoenix14', PHOENIX_CORRS)
    assert is_corrnet_state_dict(released)
    extra = dict(released, **{'conv2d.corr1.extra_conv.weight': torch.zeros(1)})
    with pytest.raises(OfficialCheckpointError, match='conv2d.corr1.extra_conv.weight'):
        convert_corrnet_state_dict(extra)
    short_alpha = dict(released, **{'conv2d.alpha': torch.zeros(2)})
    with pytest.raises(OfficialCheckpointError, match='3 correlation modules'):
        convert_corrnet_state_dict(short_alpha)
    two_classifiers = dict(released, **{'classifier.weight': torch.zeros_like(
        released['classifier.weight'])})
    with pytest.raises(OfficialCheckpointError, match='differ'):
        convert_corrnet_state_dict(two_classifiers)

    torch.save({'model_state_dict': extra}, src)
    assert load_tool().main([src, str(tmp_path / 'out.pth'), '--model', 'corrnet']) == 1
    assert 'released CorrNet model' in capsys.readouterr().err
