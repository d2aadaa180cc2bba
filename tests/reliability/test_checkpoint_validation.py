"""Truncated, empty, corrupt and weights-only checkpoints are found without unpickling."""
import os
import os.path as osp
import time

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmsign.cli.runtime import resolve_checkpoint
from mmsign.engine.resume import CheckpointError, checkpoint_problem, find_resume_checkpoint


def save(path, iteration: int, optimizer: bool = True, legacy: bool = False) -> str:
    checkpoint = dict(meta=dict(epoch=iteration // 4, iter=iteration),
                      state_dict={'w': torch.arange(2000.0) + iteration})
    if optimizer:
        checkpoint['optimizer'] = dict(state={}, param_groups=[dict(lr=0.1, params=[0])])
    torch.save(checkpoint, str(path), _use_new_zipfile_serialization=not legacy)
    return str(path)


def cut(path: str, fraction: float) -> str:
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:int(len(data) * fraction)])
    return path


def test_complete_checkpoints_pass(tmp_path):
    assert checkpoint_problem(save(tmp_path / 'a.pth', 4)) is None
    assert checkpoint_problem(save(tmp_path / 'legacy.pth', 4, legacy=True)) is None


@pytest.mark.parametrize('fraction', [0.02, 0.3, 0.6, 0.99])
def test_truncated_checkpoints_are_found(tmp_path, fraction):
    path = cut(save(tmp_path / 'a.pth', 4), fraction)
    assert checkpoint_problem(path).startswith('truncated')
    legacy = cut(save(tmp_path / 'legacy.pth', 4, legacy=True), fraction)
    assert checkpoint_problem(legacy).startswith('not a loadable checkpoint')


def test_empty_random_and_corrupt_files_are_found(tmp_path):
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    assert checkpoint_problem(str(empty)).startswith('empty file')
    noise = tmp_path / 'noise.pth'
    noise.write_bytes(np.random.default_rng(0).bytes(5000))
    assert checkpoint_problem(str(noise)).startswith('not a loadable checkpoint')
    assert checkpoint_problem(str(tmp_path / 'missing.pth')) == 'file not found'
    # one flipped byte inside the tensor data: the CRC of its zip member no longer matches
    path = save(tmp_path / 'flipped.pth', 4)
    data = bytearray(open(path, 'rb').read())
    offset = data.index(np.arange(2000, dtype=np.float32).__add__(4).tobytes()[:64])
    data[offset + 100] ^= 0xFF
    open(path, 'wb').write(bytes(data))
    assert checkpoint_problem(path).startswith('corrupt: member')


def test_auto_resume_follows_last_checkpoint_when_complete(tmp_path):
    assert find_resume_checkpoint(str(tmp_path)) is None  # nothing: start from scratch
    save(tmp_path / 'epoch_1.pth', 4)
    newest = save(tmp_path / 'epoch_2.pth', 8)
    (tmp_path / 'last_checkpoint').write_text(newest)
    assert find_resume_checkpoint(str(tmp_path)) == newest


@pytest.mark.parametrize('damage', ['truncated', 'empty_last_checkpoint', 'deleted'])
def test_auto_resume_falls_back_to_the_newest_complete_checkpoint(tmp_path, mm_log, damage):
    older = save(tmp_path / 'iter_4.pth', 4)
    save(tmp_path / 'best_wer_seq_iter_12.pth', 12, optimizer=False)  # weights only
    newest = save(tmp_path / 'iter_8.pth', 8)
    os.utime(older, (time.time() + 60, time.time() + 60))  # newer file, fewer iterations
    broken = str(tmp_path / 'iter_12.pth')
    save(broken, 12)
    if damage == 'truncated':
        cut(broken, 0.5)
        (tmp_path / 'last_checkpoint').write_text(broken)
    elif damage == 'empty_last_checkpoint':
        os.remove(broken)
        (tmp_path / 'last_checkpoint').write_text('')
    else:
        os.remove(broken)
        (tmp_path / 'last_checkpoint').write_text(broken)
    assert find_resume_checkpoint(str(tmp_path)) == newest
    text = mm_log.getvalue()
    assert f'Resuming from {newest} instead' in text
    assert {'truncated': f'{broken} (named by last_checkpoint) is truncated',
            'empty_last_checkpoint': 'last_checkpoint is empty',
            'deleted': f'{broken} (named by last_checkpoint) is file not found'}[damage] in text


def test_auto_resume_without_a_complete_checkpoint_is_an_error(tmp_path):
    cut(save(tmp_path / 'epoch_2.pth', 8), 0.4)
    save(tmp_path / 'best_wer_seq_epoch_1.pth', 4, optimizer=False)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    with pytest.raises(CheckpointError, match='no complete checkpoint') as info:
        find_resume_checkpoint(str(tmp_path))
    assert 'epoch_2.pth (named by last_checkpoint) is truncated' in str(info.value)
    assert 'best_wer_seq_epoch_1.pth is weights only' in str(info.value)


def test_runner_config_is_checked_before_the_runner_loads_anything(tmp_path):
    truncated = cut(save(tmp_path / 'epoch_2.pth', 8), 0.5)
    cfg = Config(dict(work_dir=str(tmp_path), resume=True, load_from=truncated))
    with pytest.raises(CheckpointError, match=f'cannot resume from {truncated}: truncated'):
        resolve_checkpoint(cfg)
    cfg = Config(dict(work_dir=str(tmp_path), resume=False, load_from=truncated))
    with pytest.raises(CheckpointError, match=f'cannot load from {truncated}: truncated'):
        resolve_checkpoint(cfg)
    complete = save(tmp_path / 'epoch_1.pth', 4)
    cfg = Config(dict(work_dir=str(tmp_path), resume=True, load_from=None))
    resolve_checkpoint(cfg)
    assert cfg.load_from == complete and cfg.resume
    assert osp.isfile(cfg.load_from)
