"""The SlowFastSign recipes: released settings, one iteration of ``tools/train.py`` with the
real R101 recipe on the PHOENIX14 fixture tree, and the tiny synthetic twin whose WER falls."""
import glob
import json
import os.path as osp
import sys

import numpy as np
import pytest
from mmaction.registry import TRANSFORMS
from mmengine.config import Config
from mmengine.runner import Runner

from mmsign.models.backbones import SlowFastSignResNet3d

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO_ROOT, 'tests'))
sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'datasets'))

from sign_fixtures import phoenix2014_root  # noqa: E402,F401  (the dataset tests' fixture)
from test_corrnet_recipes import (  # noqa: E402  (shared helpers of the recipe tests)
    ValidateBeforeTraining,
    load_train_tool,
)

RECIPES = [('slowfastsign_phoenix14', 1296, 'corrnet_phoenix14'),
           ('slowfastsign_phoenix14t', 1116, 'corrnet_phoenix14t'),
           ('slowfastsign_csl-daily', 2001, 'corrnet_csl-daily')]


def recipe_path(recipe: str) -> str:
    return osp.join(REPO_ROOT, 'configs', f'{recipe}.py')


@pytest.mark.parametrize('recipe,num_classes,twin', RECIPES, ids=[r[0] for r in RECIPES])
def test_recipe_holds_the_released_settings(recipe, num_classes, twin):
    cfg, corrnet = Config.fromfile(recipe_path(recipe)), Config.fromfile(recipe_path(twin))
    backbone = cfg.model.backbone
    assert backbone.type == 'SlowFastSignResNet3d' and backbone.speed_ratio == 4
    res4 = (1, ) * 6 + (0, ) * 17
    assert backbone.slow_pathway.depth == backbone.fast_pathway.depth == 101
    assert tuple(backbone.slow_pathway.inflate) == (0, 0, res4, 1)
    assert tuple(backbone.fast_pathway.inflate) == (1, 1, res4, 1)
    assert backbone.fast_pathway.base_channels == 8 and backbone.feature_dropout == 0.5
    assert tuple(backbone.checkpoint_stages) == ()
    head = cfg.model.head
    assert head.type == 'MultiPathwayCTCHead' and tuple(head.pathway_channels) == (2048, 256)
    assert tuple(head.pathway_weights) == (0.25, 0.25)
    assert head.loss_distill.loss_weight == 25.0 and head.hidden_channels == 1024
    assert cfg.model.data_preprocessor.mean == [0.45 * 255] * 3
    assert cfg.model.data_preprocessor.std == [0.225 * 255] * 3
    assert cfg.model.vocab == cfg.vocab_file and cfg.num_classes == num_classes
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-4, weight_decay=1e-4)
    assert cfg.optim_wrapper.type == 'SignAmpOptimWrapper'
    assert cfg.train_cfg.max_epochs == 80 and cfg.train_dataloader.batch_size == 2
    (scheduler, ) = cfg.param_scheduler
    assert scheduler.milestones == [40, 60] and scheduler.gamma == 0.2 and scheduler.end == 80
    # The data settings are the lineage's (CorrNet's recipes), CSL-Daily's top crop aside.
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator'):
        if recipe.endswith('csl-daily') and key.endswith('dataloader'):
            steps = [step.type for step in cfg[key].dataset.pipeline]
            assert steps[steps.index('SignDecode') + 1:][:2] in (
                ['SignTopCrop', 'SignRandomCrop'], ['SignResize', 'SignTopCrop'])
            continue
        assert cfg[key] == corrnet[key], key


def test_top_crop_cuts_40_rows_and_resizes_back():
    frames = np.random.default_rng(0).integers(0, 255, (2, 256, 256, 3), dtype=np.uint8)
    out = TRANSFORMS.build(dict(type='SignTopCrop', rows=40, size=256))(dict(imgs=frames))
    import cv2
    assert out['imgs'].shape == (2, 256, 256, 3) and out['img_shape'] == (256, 256)
    np.testing.assert_array_equal(out['imgs'][1], cv2.resize(frames[1][40:], (256, 256)))
    with pytest.raises(ValueError, match='no rows left'):
        TRANSFORMS.build(dict(type='SignTopCrop', rows=40))(dict(imgs=frames[:, :32]))


