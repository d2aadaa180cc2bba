"""Released SignGraph checkpoints -> mmsign checkpoints.

The released file is built from the key table of SIGNGRAPH_SPEC.md (``conv2d.*`` with
``localG``/``localG2``/``temporalG``/``temporalG2`` and ``alpha``, ``conv1d.*``,
``temporal_model.*``, the classifier under two keys), random values, converted with the
tool and loaded strictly into the recipe model.
"""
import importlib.util
import json
import os.path as osp
from collections import OrderedDict

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config

from mmsign.models.converters import OfficialCheckpointError, convert_released_checkpoint
from mmsign.models.converters.registry import detect_layout
from mmsign.models.converters.signgraph import convert_signgraph_state_dict

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
HIDDEN = 64


def vig_relative_pos(grid: int, channels: int) -> torch.Tensor:
    """The released ``relative_pos``: ViG's 2-D sin-cos embeddings ``P``, ``-2 P P^T / C``
    in float64, stored as float32, ``[1, N, N]``."""
    def one_d(dim, pos):
        omega = 1.0 / 10000**(torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0))
        out = pos.reshape(-1, 1) * omega
        return torch.cat([torch.sin(out), torch.cos(out)], 1)

    coords = torch.arange(grid, dtype=torch.float64)
    cols, rows = torch.meshgrid(coords, coords, indexing='xy')
    embed = torch.cat([one_d(channels // 2, cols), one_d(channels // 2, rows)], 1)
    return (-(2 * embed @ embed.T / channels)).float()[None]


def batch_norm_keys(prefix: str, channels: int) -> dict:
    return {f'{prefix}.weight': (channels, ), f'{prefix}.bias': (channels, ),
            f'{prefix}.running_mean': (channels, ), f'{prefix}.running_var': (channels, ),
            f'{prefix}.num_batches_tracked': ()}


def released_graph_shapes(gcn_key: str = 'gconv.lin.weight') -> dict:
    """The graph modules' keys and shapes, from the spec's key table."""
    shapes = {'conv2d.alpha': (4, )}
    for name, c in (('localG', 256), ('localG2', 512)):
        p = f'conv2d.{name}'
        shapes[f'{p}.relative_pos'] = (1, (3584 // c)**2, (3584 // c)**2)  # 14x14, 7x7
        shapes.update({f'{p}.fc1.0.weight': (c, c, 1, 1), f'{p}.fc1.0.bias': (c, ),
                       f'{p}.graph_conv.gconv.nn.0.weight': (2 * c, c // 2, 1, 1),
                       f'{p}.graph_conv.gconv.nn.0.bias': (2 * c, ),
                       f'{p}.fc2.0.weight': (c, 2 * c, 1, 1), f'{p}.fc2.0.bias': (c, )})
        shapes.update(batch_norm_keys(f'{p}.fc1.1', c))
        shapes.update(batch_norm_keys(f'{p}.graph_conv.gconv.nn.1', 2 * c))
        shapes.update(batch_norm_keys(f'{p}.fc2.1', c))
    for name, c in (('temporalG', 256), ('temporalG2', 512)):
        p = f'conv2d.{name}'
        for conv in ('down_conv', 'up_conv'):
            shapes[f'{p}.{conv}.0.weight'] = (c, c, 3, 1, 1)
            shapes.update(batch_norm_keys(f'{p}.{conv}.1', c))
        shapes.update({f'{p}.{gcn_key}': (c, c), f'{p}.gconv.bias': (c, )})
    return shapes


def recipe_model_cfg(recipe: str = 'signgraph_phoenix14') -> dict:
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', f'{recipe}.py'))
    cfg.merge_from_dict({'model.backbone.pretrained': None, 'model.vocab': None,
                         'model.head.num_classes': 1296,
                         'model.head.hidden_channels': HIDDEN})
    return cfg.model.to_dict()


def released_state_dict(gcn_key: str = 'gconv.lin.weight', seed: int = 0) -> OrderedDict:
    """Random values under the released names: the trunk and the head from a plain
    mmsign model (the same names and shapes as released), the graph modules from the
    key table."""
    plain = recipe_model_cfg()
    plain['backbone']['stage_modules'] = {}
    model = MODELS.build(plain)
    shapes = {}
    for name, tensor in model.state_dict().items():
        if name.startswith('backbone.') and name != 'backbone.alpha':
            shapes['conv2d.' + name[len('backbone.'):]] = tensor.shape
        elif name.startswith('head.temporal_conv.temporal_conv.'):
            shapes['conv1d.temporal_conv.' + name.split('temporal_conv.', 2)[2]] = tensor.shape
        elif name.startswith('head.bilstm.rnn.'):
            shapes['temporal_model.rnn.' + name[len('head.bilstm.rnn.'):]] = tensor.shape
        elif name == 'head.classifier.weight':
            shapes['classifier.weight'] = tensor.shape
    shapes.update(released_graph_shapes(gcn_key))
    generator = torch.Generator().manual_seed(seed)
    released = OrderedDict()
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            released[key] = torch.tensor(17)
        elif key.endswith('relative_pos'):
            grid = int(round(shape[-1]**0.5))
            released[key] = vig_relative_pos(grid, 256 if grid == 14 else 512)
        else:
            released[key] = torch.randn(shape, generator=generator)
    released['conv1d.fc.weight'] = released['classifier.weight']
    return released


def load_tool():
    path = osp.join(REPO_ROOT, 'tools', 'model_converters', 'released_to_mmsign.py')
    spec = importlib.util.spec_from_file_location('released_to_mmsign', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tool_tells_signgraph_apart_converts_and_the_recipe_loads_it_strictly(tmp_path):
    released = released_state_dict()
    assert len(released) == 225  # SIGNGRAPH_SPEC.md: 225 tensors (torch_geometric 2.x)
    assert detect_layout(released).name == 'signgraph'
    src, dst = str(tmp_path / 'dev_17.13_PHOENIX14.pt'), str(tmp_path / 'signgraph.pth')
    torch.save(dict(epoch=88, model_state_dict=released, optimizer_state_dict={},
                    scheduler_state_dict={}, rng_state={}), src)
    assert load_tool().main([src, dst, '--dataset', 'phoenix2014']) == 0

    checkpoint = torch.load(dst, map_location='cpu', weights_only=True)
    model = MODELS.build(recipe_model_cfg())
    model.load_state_dict(checkpoint['state_dict'], strict=True)
    state = model.state_dict()
    local = 'backbone.stage_modules.layer4.0.'
    edge = released['conv2d.localG2.graph_conv.gconv.nn.0.weight']
    assert torch.equal(state[local + 'edge_conv.center_conv.weight'], edge[:512])
    assert torch.equal(state[local + 'edge_conv.neighbour_conv.weight'], edge[512:])
    norm = released['conv2d.localG2.graph_conv.gconv.nn.1.running_var']
    assert torch.equal(state[local + 'edge_conv.neighbour_norm.running_var'], norm[512:])
    assert torch.equal(state[local + 'node_proj.bias'], released['conv2d.localG2.fc1.0.bias'])
    temporal = 'backbone.stage_modules.layer3.1.'
    assert torch.equal(state[temporal + 'gcn.weight'],
                       released['conv2d.temporalG.gconv.lin.weight'])
    assert torch.equal(state[temporal + 'out_conv.weight'],
                       released['conv2d.temporalG.up_conv.0.weight'])
    assert torch.equal(state['backbone.alpha'], released['conv2d.alpha'])
    assert torch.equal(state['backbone.layer2.1.bn2.running_mean'],
                       released['conv2d.layer2.1.bn2.running_mean'])
    assert torch.equal(state['head.classifier.weight'], released['classifier.weight'])
    meta = checkpoint['meta']
    assert meta['model'] == 'signgraph' and meta['epoch'] == 88
    assert meta['parity_cfg_options'] == {'model.padding_mode': 'frames'}
    arch = json.loads(meta['arch'])
    assert arch['mixing_init'] == 1.0 and arch['stage_modules']['layer4'] == [
        dict(type='LocalSignGraph', k=4), dict(type='TemporalSignGraph', k=49)]


def test_both_gcn_weight_orientations_are_accepted(tmp_path):
    """torch_geometric < 2.0 saved ``gconv.weight`` as ``[in, out]`` (``X W``)."""
    modern = released_state_dict()
    old = released_state_dict(gcn_key='gconv.weight')
    for name in ('temporalG', 'temporalG2'):
        old[f'conv2d.{name}.gconv.weight'] = modern[f'conv2d.{name}.gconv.lin.weight'].t()
    a, b = convert_signgraph_state_dict(modern), convert_signgraph_state_dict(old)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_default_architecture_is_the_released_one(tmp_path):
    src, dst = str(tmp_path / 'released.pt'), str(tmp_path / 'out.pth')
    torch.save({'model_state_dict': released_state_dict()}, src)
    meta = convert_released_checkpoint(src, dst)
    assert meta['num_classes'] == 1296 and meta['dataset'] == 'phoenix2014'
    recipe = recipe_model_cfg()['backbone']
    arch = json.loads(meta['arch'])
    for key in ('arch', 'base_channels', 'stage_modules', 'mixing_init'):
        assert arch[key] == recipe[key], key


def test_broken_files_are_named(tmp_path, capsys):
    released = released_state_dict()
    shifted = dict(released)
    shifted['conv2d.localG.relative_pos'] = released['conv2d.localG.relative_pos'] + 1e-3
    with pytest.raises(OfficialCheckpointError, match='relative position formula'):
        convert_signgraph_state_dict(shifted)
    extra = dict(released, **{'conv2d.localG.extra.weight': torch.zeros(1)})
    with pytest.raises(OfficialCheckpointError, match='conv2d.localG.extra.weight'):
        convert_signgraph_state_dict(extra)
    with pytest.raises(OfficialCheckpointError, match='four graph modules'):
        convert_signgraph_state_dict(dict(released, **{'conv2d.alpha': torch.zeros(3)}))
    with pytest.raises(OfficialCheckpointError, match='differ'):
        convert_signgraph_state_dict(dict(released, **{
            'classifier.weight': torch.zeros_like(released['classifier.weight'])}))
    src = str(tmp_path / 'released.pt')
    torch.save({'model_state_dict': extra}, src)
    assert load_tool().main([src, str(tmp_path / 'out.pth')]) == 1
    assert 'released SignGraph model' in capsys.readouterr().err


def test_corrnet_files_stay_corrnet():
    released = released_state_dict()
    corrnet = {k: v for k, v in released.items() if 'G' not in k.split('.')[1]}
    corrnet['conv2d.corr1.down_conv2.weight'] = torch.zeros(128, 128, 1, 1, 1)
    assert detect_layout(corrnet).name == 'corrnet'
    assert detect_layout(dict(corrnet, **{'conv2d.localG.fc1.0.bias': torch.zeros(1)}
                              )).name == 'corrnet'  # both kinds of module: no SignGraph
