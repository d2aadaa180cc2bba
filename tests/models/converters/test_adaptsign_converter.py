"""Released AdaptSign checkpoints -> mmsign checkpoints.

The released file is built here exactly as the released training code writes it (keys,
shapes and dtypes of tests/data/official_adaptsign_vitb16_state_dict_keys.json,
random values, the shared classifier saved under two keys, optimiser / scheduler / RNG
states), converted with the tool, and loaded strictly into the recipe's model.
"""
import importlib.util
import json
import os.path as osp
import pickle
import random
import re
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.config import Config

from mmsign.datasets.vocabulary import GlossVocabulary
from mmsign.models.converters import (
    RELEASED_NUM_CLASSES,
    OfficialCheckpointError,
    check_state_dict_fits,
    check_vocabulary,
    convert_official_state_dict,
    convert_released_checkpoint,
    infer_model_settings,
    load_official_checkpoint,
    released_model_cfg,
)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'datasets'))

from sign_fixtures import phoenix2014_root  # noqa: E402,F401  (fixture of the dataset tests)

RECIPE = osp.join(REPO_ROOT, 'configs', 'adaptsign_phoenix14.py')
KEYS_FILE = 'official_adaptsign_vitb16_state_dict_keys.json'
TINY_ARCH = dict(width=64, layers=2, heads=2, patch_size=16, image_size=32, output_dim=32)
VOCAB_FOLDERS = {'phoenix2014': 'phoenix2014', 'phoenix2014t': 'phoenix2014-T',
                 'csl-daily': 'CSL-Daily', 'csl': 'CSL'}

# mmsign -> released names, written from the released key list (the inverse of the
# converter, kept independent of it); checked against the key list below.
MMSIGN_TO_RELEASED = [
    (r'backbone\.blocks\.(\d+)\.frozen\.', r'conv2d.visual.transformer.resblocks.\1.'),
    (r'backbone\.blocks\.(\d+)\.prefix\.key$',
     r'conv2d.visual.transformer.resblocks.\1.prefix_embedding_k'),
    (r'backbone\.blocks\.(\d+)\.prefix\.value$',
     r'conv2d.visual.transformer.resblocks.\1.prefix_embedding_v'),
    (r'backbone\.blocks\.(\d+)\.spatial_adapter\.',
     r'conv2d.visual.transformer.resblocks.\1.S_Adapter.mlp.'),
    (r'backbone\.blocks\.(\d+)\.mlp_adapter\.',
     r'conv2d.visual.transformer.resblocks.\1.MLP_Adapter.mlp.'),
    (r'backbone\.aggregation\.query$', 'conv2d.visual.transformer.query'),
    (r'backbone\.aggregation\.blocks\.', 'conv2d.visual.transformer.aggblocks.'),
    (r'backbone\.temporal\.ln\.', 'conv2d.visual.transformer.taggblocks.ln_1.'),
    (r'backbone\.temporal\.weight$', 'conv2d.visual.transformer.temporal_ada_weight'),
    (r'backbone\.alpha$', 'conv2d.visual.ada_weight'),
    (r'backbone\.', 'conv2d.visual.'),
    (r'head\.temporal_conv\.temporal_conv\.', 'conv1d.temporal_conv.'),
    (r'head\.bilstm\.rnn\.', 'temporal_model.rnn.'),
]


def released_keys(name: str) -> list:
    """Released key(s) of an mmsign state-dict name (the classifier is saved twice)."""
    if name == 'head.classifier.weight':
        return ['conv1d.fc.weight', 'classifier.weight']
    for pattern, replacement in MMSIGN_TO_RELEASED:
        key, hits = re.subn('^' + pattern, replacement, name)
        if hits:
            return [key]
    raise KeyError(name)


def to_released(state_dict):
    """An mmsign state dict in the released layout (one classifier tensor, two keys)."""
    out = OrderedDict()
    for name, tensor in state_dict.items():
        for key in released_keys(name):
            if key.endswith(('prefix_embedding_k', 'prefix_embedding_v')):
                out[key] = tensor[:, None]     # [M, D] -> [M, 1, D]
            elif key.endswith('transformer.query'):
                out[key] = tensor[None]        # [1, D] -> [1, 1, D]
            else:
                out[key] = tensor
    return out