@pytest.mark.usefixtures('unformatted_config_text')
def test_recipe_trains_one_iteration_on_fixture_data(request, tmp_path, monkeypatch):
    """The recipe's full R101 pathways (random weights), 32-pixel crops, fixture data."""
    data_root = request.getfixturevalue('phoenix2014_root')
    recipe = recipe_path('slowfastsign_phoenix14')
    vocab = osp.join(data_root, 'gloss_vocab.json')
    cfg = Config.fromfile(recipe)
    options = ['model.head.hidden_channels=16', f'model.vocab={vocab}',
               'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
                    f'{loader}.pin_memory=False',
                    f'{loader}.dataset.data_root={data_root}',
                    f'{loader}.dataset.vocab_file={vocab}']
        options += [f'{loader}.dataset.pipeline.{i}.size=32'
                    for i, step in enumerate(cfg[loader].dataset.pipeline) if 'size' in step]
    work_dir = str(tmp_path / 'work')
    monkeypatch.setattr(sys, 'argv', ['train.py', recipe, '--work-dir', work_dir,
                                      '--cfg-options', *options])
    load_train_tool().main()

    (scalars, ) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        records = [json.loads(line) for line in f]
    (train, ) = [r for r in records if 'loss' in r]  # 2 fixture videos, batch 2
    assert train['iter'] == 1
    parts = [f'loss_{k}{p}' for k in ('ctc_seq', 'ctc_conv', 'distill')
             for p in ('', '_slow', '_fast')]
    assert train['loss'] == pytest.approx(sum(train[k] for k in parts), rel=1e-4)
    (val, ) = [r for r in records if 'wer/seq' in r]
    assert 0 <= val['wer/seq']
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))


TINY_RECIPE = recipe_path('slowfastsign_tiny_synthetic')


def test_tiny_recipe_is_the_synthetic_recipe_with_slowfastsign():
    cfg, synthetic = Config.fromfile(TINY_RECIPE), Config.fromfile(
        recipe_path('adaptsign_synthetic'))
    assert cfg.model.backbone.type == 'SlowFastSignResNet3d'
    assert cfg.model.head.type == 'MultiPathwayCTCHead'
    assert cfg.model.data_preprocessor.mean == [114.75] * 3
    for key in set(cfg.model) - {'backbone', 'head', 'data_preprocessor'}:
        assert cfg.model[key] == synthetic.model[key], key
    for key in set(cfg) - {'model', 'filename'}:
        assert cfg[key] == synthetic[key], key


@pytest.mark.slow
@pytest.mark.usefixtures('unformatted_config_text')
def test_tiny_recipe_trains_on_synthetic_data_and_its_wer_falls(tmp_path):
    """A small generated set (4 glosses, two-gloss sentences), constant lr: the sequence
    WER on the held-out dev signers leaves the untrained model's (90 % or more) for below
    75 % (measured 2026-12-08 on the shared 2-core machine: 100.0 -> 65.6 in 45 min)."""
    epochs = 25  # of 6 iterations: 48 videos, 8 per batch
    options = {
        'work_dir': str(tmp_path / 'work'),
        'train_cfg.max_epochs': epochs,
        'train_cfg.val_interval': epochs,
        'optim_wrapper.optimizer.lr': 3e-3,
        'param_scheduler': None,
        'default_hooks.checkpoint.interval': -1,
        'default_hooks.logger.interval': 20,
        'visualizer.vis_backends': [dict(type='LocalVisBackend')],
        'randomness': dict(seed=0),
    }
    generator = dict(num_glosses=4, min_glosses=2, max_glosses=2, num_train=48, num_dev=16,
                     num_test=2)
    for loader in ('train_dataloader', 'val_dataloader'):
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
        options[f'{loader}.dataset.data_root'] = str(tmp_path / 'synthetic')
        for key, value in generator.items():
            options[f'{loader}.dataset.generator.{key}'] = value
    cfg = Config.fromfile(TINY_RECIPE)
    cfg.merge_from_dict(options)
    runner = Runner.from_cfg(cfg)
    assert isinstance(runner.model.backbone, SlowFastSignResNet3d)
    untrained = ValidateBeforeTraining()
    runner.register_hook(untrained, priority='LOWEST')
    runner.train()

    before = untrained.metrics['wer/seq']
    after = runner.message_hub.get_scalar('val/wer/seq').current()
    assert before >= 90 and after < 75, (before, after)
