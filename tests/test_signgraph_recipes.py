"""The SignGraph recipes: released settings, one iteration of ``tools/train.py`` on the fixture
tree of the PHOENIX14 release, and the tiny synthetic twin whose WER falls."""
import glob
import importlib.util
import json
import os.path as osp
import sys

import pytest
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmsign.models.backbones import CorrNetResNet, LocalSignGraph, TemporalSignGraph

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'datasets'))

from sign_fixtures import phoenix2014_root  # noqa: E402,F401  (the dataset tests' fixture)

RECIPES = [
    # recipe, classes (+ blank), CorrNet twin (same data and head)
    ('signgraph_phoenix14', 1296, 'corrnet_phoenix14'),
    ('signgraph_phoenix14t', 1116, 'corrnet_phoenix14t'),
    ('signgraph_csl-daily', 2001, 'corrnet_csl-daily'),
]
SIGNGRAPH_STAGES = dict(
    layer3=[dict(type='LocalSignGraph', k=3), dict(type='TemporalSignGraph', k=49)],
    layer4=[dict(type='LocalSignGraph', k=4), dict(type='TemporalSignGraph', k=49)])


def recipe_path(recipe: str) -> str:
    return osp.join(REPO_ROOT, 'configs', f'{recipe}.py')


def load_train_tool():
    spec = importlib.util.spec_from_file_location('tool_train',
                                                  osp.join(REPO_ROOT, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def unformatted_config_text(monkeypatch):
    """yapf takes seconds per config dump on 2 cores; formatting is not under test."""
    monkeypatch.setattr('mmengine.config.config.FormatCode',
                        lambda text, **kwargs: (text, False))


@pytest.mark.parametrize('recipe,num_classes,twin', RECIPES, ids=[r[0] for r in RECIPES])
def test_recipe_holds_the_released_settings(recipe, num_classes, twin):
    cfg, corrnet = Config.fromfile(recipe_path(recipe)), Config.fromfile(recipe_path(twin))
    backbone = cfg.model.backbone
    assert backbone.type == 'CorrNetResNet' and backbone.arch == 'resnet18'
    assert backbone.pretrained == 'torchvision://resnet18' and backbone.base_channels == 64
    assert backbone.stage_modules == SIGNGRAPH_STAGES and backbone.mixing_init == 1.0
    assert cfg.model.vocab == cfg.vocab_file and cfg.num_classes == num_classes
    assert cfg.optim_wrapper.type == 'SignAmpOptimWrapper'  # AMP
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-4, weight_decay=1e-4)
    assert cfg.train_cfg.max_epochs == 101
    assert [cfg[f'{s}_dataloader'].batch_size for s in ('train', 'val', 'test')] == [4] * 3
    assert cfg.auto_scale_lr.base_batch_size == 4
    (scheduler, ) = cfg.param_scheduler
    assert scheduler.milestones == [20, 30, 35] and scheduler.gamma == 0.2
    assert scheduler.end == 101
    assert cfg.sync_bn == 'torch'  # DDP + SyncBatchNorm, as released
    # Everything but the backbone, the schedule and the batch is CorrNet's.
    for key in set(cfg.model) - {'backbone'}:
        assert cfg.model[key] == corrnet.model[key], key
    schedule = {'param_scheduler', 'train_cfg', 'auto_scale_lr', 'sync_bn', 'filename'}
    loaders = {'train_dataloader', 'val_dataloader', 'test_dataloader'}
    for key in set(cfg) - {'model'} - schedule - loaders:
        assert cfg[key] == corrnet[key], key
    for key in loaders:
        assert dict(cfg[key], batch_size=None) == dict(corrnet[key], batch_size=None), key


def test_phoenix14_recipe_trains_one_iteration_on_fixture_data(request, tmp_path, monkeypatch,
                                                               unformatted_config_text):
    """The recipe's full-width model (random weights), 32-pixel crops (2x2 and 1x1 graphs),
    the fixture tree, ``python tools/train.py configs/signgraph_phoenix14.py``."""
    data_root = request.getfixturevalue('phoenix2014_root')
    recipe = recipe_path('signgraph_phoenix14')
    vocab = osp.join(data_root, 'gloss_vocab.json')
    cfg = Config.fromfile(recipe)
    options = ['model.backbone.pretrained=None', 'model.head.hidden_channels=16',
               f'model.vocab={vocab}', 'train_cfg.max_epochs=1',
               'default_hooks.logger.interval=1']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
                    f'{loader}.pin_memory=False', f'{loader}.dataset.data_root={data_root}',
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
    (train, ) = [r for r in records if 'loss' in r]  # 2 fixture videos, batch 4
    assert train['iter'] == 1
    assert train['loss'] == pytest.approx(
        train['loss_ctc_seq'] + train['loss_ctc_conv'] + train['loss_distill'], rel=1e-4)
    (val, ) = [r for r in records if 'wer/seq' in r]
    assert 0 <= val['wer/seq']
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))


TINY_RECIPE = recipe_path('signgraph_tiny_synthetic')


def test_tiny_recipe_is_the_synthetic_recipe_with_a_narrow_signgraph():
    cfg, synthetic = Config.fromfile(TINY_RECIPE), Config.fromfile(
        recipe_path('adaptsign_synthetic'))
    backbone = cfg.model.backbone
    assert backbone.type == 'CorrNetResNet' and backbone.stage_modules == SIGNGRAPH_STAGES
    assert backbone.pretrained is None and backbone.base_channels == 16
    assert backbone.mixing_init == 1.0
    for key in set(cfg.model) - {'backbone'}:
        assert cfg.model[key] == synthetic.model[key], key
    for key in set(cfg) - {'model', 'filename'}:
        assert cfg[key] == synthetic[key], key


class ValidateBeforeTraining(Hook):
    """Runs the validation loop once before the first iteration: the untrained WER."""

    def before_train(self, runner) -> None:
        self.metrics = runner.val_loop.run()


@pytest.mark.slow
def test_tiny_recipe_trains_on_synthetic_data_and_its_wer_falls(tmp_path,
                                                                unformatted_config_text):
    """A small generated set (4 glosses, two-gloss sentences), constant lr: the sequence
    WER on the held-out dev signers leaves the untrained model's (90 % or more) for below
    50 %."""
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
    backbone = runner.model.backbone
    assert isinstance(backbone, CorrNetResNet)
    assert [type(m) for m in backbone.stage_modules['layer4']] == [LocalSignGraph,
                                                                    TemporalSignGraph]
    untrained = ValidateBeforeTraining()
    runner.register_hook(untrained, priority='LOWEST')
    runner.train()

    before = untrained.metrics['wer/seq']
    after = runner.message_hub.get_scalar('val/wer/seq').current()
    assert before >= 90 and after < 50, (before, after)
