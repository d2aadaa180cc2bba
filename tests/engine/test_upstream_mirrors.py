"""mmsign extends mmengine through public methods; where an extension relies on what an
upstream method does, that method's source is pinned here. When mmengine changes one,
this test fails and says what to re-check (then update the hash)."""
import hashlib
import inspect

import pytest
from mmengine.hooks import CheckpointHook
from mmengine.model import BaseModel, MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmengine.runner import EpochBasedTrainLoop, Runner, TestLoop, ValLoop

from mmsign.engine.runner import FILE_ONLY_RECORDS

# upstream method -> (sha256 of its source, first 16 hex digits; what relies on it)
PINNED = {
    OptimWrapper.update_params: (
        'f5b1a1b859f77883',
        'NonFiniteSkipMixin.update_params re-composes it (scale_loss, backward, '
        'should_update, step, zero_grad): port any new step to mmsign/engine/'
        'optim_wrapper.py'),
    BaseModel.train_step: (
        '993ac9302fd5fa8d',
        'the non-finite skip needs train_step to enter optim_wrapper.optim_context before '
        'the forward (BatchNorm snapshot) and to call update_params(loss)'),
    MMDistributedDataParallel.train_step: (
        '0109ef3475407f92',
        'under DDP the same: optim_context before the forward, update_params(loss) after'),
    CheckpointHook._save_checkpoint_with_step: (
        'cdbc1b54c7c88d95',
        'SafeCheckpointHook needs it to save through runner.save_checkpoint(..., '
        'backend_args=self.backend_args), to set self.last_ckpt, to delete nothing with '
        'max_keep_ckpts=-1 and to write last_checkpoint after the save'),
    CheckpointHook.after_train_epoch: (
        '2130891b986311c9',
        'SafeCheckpointHook deletes expired checkpoints after it: every save of an epoch '
        'checkpoint must happen inside it'),
    CheckpointHook.after_train_iter: (
        '38455611f8a94441',
        'SafeCheckpointHook deletes expired checkpoints after it: every save of an '
        'iteration checkpoint must happen inside it'),
    EpochBasedTrainLoop.run_epoch: (
        '5a9b993c3e9727d4',
        'ResumableEpochBasedTrainLoop skips trained batches in run_iter: run_epoch must '
        'call run_iter(idx, batch) for every batch, idx from 0, between the epoch hooks'),
    ValLoop.run_iter: (
        '758a78fa25a28af9',
        'AmpValLoop relies on run_iter opening autocast(enabled=self.fp16) with the '
        "default dtype (which inside AmpValLoop's own region is the chosen one)"),
    TestLoop.run_iter: (
        'a646c78be87aba88',
        'AmpTestLoop relies on run_iter opening autocast(enabled=self.fp16) with the '
        "default dtype (which inside AmpTestLoop's own region is the chosen one)"),
    Runner._log_env: (
        'ab31efbd6a508907',
        "SignRunner's FileOnlyFilter recognises the config dump by its start 'Config:\\n'"),
}


@pytest.mark.parametrize('method', list(PINNED), ids=lambda m: m.__qualname__)
def test_upstream_method_is_the_one_mmsign_was_written_against(method):
    digest = hashlib.sha256(inspect.getsource(method).encode()).hexdigest()[:16]
    expected, relies = PINNED[method]
    assert digest == expected, (
        f'{method.__module__}.{method.__qualname__} changed upstream (source sha256 '
        f'{digest}, was {expected}). Re-check: {relies}. Then store the new hash here.')


def test_runner_still_prints_the_records_kept_out_of_the_terminal():
    """Each record kept off the terminal is still written by mmengine (the Runner, its
    environment collection, the file client), so the filter keys still match."""
    from mmengine.fileio import file_client
    from mmengine.utils.dl_utils import collect_env

    source = ''.join(inspect.getsource(m) for m in (Runner, collect_env, file_client))
    for start in FILE_ONLY_RECORDS:  # (upstream splits the hook message over two lines)
        assert repr(start[:30])[1:-1] in source, start
