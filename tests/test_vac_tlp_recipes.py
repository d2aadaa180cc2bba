"""The VAC and TLP recipes: released settings, one iteration of ``tools/train.py`` on the
fixture trees of the dataset releases, and the tiny synthetic twins whose WER falls."""
import glob
import importlib.util
import json
import os.path as osp
import sys

import pytest
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmsign.models.backbones import FrameWiseResNet
from mmsign.models.heads import TemporalLiftPooling

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'datasets'))

from sign_fixtures import phoenix2014_root  # noqa: E402,F401  (a dataset tests' fixture)

SMKD_HEAD = dict(classifier='NormLinear', share_classifier=True, pooling='max',
                 losses={'loss_ctc_seq', 'loss_ctc_conv', 'loss_distill'})
PLAIN = dict(classifier='Linear', share_classifier=False)
RECIPES = [
    # recipe, fixture, epochs, milestones, head settings and losses, AdaptSign twin
    ('vac_phoenix14', 'phoenix2014_root', 40, [20, 35], SMKD_HEAD, 'adaptsign_phoenix14'),
    ('vac-plain_phoenix14', 'phoenix2014_root', 40, [20, 35],
     dict(PLAIN, pooling='max', losses={'loss_ctc_seq', 'loss_ctc_conv'}), None),
    ('vac-baseline_phoenix14', 'phoenix2014_root', 40, [20, 35],
     dict(PLAIN, pooling='max', losses={'loss_ctc_seq'}), None),
    ('tlp_phoenix14', 'phoenix2014_root', 80, [40, 60],
     dict(PLAIN, pooling='lift', losses={'loss_ctc_seq', 'loss_ctc_conv', 'loss_distill',
                                         'loss_lift_update', 'loss_lift_predict'}),
     'adaptsign_phoenix14'),
    ('tlp_phoenix14t', 'phoenix2014t_root', 80, [40, 60],
     dict(PLAIN, pooling='lift', losses=None), 'adaptsign_phoenix14t'),
    ('tlp_csl', 'csl_root', 20, [10, 15], dict(PLAIN, pooling='lift', losses=None),
     'adaptsign_csl'),
]
IDS = [r[0] for r in RECIPES]
TRAINED = ['vac_phoenix14', 'vac-baseline_phoenix14', 'tlp_phoenix14']


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


@pytest.mark.parametrize('recipe,fixture,epochs,milestones,head,twin', RECIPES, ids=IDS)
def test_recipe_holds_the_released_settings(recipe, fixture, epochs, milestones, head, twin):
    cfg = Config.fromfile(recipe_path(recipe))
    backbone = cfg.model.backbone
    assert backbone == dict(type='FrameWiseResNet', arch='resnet18', base_channels=64,
                            pretrained='torchvision://resnet18')
    assert cfg.model.vocab == cfg.vocab_file
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-4, weight_decay=1e-4)
    assert cfg.train_cfg.max_epochs == epochs and cfg.train_dataloader.batch_size == 2
    (scheduler, ) = cfg.param_scheduler
    assert scheduler.milestones == milestones and scheduler.gamma == 0.2
    for key in ('classifier', 'share_classifier', 'pooling'):
        assert cfg.model.head.get(key, SMKD_HEAD[key]) == head[key], key
    if head['pooling'] == 'lift':
        assert cfg.model.head.loss_lift_update == dict(type='LiftingLoss', loss_weight=0.001)
        assert cfg.model.head.loss_lift_predict == dict(type='LiftingLoss', loss_weight=0.001)
        assert cfg.model.head.lift_kernel == (5 if recipe == 'tlp_csl' else 3)
    if twin is not None:  # dataset, pipeline and runtime are the lineage's
        adaptsign = Config.fromfile(recipe_path(twin))
        for key in set(cfg) - {'model', 'param_scheduler', 'train_cfg', 'sync_bn',
                               'filename'}:
            assert cfg[key] == adaptsign[key], key
        for key in ('data_preprocessor', 'decoder', 'padding_mode'):
            assert cfg.model[key] == adaptsign.model[key], key
    assert cfg.get('sync_bn') == ('torch' if recipe.startswith('vac') else None)


@pytest.mark.parametrize('recipe', TRAINED)
def test_recipe_trains_one_iteration_on_fixture_data(recipe, request, tmp_path, monkeypatch,
                                                     unformatted_config_text):
    """The recipe's full-width ResNet-18 (random weights), 32-pixel crops, fixture data."""
    data_root = request.getfixturevalue('phoenix2014_root')
    vocab = osp.join(data_root, 'gloss_vocab.json')
    cfg = Config.fromfile(recipe_path(recipe))
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
    monkeypatch.setattr(sys, 'argv', ['train.py', recipe_path(recipe), '--work-dir', work_dir,
                                      '--cfg-options', *options])
    load_train_tool().main()

    (scalars, ) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        records = [json.loads(line) for line in f]
    (train, ) = [r for r in records if 'loss' in r]  # 2 fixture videos, batch 2
    assert train['iter'] == 1
    (expected, ) = [r[4]['losses'] for r in RECIPES if r[0] == recipe]
    assert {k for k in train if k.startswith('loss_')} == expected
    assert train['loss'] == pytest.approx(sum(train[k] for k in expected), rel=1e-4)
    (val, ) = [r for r in records if 'wer/seq' in r]
    assert 0 <= val['wer/seq']
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))


TINY = {'vac': recipe_path('vac_tiny_synthetic'), 'tlp': recipe_path('tlp_tiny_synthetic')}


def test_tiny_recipes_are_the_synthetic_recipe_with_a_narrow_frame_wise_resnet():
    synthetic = Config.fromfile(recipe_path('adaptsign_synthetic'))
    vac, tlp = Config.fromfile(TINY['vac']), Config.fromfile(TINY['tlp'])
    for cfg in (vac, tlp):
        assert cfg.model.backbone == dict(type='FrameWiseResNet', arch='resnet18',
                                          base_channels=16, pretrained=None)
        for key in set(cfg) - {'model', 'filename'}:
            assert cfg[key] == synthetic[key], key
    assert vac.model.head == synthetic.model.head
    assert tlp.model.head.pooling == 'lift' and tlp.model.head.classifier == 'Linear'


class ValidateBeforeTraining(Hook):
    """Runs the validation loop once before the first iteration: the untrained WER."""

    def before_train(self, runner) -> None:
        self.metrics = runner.val_loop.run()


@pytest.mark.slow
@pytest.mark.parametrize('model', ['vac', 'tlp'])
def test_tiny_recipe_trains_on_synthetic_data_and_its_wer_falls(model, tmp_path,
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
    cfg = Config.fromfile(TINY[model])
    cfg.merge_from_dict(options)
    runner = Runner.from_cfg(cfg)
    assert isinstance(runner.model.backbone, FrameWiseResNet)
    pools = [m for m in runner.model.head.modules() if isinstance(m, TemporalLiftPooling)]
    assert len(pools) == (2 if model == 'tlp' else 0)
    untrained = ValidateBeforeTraining()
    runner.register_hook(untrained, priority='LOWEST')
    runner.train()

    before = untrained.metrics['wer/seq']
    after = runner.message_hub.get_scalar('val/wer/seq').current()
    assert before >= 90 and after < 50, (before, after)
