"""mmaction2's own tools/train.py and tools/test.py build what mmsign's tools build.

The stock tools of mmaction2 1.2.0 read a config with ``Config.fromfile``, merge the
``--cfg-options``, set ``launcher``, ``work_dir`` (and ``load_from`` for testing) and build
``Runner.from_cfg(cfg)`` or, with a ``runner_type``, ``RUNNERS.build(cfg)``; they add
nothing else. :func:`stock_runner` does exactly that (none of their code is copied). For
every recipe the Runner mmsign's tools build must have the same config, the same hooks
in the same order with the same priorities, the same loops and the same optimiser
wrapper: the config says everything that runs.
"""
import glob
import importlib.util
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.runner.priority import get_priority

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tests', 'datasets'))

from sign_fixtures import (  # noqa: E402,F401  (fixtures of the dataset tests, reused)
    csl_daily_root,
    csl_root,
    phoenix2014_root,
    phoenix2014t_root,
)
from test_recipes import cfg_options  # noqa: E402

SYNTHETIC = dict(num_train=4, num_dev=2, num_test=2)
# recipe -> the fixture of its data (None: synthetic data generated into tmp_path)
RECIPES = {
    'adaptsign_phoenix14': 'phoenix2014_root',
    'adaptsign_phoenix14t': 'phoenix2014t_root',
    'adaptsign_csl-daily': 'csl_daily_root',
    'adaptsign_csl': 'csl_root',
    'adaptsign_dinov2-b14_phoenix14': 'phoenix2014_root',
    'adaptsign_synthetic': None,
    'adaptsign_tiny-mmpretrain_synthetic': None,
    'corrnet_phoenix14': 'phoenix2014_root',
    'corrnet_phoenix14t': 'phoenix2014t_root',
    'corrnet_csl-daily': 'csl_daily_root',
    'corrnet_tiny_synthetic': None,
    'signgraph_phoenix14': 'phoenix2014_root',
    'signgraph_phoenix14t': 'phoenix2014t_root',
    'signgraph_csl-daily': 'csl_daily_root',
    'signgraph_tiny_synthetic': None,
    'vac_phoenix14': 'phoenix2014_root',
    'vac-plain_phoenix14': 'phoenix2014_root',
    'vac-baseline_phoenix14': 'phoenix2014_root',
    'vac_tiny_synthetic': None,
    'tlp_phoenix14': 'phoenix2014_root',
    'tlp_phoenix14t': 'phoenix2014t_root',
    'tlp_csl': 'csl_root',
    'tlp_tiny_synthetic': None,
    'sen_phoenix14': 'phoenix2014_root',
    'sen_phoenix14t': 'phoenix2014t_root',
    'sen_csl-daily': 'csl_daily_root',
    'sen_tiny_synthetic': None,
    'corrnet-plus_phoenix14': 'phoenix2014_root',
    'corrnet-plus_phoenix14t': 'phoenix2014t_root',
    'corrnet-plus_csl-daily': 'csl_daily_root',
    'corrnet-plus_tiny_synthetic': None,
    'slowfastsign_phoenix14': 'phoenix2014_root',
    'slowfastsign_phoenix14t': 'phoenix2014t_root',
    'slowfastsign_csl-daily': 'csl_daily_root',
    'slowfastsign_tiny_synthetic': None,
}
# Recipes of the ResNet models: built narrow (16 wide) on fixture data.
RESNET_MODELS = ('corrnet', 'signgraph', 'vac', 'tlp', 'sen', 'slowfastsign')


def test_every_recipe_is_covered():
    found = {osp.splitext(osp.basename(p))[0]
             for p in glob.glob(osp.join(REPO, 'configs', '*.py'))}
    assert found == set(RECIPES)