def load_tool(relpath: str):
    path = osp.join(REPO_ROOT, 'tools', relpath)
    spec = importlib.util.spec_from_file_location(osp.basename(relpath)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def save_released(path, model_state_dict, epoch=39, rng_extra=None):
    """``torch.save`` the way the released training code does at the end of an epoch."""
    param = torch.nn.Parameter(torch.randn(4, 3))
    optimizer = torch.optim.Adam([param], lr=1e-4, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [20, 30], gamma=0.2)
    param.sum().backward()
    optimizer.step()
    scheduler.step()
    rng_state = dict(torch=torch.get_rng_state(), cuda=[], numpy=np.random.get_state(),
                     random=random.getstate())
    if rng_extra is not None:
        rng_state['extra'] = rng_extra
    torch.save(dict(epoch=epoch, model_state_dict=model_state_dict,
                    optimizer_state_dict=optimizer.state_dict(),
                    scheduler_state_dict=scheduler.state_dict(), rng_state=rng_state), path)


@pytest.fixture(scope='module')
def released_entries(release_data):
    with open(osp.join(release_data, KEYS_FILE)) as f:
        return json.load(f)['keys']


@pytest.fixture(scope='module')
def released(released_entries, tmp_path_factory):
    """A full-size ViT-B/16 released checkpoint (PHOENIX14, 1296 classes), random weights."""
    generator = torch.Generator().manual_seed(0)
    state_dict = OrderedDict()
    for entry in released_entries:
        key, shape = entry['key'], entry['shape']
        if key == 'classifier.weight':
            state_dict[key] = state_dict['conv1d.fc.weight']  # one tensor, saved twice
        elif entry['dtype'] == 'int64':
            state_dict[key] = torch.tensor(123456)
        else:
            state_dict[key] = torch.randn(shape, generator=generator)
    path = str(tmp_path_factory.mktemp('released') / 'phoenix2014_dev_18.50_epoch39.pt')
    save_released(path, state_dict)
    return path, state_dict


def test_inverse_table_reproduces_the_released_key_list(released_entries):
    """The test's own mmsign -> released table gives exactly the released keys and shapes
    from the recipe's model (so the round trips below use the real layout)."""
    cfg = Config.fromfile(RECIPE)
    cfg.merge_from_dict({'model.backbone.pretrained': None, 'model.vocab': None,
                         'model.head.num_classes': 1296})
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    released = to_released(model.state_dict())
    assert {k: list(v.shape) for k, v in released.items()} == {
        e['key']: e['shape'] for e in released_entries}
    inverse = {key: name for name in model.state_dict() for key in released_keys(name)}
    for entry in released_entries:
        assert (inverse[entry['key']] in trainable) == entry['trainable'], entry['key']


def test_released_checkpoint_converts_and_loads_strictly(released, release_data, tmp_path):
    src, original = released
    dst = str(tmp_path / 'adaptsign_phoenix14_released.pth')
    vocab_file = osp.join(release_data, 'phoenix2014', 'gloss_vocab.json')
    tool = load_tool('model_converters/released_to_mmsign.py')
    assert tool.main([src, dst, '--vocab', vocab_file, '--dataset', 'phoenix2014']) == 0

    checkpoint = torch.load(dst, map_location='cpu', weights_only=True)
    assert set(checkpoint) == {'state_dict', 'meta'}  # mmengine's layout, weights only
    meta = checkpoint['meta']
    vocab = GlossVocabulary.load(vocab_file)
    assert meta['vocab'] == vocab.glosses and meta['dataset'] == 'phoenix2014'
    assert (meta['epoch'], meta['num_classes'], meta['arch']) == (39, 1296, 'ViT-B-16')
    assert meta['vocab_problems'] == []

    cfg = Config.fromfile(RECIPE)
    cfg.merge_from_dict({'model.backbone.pretrained': None, 'model.vocab': meta['vocab']})
    model = MODELS.build(cfg.model)
    result = model.load_state_dict(checkpoint['state_dict'], strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []

    # Tensor by tensor: every released tensor is in the model, unchanged.
    ours = model.state_dict()
    inverse = {key: name for name in ours for key in released_keys(name)}
    assert set(inverse) == set(original) and set(inverse.values()) == set(ours)
    for key, tensor in original.items():
        mine = ours[inverse[key]]
        assert mine.dtype == tensor.dtype, key
        assert torch.equal(mine, tensor.reshape(mine.shape)), key

    # The shared classifier: one tensor in the model, equal to both released keys.
    classifier = model.head.classifier.weight
    assert classifier.shape == (1024, 1296)
    assert torch.equal(classifier, original['conv1d.fc.weight'])
    assert torch.equal(classifier, original['classifier.weight'])
    # The packed attention in-projection: the frozen block's queries, keys and values are
    # the released rows [0, D), [D, 2D), [2D, 3D) of in_proj_weight / in_proj_bias.
    prefix = 'conv2d.visual.transformer.resblocks.5.attn.in_proj_'
    weight, bias = original[prefix + 'weight'], original[prefix + 'bias']
    block = model.backbone.blocks[5].frozen
    x, width = torch.randn(3, 768), 768
    expected = [F.linear(x, weight[i * width:(i + 1) * width], bias[i * width:(i + 1) * width])
                for i in range(3)]
    with torch.no_grad():
        got = [*block.qkv(x), block.key(x), block.value(x)]
    for part, (mine, theirs) in enumerate(zip(got, expected + expected[1:])):
        assert torch.allclose(mine, theirs, atol=1e-4), part
    assert torch.equal(model.backbone.aggregation.blocks[7].attn.in_proj_weight,
                       original['conv2d.visual.transformer.aggblocks.7.attn.in_proj_weight'])
    assert torch.equal(model.backbone.blocks[2].prefix.key,
                       original['conv2d.visual.transformer.resblocks.2.prefix_embedding_k'][:, 0])
    assert torch.equal(model.backbone.aggregation.query,
                       original['conv2d.visual.transformer.query'][0])
    assert torch.equal(model.head.bilstm.rnn.weight_hh_l1_reverse,
                       original['temporal_model.rnn.weight_hh_l1_reverse'])
    assert model.head.temporal_conv.temporal_conv[5].num_batches_tracked == 123456
    # Frozen stays frozen, trainable stays trainable.
    assert not model.backbone.blocks[5].frozen.attn.in_proj_weight.requires_grad
    assert not model.backbone.aggregation.query.requires_grad
    assert model.backbone.aggregation.blocks[7].attn.in_proj_weight.requires_grad


def test_mismatched_vocabulary_is_refused_clearly(released, release_data, tmp_path, capsys):
    src, _ = released
    dst = str(tmp_path / 'out.pth')
    tool = load_tool('model_converters/released_to_mmsign.py')
    csl_daily = osp.join(release_data, 'CSL-Daily', 'gloss_vocab.json')
    assert tool.main([src, dst, '--vocab', csl_daily]) == 1
    error = capsys.readouterr().err
    assert ('the checkpoint has 1296 classes (1295 glosses + blank) but the vocabulary has '
            '2000 glosses + blank = 2001; the count is that of phoenix2014') in error
    assert not osp.exists(dst)


def test_recipe_of_another_dataset_is_refused(released, tmp_path, capsys):
    src, _ = released
    tool = load_tool('model_converters/released_to_mmsign.py')
    recipe = osp.join(REPO_ROOT, 'configs', 'adaptsign_phoenix14t.py')
    assert tool.main([src, str(tmp_path / 'out.pth'), '--config', recipe]) == 1
    assert ('the checkpoint has 1296 classes but phoenix2014t has 1116 (glosses + blank); '
            'the count is that of phoenix2014') in capsys.readouterr().err


def test_shared_vocabularies_fit_their_released_class_counts(release_data):
    for dataset, folder in VOCAB_FOLDERS.items():
        vocab = GlossVocabulary.load(osp.join(release_data, folder, 'gloss_vocab.json'))
        assert vocab.num_classes == RELEASED_NUM_CLASSES[dataset]
        assert check_vocabulary(vocab.num_classes, vocab, dataset) == []


def test_vocabulary_problems_are_named():
    unsorted = GlossVocabulary(['B', 'A', 'C'])
    (problem, ) = check_vocabulary(4, unsorted)
    assert "class 1 is 'B' but would be 'A'" in problem
    (problem, ) = check_vocabulary(1116, None, 'phoenix2014')
    assert problem == ('the checkpoint has 1116 classes but phoenix2014 has 1296 (glosses + '
                       'blank); the count is that of phoenix2014t')
    assert 'unknown dataset' in check_vocabulary(180, None, 'wlasl')[0]


def small_released():
    """A released-layout state dict of a tiny model (2 blocks, 5 classes)."""
    cfg = Config.fromfile(RECIPE)
    cfg.merge_from_dict({'model.backbone.pretrained': None, 'model.vocab': list('ABCD'),
                         'model.backbone.arch': dict(_delete_=True, **TINY_ARCH),
                         'model.head.hidden_channels': 16})
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    return model, to_released(model.state_dict())


def test_state_dict_conversion_errors_are_named():
    _, state_dict = small_released()
    bad = OrderedDict(state_dict)
    bad['classifier.weight'] = bad['classifier.weight'] + 1
    with pytest.raises(OfficialCheckpointError, match='conv1d.fc.weight and classifier.weight '
                       'differ'):
        convert_official_state_dict(bad)
    with pytest.raises(OfficialCheckpointError, match='conv2d.visual.extra_thing'):
        convert_official_state_dict({**state_dict, 'conv2d.visual.extra_thing': torch.ones(1)})
    no_classifier = {k: v for k, v in state_dict.items() if 'fc' not in k and 'classi' not in k}
    with pytest.raises(OfficialCheckpointError, match='no classifier'):
        convert_official_state_dict(no_classifier)
    # saved from inside DataParallel
    wrapped = convert_official_state_dict({'module.' + k: v for k, v in state_dict.items()})
    assert list(wrapped) == list(convert_official_state_dict(state_dict))


def test_fit_check_names_missing_and_mismatched_keys():
    model, state_dict = small_released()
    converted = convert_official_state_dict(state_dict)
    settings = infer_model_settings(converted)
    assert settings['num_classes'] == 5 and settings['head']['hidden_channels'] == 16
    assert settings['backbone']['arch']['width'] == 64
    assert settings['backbone']['num_prefix_tokens'] == 8
    check_state_dict_fits(converted, released_model_cfg(settings))
    del converted['backbone.blocks.1.mlp_adapter.c_out.bias']
    with pytest.raises(OfficialCheckpointError, match=r"missing \['backbone.blocks.1.mlp"):
        check_state_dict_fits(converted, released_model_cfg(settings))


class Opaque:
    """An object the released code might have pickled (not a tensor or a container)."""


def test_objects_safe_loading_refuses_are_reported(tmp_path):
    _, state_dict = small_released()
    path = str(tmp_path / 'released_with_object.pt')
    save_released(path, state_dict, rng_extra=Opaque())
    with pytest.raises(OfficialCheckpointError, match='--unsafe-load'):
        load_official_checkpoint(path)
    assert isinstance(load_official_checkpoint(path, unsafe_load=True)['rng_state']['extra'],
                      Opaque)
    torch.save([1, 2], path)
    with pytest.raises(OfficialCheckpointError, match='not a released AdaptSign checkpoint'):
        load_official_checkpoint(path)
    with open(path, 'w') as f:
        f.write('not a checkpoint')
    with pytest.raises(OfficialCheckpointError, match='is it a complete torch.save file'):
        load_official_checkpoint(path)


def test_converted_tiny_checkpoint_evaluates_like_the_original(request, tmp_path, monkeypatch,
                                                              unformatted_config_text):
    """tools/test.py in the parity padding mode gives the same predictions for a converted
    released checkpoint as for the model it was made from."""
    data_root = request.getfixturevalue('phoenix2014_root')
    vocab = GlossVocabulary.load(osp.join(data_root, 'gloss_vocab.json'))
    cfg = Config.fromfile(RECIPE)
    cfg.merge_from_dict({'model.backbone.pretrained': None, 'model.vocab': vocab.glosses,
                         'model.backbone.arch': dict(_delete_=True, **TINY_ARCH),
                         'model.head.hidden_channels': 16})
    torch.manual_seed(1)
    model = MODELS.build(cfg.model)
    with torch.no_grad():
        for p in model.parameters():  # off the zero / unit initial values
            p.add_(torch.randn_like(p) * 0.05)
    original = str(tmp_path / 'original.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, original)
    src, converted = str(tmp_path / 'released.pt'), str(tmp_path / 'converted.pth')
    save_released(src, to_released(model.state_dict()))
    convert_released_checkpoint(src, converted, model='adaptsign', dataset='phoenix2014')

    test_tool = load_tool('test.py')
    options = ['model.padding_mode=frames', 'model.backbone.pretrained=None',
               'model.backbone.arch._delete_=True',
               *[f'model.backbone.arch.{k}={v}' for k, v in TINY_ARCH.items()],
               'model.head.hidden_channels=16', f'model.vocab={data_root}/gloss_vocab.json',
               f'test_dataloader.dataset.data_root={data_root}',
               f'test_dataloader.dataset.vocab_file={data_root}/gloss_vocab.json',
               'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
               'test_dataloader.pin_memory=False']
    for i, step in enumerate(cfg.test_dataloader.dataset.pipeline):
        if 'size' in step:
            options.append(f'test_dataloader.dataset.pipeline.{i}.size=32')
    predictions = {}
    for name, checkpoint in (('original', original), ('converted', converted)):
        dump = str(tmp_path / f'{name}.pkl')
        monkeypatch.setattr(sys, 'argv', ['test.py', RECIPE, checkpoint, '--work-dir',
                                          str(tmp_path / name), '--dump', dump,
                                          '--cfg-options', *options])
        test_tool.main()
        with open(dump, 'rb') as f:
            predictions[name] = [(s['sample_id'], s['pred_glosses'], s['pred_glosses_conv'])
                                 for s in pickle.load(f)]
    assert len(predictions['original']) == 2
    assert predictions['converted'] == predictions['original']
    assert any(glosses for _, glosses, _ in predictions['original'])
