"""Released SEN and CorrNet+ checkpoints -> mmsign checkpoints.

Each released file is built from the key layout of the released code (``LINEAGE_SPEC.md``:
``conv2d.*`` with ``layer*.{i}.ssem.*`` / ``.tsem.*`` for SEN, ``corr{k}.*``,
``temporal_weight{k}.*`` and ``alpha`` for CorrNet+ with its dead ``mlp.*`` / ``weights3``,
``conv1d.*``, ``temporal_model.*``, the classifiers; ``{'model_state_dict': ...}``), random
values, converted with the one tool and loaded strictly into the recipe's model.
"""
import importlib.util
import os.path as osp
import re
from collections import OrderedDict

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config

from mmsign.models.converters import OfficialCheckpointError, detect_layout

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

# mmsign -> released names, written from the release's attribute names (the inverse of
# the converters, kept independent of them).
EMPHASIS_TO_RELEASED = {'reduce': 'conv_transform', 'aggregations': 'conv_enhance',
                        'aggregation_weights': 'weights', 'expand': 'conv_back',
                        'alpha': 'alpha'}
CORRELATION_TO_RELEASED = {
    'correlation.key_proj.weight': 'down_conv2.weight',
    'correlation.offset_weights': 'weights2',
    'correlation.query.pooling_weights': 'weights4',
    'correlation.query.attention_pool.query': 'attpool.query',
    'identification.reduce.weight': 'down_conv.weight',
    'identification.aggregation_weights': 'weights',
    'identification.expand.weight': 'conv_back.weight',
    **{f'correlation.query.attention_pool.{a}_proj.{p}': f'attpool.{b}_proj.{p}'
       for a, b in [('q', 'q'), ('k', 'k'), ('v', 'v'), ('out', 'c')]
       for p in ('weight', 'bias')},
    **{f'identification.aggregations.{j}.{p}': f'spatial_aggregation{j + 1}.{p}'
       for j in range(3) for p in ('weight', 'bias')},
}
# mmsign's flat temporal conv with lift pooling -> the release's nested layers (a K layer
# is a Sequential(conv, BN, ReLU) there): conv 0, BN 1, lift 3, conv 4, BN 5, lift 7.
LIFT_TEMPORAL = {0: '0.0', 1: '0.1', 3: '1', 4: '2.0', 5: '2.1', 7: '3'}
HEAD_TO_RELEASED = [('head.bilstm.rnn.', 'temporal_model.rnn.'),
                    ('head.conv_classifier.', 'conv1d.fc.'),  # SEN: a Linear per branch
                    ('head.classifier.', 'classifier.')]


def released_names(name: str, shared: bool, lift: bool) -> list:
    """Released key(s) of an mmsign name."""
    match = re.match(r'head\.temporal_conv\.temporal_conv\.(\d+)\.(.+)$', name)
    if match:
        index = int(match.group(1))
        layer = LIFT_TEMPORAL[index] if lift else str(index)
        return [f'conv1d.temporal_conv.{layer}.{match.group(2)}']
    if shared and name == 'head.classifier.weight':  # one classifier saved twice
        return ['conv1d.fc.weight', 'classifier.weight']
    match = re.match(r'backbone\.(layer\d\.\d)\.block_modules\.(\d)\.(\w+)(.*)$', name)
    if match:
        block, index, attribute, rest = match.groups()
        return [f'conv2d.{block}.{("ssem", "tsem")[int(index)]}.'
                f'{EMPHASIS_TO_RELEASED[attribute]}{rest}']
    match = re.match(r'backbone\.stage_modules\.layer(\d)\.([01])\.(\w+)(.*)$', name)
    if match:
        stage, index, attribute, rest = match.groups()
        if index == '1':
            return [f'conv2d.temporal_weight{stage}.{EMPHASIS_TO_RELEASED[attribute]}{rest}']
        return [f'conv2d.corr{stage}.{CORRELATION_TO_RELEASED[attribute + rest]}']
    if name.startswith('backbone.'):
        return ['conv2d.' + name[len('backbone.'):]]
    for prefix, released in HEAD_TO_RELEASED:
        if name.startswith(prefix):
            return [released + name[len(prefix):]]
    raise KeyError(name)


def recipe_model_cfg(recipe: str) -> dict:
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', f'{recipe}.py'))
    cfg.merge_from_dict({'model.backbone.pretrained': None, 'model.vocab': None,
                         'model.head.num_classes': 1296, 'model.head.hidden_channels': 64})
    return cfg.model.to_dict()


