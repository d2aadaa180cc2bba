"""The SEN and CorrNet+ recipes: released settings, one iteration of ``tools/train.py`` on
the fixture trees of the dataset releases, and the tiny synthetic twins whose WER falls."""
import glob
import json
import os.path as osp
import sys

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from mmsign.models.backbones import CorrNetResNet

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO_ROOT, 'tests'))
sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'datasets'))

from sign_fixtures import (  # noqa: E402,F401  (fixtures of the dataset tests, reused)
    csl_daily_root,
    phoenix2014_root,
    phoenix2014t_root,
)
from test_corrnet_recipes import (  # noqa: E402  (the CorrNet recipe tests' helpers)
    ValidateBeforeTraining,
    load_train_tool,
)

RECIPES = [
    # recipe, classes (+ blank), CorrNet twin (same data)
    ('sen_phoenix14', 1296, 'corrnet_phoenix14'),
    ('sen_phoenix14t', 1116, 'corrnet_phoenix14t'),
    ('sen_csl-daily', 2001, 'corrnet_csl-daily'),
    ('corrnet-plus_phoenix14', 1296, 'corrnet_phoenix14'),
    ('corrnet-plus_phoenix14t', 1116, 'corrnet_phoenix14t'),
    ('corrnet-plus_csl-daily', 2001, 'corrnet_csl-daily'),
]
IDS = [r[0] for r in RECIPES]
CORRNET_PLUS_STAGE = [dict(type='MultiNeighbourCorrelationIdentification'),
                      dict(type='TemporalEmphasis', dilations=(1, 2, 3))]


def recipe_path(recipe: str) -> str:
    return osp.join(REPO_ROOT, 'configs', f'{recipe}.py')


def check_model(model, plus: bool) -> None:
    """The backbone modules and the head options of LINEAGE_SPEC.md."""
    backbone, head = model.backbone, model.head
    assert backbone.type == 'CorrNetResNet' and backbone.arch == 'resnet18'
    if plus:
        assert not backbone.get('block_modules')
        for stage, neighbours in [('layer2', 1), ('layer3', 3), ('layer4', 5)]:
            correlation, weighting = backbone.stage_modules[stage]
            assert correlation == dict(CORRNET_PLUS_STAGE[0], neighbours=neighbours)
            assert weighting == CORRNET_PLUS_STAGE[1]
        assert set(backbone.stage_modules) == {'layer2', 'layer3', 'layer4'}
        assert backbone.mixing_init == 0
        assert head.pooling == 'lift'
        assert head.loss_lift_update == dict(type='LiftingLoss', loss_weight=0.0005)
        assert head.loss_lift_predict == dict(type='LiftingLoss', loss_weight=0.0005)
        assert head.get('classifier', 'NormLinear') == 'NormLinear'
        assert head.get('share_classifier', True)
    else:
        assert backbone.stage_modules == {}
        assert backbone.block_modules == [dict(type='SpatialEmphasis'),
                                          dict(type='TemporalEmphasis')]
        assert head.get('pooling', 'max') == 'max'
        assert head.classifier == 'Linear' and head.share_classifier is False
    assert head.loss_ctc_seq.loss_weight == 1.0 and head.loss_ctc_conv.loss_weight == 1.0
    assert head.loss_distill.loss_weight == 25.0 and head.loss_distill.temperature == 8.0


@pytest.mark.parametrize('recipe,num_classes,twin', RECIPES, ids=IDS)
def test_recipe_holds_the_released_settings(recipe, num_classes, twin):
    cfg, corrnet = Config.fromfile(recipe_path(recipe)), Config.fromfile(recipe_path(twin))
    check_model(cfg.model, plus=recipe.startswith('corrnet-plus'))
    assert cfg.model.backbone.pretrained == 'torchvision://resnet18'
    assert cfg.model.backbone.base_channels == 64
    assert cfg.model.vocab == cfg.vocab_file and cfg.num_classes == num_classes
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-4, weight_decay=1e-4)
    assert cfg.train_cfg.max_epochs == 80 and cfg.train_dataloader.batch_size == 2
    (scheduler, ) = cfg.param_scheduler
    assert scheduler.milestones == [40, 60] and scheduler.gamma == 0.2 and scheduler.end == 80
    # Everything but the model and the schedule is CorrNet's (data, runtime, evaluation).
    for key in set(cfg) - {'model', 'param_scheduler', 'train_cfg', 'filename'}:
        assert cfg[key] == corrnet[key], key
    for key in set(cfg.model) - {'backbone', 'head'}:
        assert cfg.model[key] == corrnet.model[key], key


@pytest.mark.usefixtures('unformatted_config_text')
@pytest.mark.parametrize('recipe,fixture', [('sen_phoenix14', 'phoenix2014_root'),
                                            ('corrnet-plus_phoenix14', 'phoenix2014_root')])
def test_recipe_trains_one_iteration_on_fixture_data(recipe, fixture, request, tmp_path,
                                                     monkeypatch):
    """The recipe's full-width ResNet-18 (random weights), 32-pixel crops, fixture data."""
    data_root = request.getfixturevalue(fixture)
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
    terms = ['loss_ctc_seq', 'loss_ctc_conv', 'loss_distill']
    if recipe.startswith('corrnet-plus'):
        terms += ['loss_lift_update', 'loss_lift_predict']
        assert train['loss_lift_update'] > 0 and train['loss_lift_predict'] > 0
    else:
        assert 'loss_lift_update' not in train
    assert train['loss'] == pytest.approx(sum(train[t] for t in terms), rel=1e-4)
    (val, ) = [r for r in records if 'wer/seq' in r]
    assert 0 <= val['wer/seq']
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))


TINY = ['sen_tiny_synthetic', 'corrnet-plus_tiny_synthetic']


@pytest.mark.parametrize('recipe', TINY)
def test_tiny_recipe_is_the_synthetic_recipe_with_a_narrow_backbone(recipe):
    cfg, synthetic = Config.fromfile(recipe_path(recipe)), Config.fromfile(
        recipe_path('adaptsign_synthetic'))
    check_model(cfg.model, plus=recipe.startswith('corrnet-plus'))
    assert cfg.model.backbone.pretrained is None and cfg.model.backbone.base_channels == 16
    assert cfg.model.head.hidden_channels == synthetic.model.head.hidden_channels
    for key in set(cfg.model) - {'backbone', 'head'}:
        assert cfg.model[key] == synthetic.model[key], key
    for key in set(cfg) - {'model', 'filename'}:
        assert cfg[key] == synthetic[key], key


@pytest.mark.slow
@pytest.mark.usefixtures('unformatted_config_text')
@pytest.mark.parametrize('recipe', TINY)
def test_tiny_recipe_trains_on_synthetic_data_and_its_wer_falls(recipe, tmp_path):
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
    cfg = Config.fromfile(recipe_path(recipe))
    cfg.merge_from_dict(options)
    runner = Runner.from_cfg(cfg)
    assert isinstance(runner.model.backbone, CorrNetResNet)
    untrained = ValidateBeforeTraining()
    runner.register_hook(untrained, priority='LOWEST')
    runner.train()

    before = untrained.metrics['wer/seq']
    after = runner.message_hub.get_scalar('val/wer/seq').current()
    assert before >= 90 and after < 50, (before, after)