def load_tool(name: str):
    path = osp.join(REPO, 'tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'mmsign_tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def options(recipe: str, data_root: str) -> list:
    """``--cfg-options`` that build the recipe small, on fixture or generated data."""
    resnet = any(recipe.startswith(model) for model in RESNET_MODELS)
    if RECIPES[recipe] is not None and 'dinov2' not in recipe and not resnet:
        return cfg_options(recipe, data_root)
    cfg = Config.fromfile(osp.join(REPO, 'configs', f'{recipe}.py'))
    found = ['train_cfg.max_epochs=1']
    if RECIPES[recipe] is not None and resnet:  # narrow ResNet, fixture data
        vocab = osp.join(data_root, 'gloss_vocab.json')
        found += ['model.backbone.pretrained=None', 'model.head.hidden_channels=16',
                  f'model.vocab={vocab}']
        if not recipe.startswith('slowfastsign'):  # (SlowFast: the full R101 pathways)
            found.append('model.backbone.base_channels=16')
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            found += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
                      f'{loader}.dataset.data_root={data_root}',
                      f'{loader}.dataset.vocab_file={vocab}']
            found += [f'{loader}.dataset.pipeline.{i}.size=32'
                      for i, step in enumerate(cfg[loader].dataset.pipeline) if 'size' in step]
        return found
    if 'dinov2' in recipe:
        vocab = osp.join(data_root, 'gloss_vocab.json')
        found += ['model.backbone.pretrained=None', 'model.backbone.vit.arch=deit-tiny',
                  'model.backbone.vit.img_size=28', 'model.head.hidden_channels=16',
                  f'model.vocab={vocab}']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        found += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
                  f'{loader}.dataset.data_root={data_root}']
        if 'dinov2' in recipe:
            found.append(f'{loader}.dataset.vocab_file={vocab}')
            found += [f'{loader}.dataset.pipeline.{i}.size=28'
                      for i, step in enumerate(cfg[loader].dataset.pipeline) if 'size' in step]
        else:
            found += [f'{loader}.dataset.generator.{k}={v}' for k, v in SYNTHETIC.items()]
    return found


def stock_runner(config: str, opts: list, work_dir: str, checkpoint: str = None) -> Runner:
    """The Runner mmaction2 1.2.0's tools/train.py (tools/test.py with a checkpoint)
    builds for ``config --work-dir work_dir --cfg-options opts``."""
    from mmaction.registry import RUNNERS
    parsed = {}
    for item in opts:  # what argparse's DictAction does with each KEY=VALUE
        key, value = item.split('=', 1)
        parsed[key] = DictAction._parse_iterable(value)
    cfg = Config.fromfile(config)
    cfg.launcher = 'none'
    cfg.work_dir = work_dir
    if cfg.get('randomness', None) is None:
        cfg.randomness = dict(seed=None, diff_rank_seed=False, deterministic=False)
    cfg.merge_from_dict(parsed)
    if checkpoint is not None:
        cfg.load_from = checkpoint
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)


def built(runner: Runner, train: bool) -> dict:
    """What runs: config, hooks (type, priority, in order), loops, optimiser wrapper."""
    init_default_scope('mmaction')
    hooks = [(type(h).__name__, get_priority(h.priority)) for h in runner.hooks]
    found = dict(cfg=runner.cfg.to_dict(), hooks=hooks, runner=type(runner).__name__,
                 test_loop=type(runner.test_loop).__name__,
                 test_dtype=getattr(runner.test_loop, 'dtype', 'no dtype'))
    if train:
        wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
        found.update(train_loop=type(runner.train_loop).__name__,
                     val_loop=type(runner.val_loop).__name__,
                     val_dtype=getattr(runner.val_loop, 'dtype', 'no dtype'),
                     optim_wrapper=type(wrapper).__name__,
                     cast_dtype=getattr(wrapper, 'cast_dtype', None))
    return found



@pytest.mark.parametrize('recipe', list(RECIPES))
def test_stock_tools_build_what_mmsign_tools_build(recipe, request, tmp_path,
                                                   unformatted_config_text):
    fixture = RECIPES[recipe]
    data_root = (request.getfixturevalue(fixture) if fixture
                 else str(tmp_path / 'synthetic'))
    config = osp.join(REPO, 'configs', f'{recipe}.py')
    opts = options(recipe, data_root)
    work_dir = str(tmp_path / 'work')
    checkpoint = str(tmp_path / 'weights.pth')
    torch.save(dict(state_dict={}, meta={}), checkpoint)

    train_tool, test_tool = load_tool('train'), load_tool('test')
    ours = built(train_tool.build(train_tool.parse_args(
        [config, '--work-dir', work_dir, '--cfg-options', *opts])), train=True)
    theirs = built(stock_runner(config, opts, work_dir), train=True)
    assert ours == theirs
    # The safeguards are in the config, so the stock tools run them too.
    names = [name for name, _ in theirs['hooks']]
    for name in ('SafeCheckpointHook', 'TrainRandomStateHook', 'BadSampleReportHook',
                 'CheckpointCompatibilityHook', 'NonFiniteStepHook'):
        assert name in names
    assert theirs['train_loop'] == 'ResumableEpochBasedTrainLoop'
    assert theirs['optim_wrapper'] in ('SignOptimWrapper', 'SignAmpOptimWrapper')
    assert theirs['runner'] == 'SignRunner'

    ours = built(test_tool.build(test_tool.parse_args(
        [config, checkpoint, '--work-dir', work_dir, '--cfg-options', *opts])), train=False)
    theirs = built(stock_runner(config, opts, work_dir, checkpoint), train=False)
    assert ours == theirs and theirs['test_loop'] == 'AmpTestLoop'