def dead_tensors(channels: int, stage: int, generator) -> dict:
    """What the released ``Get_Correlation`` builds but never uses."""
    reduced = channels // 16
    shapes = {'mlp.0.weight': (reduced, channels, 1, 1, 1), 'mlp.0.bias': (reduced, ),
              'mlp.2.weight': (channels, reduced, 1, 1, 1), 'mlp.2.bias': (channels, ),
              'weights3': (3, )}
    return {f'conv2d.corr{stage}.{k}': torch.randn(s, generator=generator)
            for k, s in shapes.items()}


def released_checkpoint(path: str, recipe: str, prefix: str = ''):
    """The recipe's model with random values, saved as the released code saves it."""
    model = MODELS.build(recipe_model_cfg(recipe))
    generator = torch.Generator().manual_seed(0)
    ours = OrderedDict(
        (k, v if not v.is_floating_point() else torch.randn(v.shape, generator=generator))
        for k, v in model.state_dict().items())
    released = OrderedDict()
    shared = 'head.conv_classifier.weight' not in ours
    lift = any('.predictor.' in k for k in ours)
    for name, tensor in ours.items():
        if name == 'backbone.alpha' and not tensor.numel():
            continue  # SEN: no module after a stage, no alpha in the released file
        for key in released_names(name, shared, lift):
            released[prefix + key] = (tensor.view(1, 1, -1) if key.endswith('attpool.query')
                                      else tensor)
    if 'corrnet-plus' in recipe:
        for stage, channels in [(2, 128), (3, 256), (4, 512)]:
            released.update({prefix + k: v for k, v in
                             dead_tensors(channels, stage, generator).items()})
    torch.save(dict(epoch=79, model_state_dict=released), path)
    return ours, released


def load_tool():
    path = osp.join(REPO_ROOT, 'tools', 'model_converters', 'released_to_mmsign.py')
    spec = importlib.util.spec_from_file_location('released_to_mmsign', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('recipe,layout,prefix', [
    ('sen_phoenix14', 'sen', ''),
    ('sen_phoenix14', 'sen', 'module.'),
    ('corrnet-plus_phoenix14', 'corrnet_plus', ''),
], ids=['sen', 'sen-dataparallel', 'corrnet-plus'])
def test_tool_detects_converts_and_the_recipe_loads_it_strictly(recipe, layout, prefix,
                                                                tmp_path, capsys):
    src, dst = str(tmp_path / 'released.pt'), str(tmp_path / 'converted.pth')
    ours, released = released_checkpoint(src, recipe, prefix)
    assert load_tool().main([src, dst, '--dataset', 'phoenix2014']) == 0
    out = capsys.readouterr().out
    assert f'detected: {layout} (' in out

    checkpoint = torch.load(dst, map_location='cpu', weights_only=True)
    model = MODELS.build(recipe_model_cfg(recipe))
    model.load_state_dict(checkpoint['state_dict'], strict=True)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, ours[name]), name
    if layout == 'corrnet_plus':
        # The dead tensors are accepted, dropped, and the tool names them.
        assert 'conv2d.corr4.mlp.2.weight' in out and 'conv2d.corr2.weights3' in out
        assert released['conv2d.alpha'].shape == (3, )
        assert 'conv1d.temporal_conv.3.weight2.insnorm.bias' in released
        assert 'conv1d.temporal_conv.2.1.running_var' in released
    else:
        assert 'conv2d.layer4.1.tsem.conv_enhance.4.weight' in {
            k[len(prefix):] for k in released}


def test_layouts_are_told_apart(tmp_path):
    _, sen = released_checkpoint(str(tmp_path / 'sen.pt'), 'sen_phoenix14')
    _, plus = released_checkpoint(str(tmp_path / 'plus.pt'), 'corrnet-plus_phoenix14')
    assert detect_layout(sen).name == 'sen'
    assert detect_layout(plus).name == 'corrnet_plus'  # refines CorrNet's (corr{k} keys)
    unknown = dict(plus, **{'conv2d.corr3.extra.weight': torch.zeros(1)})
    with pytest.raises(OfficialCheckpointError, match='conv2d.corr3.extra.weight'):
        detect_layout(unknown).convert(unknown)
    unknown = dict(sen, **{'conv2d.layer1.0.ssem.extra': torch.zeros(1)})
    with pytest.raises(OfficialCheckpointError, match='conv2d.layer1.0.ssem.extra'):
        detect_layout(unknown).convert(unknown)
