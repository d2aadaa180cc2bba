"""Killed runs resume exactly; truncated checkpoints are skipped or refused, never unpickled.

Each scenario trains the synthetic recipe (3 epochs x 4 batches, --seed 0
--deterministic, the recipe's persistent training worker), is killed with SIGKILL,
resumes with ``tools/train.py --resume`` and must match the uninterrupted ``baseline``
run: same batches, bit-identical losses, the same final WER counts and the same final
weights.
"""
import os
import os.path as osp
import shutil
import signal

import pytest
import torch
from reliability_helpers import (
    log_of,
    losses,
    recipe_workers,
    state_dict,
    train,
    val_metrics,
    write_config,
)

pytestmark = pytest.mark.slow

WER_KEYS = ('wer/seq', 'wer/seq_sub_count', 'wer/seq_del_count', 'wer/seq_ins_count',
            'wer/seq_ref_words', 'wer/conv')


def assert_same_run(baseline: str, work_dir: str, final: str) -> None:
    expected, got = losses(baseline), losses(work_dir)
    assert sorted(got) == sorted(expected) == list(range(12))
    for step in expected:
        assert got[step]['sample_ids'] == expected[step]['sample_ids'], step
        assert got[step]['loss'] == expected[step]['loss'], step
    expected_wer, got_wer = val_metrics(baseline)[-1], val_metrics(work_dir)[-1]
    assert got_wer['step'] == expected_wer['step'] == 3
    assert {k: got_wer[k] for k in WER_KEYS} == {k: expected_wer[k] for k in WER_KEYS}
    ours = state_dict(osp.join(work_dir, final))
    theirs = state_dict(osp.join(baseline, 'epoch_3.pth'))
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[key], theirs[key]) for key in theirs)


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return osp.basename(f.read().strip())


def test_kill_mid_epoch_resumes_inside_the_epoch_exactly(baseline, data_root, tmp_path):
    config = write_config(str(tmp_path / 'config.py'), data_root,
                          checkpoint='by_epoch=False, interval=3', workers=recipe_workers())
    work_dir = str(tmp_path / 'work')
    killed = train(config, work_dir, fault='kill_at_iter=7')
    assert killed.returncode == -signal.SIGKILL, log_of(killed)[-3000:]
    # Killed in epoch 2 after its third batch; the newest checkpoint is after its second.
    assert last_checkpoint(work_dir) == 'iter_6.pth'
    resumed = train(config, work_dir, '--resume')
    log = log_of(resumed)
    assert resumed.returncode == 0, log[-4000:]
    assert 'resumed epoch: 1, iter: 6' in log
    assert 'resuming epoch 2 after its batch 2 of 4' in log
    assert 'Epoch(train) [2][3/4]' in log and 'Epoch(train) [2][1/4]' not in log
    assert_same_run(baseline, work_dir, final='iter_12.pth')


def test_kill_while_saving_keeps_the_previous_checkpoint(baseline, data_root, tmp_path):
    # The recipe keeps one checkpoint (max_keep_ckpts=1): mmengine would delete
    # epoch_1.pth before writing epoch_2.pth, leaving nothing complete to resume from.
    config = write_config(str(tmp_path / 'config.py'), data_root, workers=recipe_workers())
    work_dir = str(tmp_path / 'work')
    killed = train(config, work_dir, fault='kill_in_save=epoch_2.pth')
    assert killed.returncode == -signal.SIGKILL, log_of(killed)[-3000:]
    files = set(os.listdir(work_dir))
    assert 'epoch_2.pth.part' in files and 'epoch_2.pth' not in files
    assert 'epoch_1.pth' in files and last_checkpoint(work_dir) == 'epoch_1.pth'
    resumed = train(config, work_dir, '--resume')
    log = log_of(resumed)
    assert resumed.returncode == 0, log[-4000:]
    assert 'resumed epoch: 1, iter: 4' in log and 'epoch_2.pth.part, a checkpoint' in log
    assert not any(name.endswith('.part') for name in os.listdir(work_dir))
    assert_same_run(baseline, work_dir, final='epoch_3.pth')


def test_truncated_last_checkpoint_falls_back_to_a_complete_one(baseline, data_root,
                                                                tmp_path):
    # The baseline's work dir, with the checkpoint last_checkpoint names cut in half (a
    # copy interrupted, a full disk): --resume warns and takes epoch_2.pth, the newest
    # complete checkpoint with optimiser state, then trains epoch 3 again.
    work_dir = str(tmp_path / 'work')
    shutil.copytree(baseline, work_dir)
    newest = osp.join(work_dir, 'epoch_3.pth')
    with open(newest, 'rb') as f:
        data = f.read()
    with open(newest, 'wb') as f:
        f.write(data[:len(data) // 2])
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
        f.write(newest)
    with open(osp.join(work_dir, 'losses_rank0.json'), 'w') as f:
        f.write('{}')
    config = write_config(str(tmp_path / 'config.py'), data_root, workers=recipe_workers())
    resumed = train(config, work_dir, '--resume')
    log = log_of(resumed)
    assert resumed.returncode == 0, log[-4000:]
    assert f'{newest} (named by last_checkpoint) is truncated' in log
    assert 'epoch_2.pth instead, the newest complete checkpoint' in log
    assert 'resumed epoch: 2, iter: 8' in log and 'Traceback' not in log
    expected, got = losses(baseline), losses(work_dir)
    assert sorted(got) == [8, 9, 10, 11]
    assert all(got[step] == expected[step] for step in got)
    ours, theirs = state_dict(newest), state_dict(osp.join(baseline, 'epoch_3.pth'))
    assert all(torch.equal(ours[key], theirs[key]) for key in theirs)
    # the copy's checkpoints name the original work dir's files: none was deleted there
    assert all(osp.isfile(osp.join(baseline, f'epoch_{n}.pth')) for n in (1, 2, 3))


def test_resume_refuses_broken_checkpoints_with_a_clear_error(baseline, data_root, tmp_path):
    config = write_config(str(tmp_path / 'config.py'), data_root)
    with open(osp.join(baseline, 'epoch_3.pth'), 'rb') as f:
        data = f.read()
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    (work_dir / 'epoch_3.pth').write_bytes(data[:len(data) // 3])
    (work_dir / 'epoch_2.pth').write_bytes(b'')
    best = [name for name in os.listdir(baseline) if name.startswith('best_')]
    shutil.copy(osp.join(baseline, best[0]), work_dir / best[0])
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_3.pth'))
    # nothing complete in the work dir (a truncated --resume PATH: see
    # test_checkpoint_validation.py)
    refused = train(config, str(work_dir), '--resume')
    log = log_of(refused)
    assert refused.returncode == 1, log[-3000:]
    assert 'no complete checkpoint' in log and 'epoch_3.pth' in log and 'epoch_2.pth' in log
    assert 'empty file' in log and 'truncated' in log
    assert f'{best[0]} is weights only, without optimiser' in log
    assert 'Traceback' not in log and 'pickle' not in log.lower()
