"""``--amp bf16`` means bf16 in training, validation and testing, on the CPU too: the
dtype is observed inside the forward pass (forward hooks on the model's Linear layers) of
runs built by tools/train.py and tools/test.py, and shown by the config dump."""
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from torch import nn

from mmsign.cli.runtime import amp_dtype, apply_amp
from mmsign.engine.loops import AmpValLoop

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'adaptsign_synthetic.py')
GENERATOR = dict(num_train=4, num_dev=2, num_test=2)


def load_tool(name: str):
    path = osp.join(REPO, 'tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'mmsign_tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def options(data_root: str) -> list:
    found = ['train_cfg.max_epochs=1', 'default_hooks.checkpoint.save_best=None']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        found += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
                  f'{loader}.batch_size=2', f'{loader}.dataset.data_root={data_root}']
        found += [f'{loader}.dataset.generator.{k}={v}' for k, v in GENERATOR.items()]
    return found


class DtypeRecorder:
    """Forward hooks on every ``nn.Linear``: the output dtypes seen per phase."""

    def __init__(self, model: nn.Module) -> None:
        self.seen = {}
        self.phase = None
        self.handles = [m.register_forward_hook(self._record) for m in model.modules()
                        if isinstance(m, nn.Linear)]
        assert self.handles

    def _record(self, module, inputs, output):
        self.seen.setdefault(self.phase or ('train' if module.training else 'val'),
                             set()).add(output.dtype)



@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU path (bf16 autocast)')
@pytest.mark.parametrize('amp', [None, 'bf16'])
def test_amp_dtype_reaches_the_forward_in_train_val_and_test(amp, tmp_path,
                                                             unformatted_config_text):
    data_root, work_dir = str(tmp_path / 'data'), str(tmp_path / 'work')
    flag = ['--amp', amp] if amp else []
    train_tool, test_tool = load_tool('train'), load_tool('test')
    runner = train_tool.build(train_tool.parse_args(
        [CONFIG, '--work-dir', work_dir, *flag, '--cfg-options', *options(data_root)]))
    expected = torch.bfloat16 if amp else torch.float32
    dump = runner.cfg.pretty_text  # what the config dump in the log file shows
    assert runner.cfg.optim_wrapper.type == ('SignAmpOptimWrapper' if amp
                                             else 'SignOptimWrapper')
    if amp:
        assert runner.cfg.optim_wrapper.cpu_dtype == 'bfloat16'
        assert runner.cfg.val_cfg.dtype == runner.cfg.test_cfg.dtype == 'bfloat16'
        assert "dtype='bfloat16'" in dump
    recorder = DtypeRecorder(runner.model)
    runner.train()  # one epoch, then validation
    for phase in ('train', 'val'):
        # under autocast a Linear layer computes in bf16 (a few keep fp32 on purpose)
        assert expected in recorder.seen[phase], phase
        if not amp:
            assert recorder.seen[phase] == {torch.float32}, phase

    runner = test_tool.build(test_tool.parse_args(
        [CONFIG, osp.join(work_dir, 'epoch_1.pth'), '--work-dir', work_dir, *flag,
         '--cfg-options', *options(data_root)]))
    recorder = DtypeRecorder(runner.model)
    recorder.phase = 'test'
    runner.test()
    assert expected in recorder.seen['test']
    if not amp:
        assert recorder.seen['test'] == {torch.float32}


def test_amp_choices_on_this_machine():
    if torch.cuda.is_available():
        pytest.skip('the CPU answers')
    assert amp_dtype('auto') == amp_dtype('bf16') == 'bfloat16'
    with pytest.raises(ValueError, match='--amp fp16 needs a CUDA GPU.*--amp bf16'):
        amp_dtype('fp16')


@pytest.mark.parametrize('wrapper,expected', [
    ('OptimWrapper', 'SignAmpOptimWrapper'), ('SignOptimWrapper', 'SignAmpOptimWrapper'),
    ('SignAmpOptimWrapper', 'SignAmpOptimWrapper'), ('AmpOptimWrapper', 'AmpOptimWrapper')])
def test_apply_amp_sets_every_dtype_key(wrapper, expected):
    cfg = Config(dict(train_cfg=dict(type='EpochBasedTrainLoop'),
                      optim_wrapper=dict(type=wrapper, optimizer=dict(type='SGD', lr=0.1)),
                      val_cfg=dict(type='ValLoop', fp16=True), test_cfg=dict(type='TestLoop')))
    apply_amp(cfg, 'float16')
    assert cfg.optim_wrapper.type == expected and cfg.optim_wrapper.dtype == 'float16'
    assert cfg.val_cfg == dict(type='AmpValLoop', dtype='float16')
    assert cfg.test_cfg == dict(type='AmpTestLoop', dtype='float16')


def test_apply_amp_refuses_what_it_does_not_know():
    cfg = Config(dict(train_cfg=dict(), optim_wrapper=dict(type='MyWrapper')))
    with pytest.raises(ValueError, match="optim_wrapper type 'MyWrapper'"):
        apply_amp(cfg, 'bfloat16')


def test_loop_dtype_values():
    loop = AmpValLoop.__new__(AmpValLoop)
    if torch.cuda.is_available():
        loop._set_dtype(None, fp16=True)  # mmengine's switch alone: fp16, as in ValLoop
        assert loop.dtype == torch.float16 and loop.fp16
    else:
        with pytest.raises(ValueError, match='fp16 autocast needs a CUDA GPU'):
            loop._set_dtype('float16', fp16=False)
    loop._set_dtype('bfloat16', fp16=False)
    assert loop.dtype == torch.bfloat16
    loop._set_dtype(None, fp16=False)
    assert loop.dtype is None and not loop.fp16
    with pytest.raises(ValueError, match='dtype'):
        loop._set_dtype('float8', fp16=False)
