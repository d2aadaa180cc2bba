"""mmengine checkpoints load under torch's weights_only default once mmsign is imported."""
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint

import mmsign  # noqa: F401


class ToyModel(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return out


class ToyDataset(torch.utils.data.Dataset):

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=torch.full((2,), float(index)))


def make_runner(work_dir: str, max_epochs: int, resume: bool = False) -> Runner:
    return Runner(
        model=ToyModel(), work_dir=work_dir,
        train_dataloader=dict(dataset=ToyDataset(), sampler=dict(type='DefaultSampler'),
                              batch_size=4, num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        resume=resume, default_scope='mmaction')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('toy'))
    make_runner(work_dir, max_epochs=1).train()
    return work_dir


def test_resume_and_load_checkpoint(trained):
    runner = make_runner(trained, max_epochs=2, resume=True)
    runner.train()
    assert runner.epoch == 2
    assert os.path.isfile(os.path.join(trained, 'epoch_2.pth'))
    checkpoint = load_checkpoint(ToyModel(), os.path.join(trained, 'epoch_2.pth'))
    assert 'message_hub' in checkpoint


def test_plain_torch_refuses_without_mmsign(trained):
    # The same file fails in a fresh interpreter that did not import mmsign.
    code = textwrap.dedent(f"""
        import torch
        torch.load({os.path.join(trained, 'epoch_1.pth')!r})
    """)
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=900)
    assert result.returncode != 0
    assert 'HistoryBuffer' in result.stderr


class NotAllowed:
    pass


def test_other_classes_stay_refused(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'payload': NotAllowed()}, path)
    with pytest.raises(Exception, match='weights_only'):
        torch.load(path)


def test_getattr_in_checkpoint_is_restricted(tmp_path):
    # A pickle that calls getattr(HistoryBuffer, '__init__') must be refused.
    from mmengine.logging.history_buffer import HistoryBuffer

    class Sneaky:

        def __reduce__(self):
            return getattr, (HistoryBuffer, '__init__')

    path = str(tmp_path / 'sneaky.pth')
    torch.save({'x': Sneaky()}, path)
    with pytest.raises(Exception, match='refused'):
        torch.load(path)
