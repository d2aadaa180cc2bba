"""A NaN batch changes nothing and training goes on, in one process and under DDP; videos
too short for CTC never make the loss infinite."""
import json
import math
import os.path as osp
import random

import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from reliability_helpers import (
    REPO,
    free_port,
    log_files,
    log_of,
    losses,
    run_tool,
    train,
    write_config,
)
from torch import nn

import mmsign  # noqa: F401  (registers mmsign's modules, makes mmaction.models importable)
from mmsign.engine.nonfinite import RunningStatsSnapshot
from mmsign.engine.optim_wrapper import SignOptimWrapper

VOCAB = ['ABEND', 'GUT', 'REGEN', 'WETTER']


class PerFrameEncoder(nn.Module):
    """A conv + average pool per frame: the backbone contract at toy size."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.out_channels = 8

    def forward(self, frames: torch.Tensor, lengths) -> torch.Tensor:
        return self.conv(frames).mean((2, 3))


def batch(lengths, glosses, ids):
    inputs, samples = [], []
    for length, labels, sample_id in zip(lengths, glosses, ids):
        inputs.append(torch.randint(0, 256, (length, 3, 8, 8), dtype=torch.uint8))
        sample = ActionDataSample()
        sample.set_metainfo(dict(sample_id=sample_id))
        sample.gt_glosses = torch.tensor(labels, dtype=torch.long)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def min_output_frames(labels) -> int:
    """Glosses plus equal neighbours: the CTC minimum, written out independently."""
    return len(labels) + sum(a == b for a, b in zip(labels, labels[1:]))


def test_ctc_loss_stays_finite_for_videos_too_short_for_their_glosses(mm_log):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='SignRecognizer', backbone=dict(type=PerFrameEncoder),
                              head=dict(type='SignCTCHead', hidden_channels=16,
                                        loss_distill=dict(type='SequenceDistillLoss')),
                              vocab=VOCAB, decoder=dict(type='CTCGreedyDecoder')))
    # the skip lives in the optimiser wrapper (the model keeps mmengine's train_step)
    optim = SignOptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))
    rng = random.Random(0)
    excluded_seen = 0
    for step in range(30):
        size = rng.randint(1, 4)
        labels = [[rng.randint(1, len(VOCAB)) for _ in range(rng.randint(1, 8))]
                  for _ in range(size)]
        # T' = ceil(T / 4); pick T' around the minimum, the boundary included
        lengths = [max(1, 4 * (min_output_frames(g) + rng.randint(-3, 1)) - rng.randint(0, 3))
                   for g in labels]
        ids = [f'step{step}_video{b}' for b in range(size)]
        too_short = [sid for sid, g, t in zip(ids, labels, lengths)
                     if math.ceil(t / 4) < min_output_frames(g)]
        log_vars = model.train_step(batch(lengths, labels, ids), optim)
        assert math.isfinite(log_vars['loss'].item()), (lengths, labels)
        assert log_vars['ctc_excluded'] == len(too_short)
        assert optim.last_step.skipped == 0
        assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())
        assert all(torch.isfinite(p).all() for p in model.parameters())
        text = mm_log.getvalue()
        assert all(sid in text for sid in too_short)
        excluded_seen += len(too_short)
    assert excluded_seen > 10  # the cases were exercised


def check_nan_report(work_dir: str, rank: int) -> dict:
    with open(osp.join(work_dir, f'nan_step_rank{rank}.json')) as f:
        report = json.load(f)
    assert report['skipped_step'] == 1.0
    assert report['changed_params'] == [] and report['changed_optimizer'] == []
    assert report['changed_buffers'] == [] and report['buffers_finite']
    assert report['next_changed_params'] > 0  # the following batch trains again
    return report


@pytest.mark.slow
def test_nan_batch_changes_nothing_and_training_goes_on(data_root, tmp_path):
    config = write_config(str(tmp_path / 'config.py'), data_root, max_epochs=1)
    work_dir = str(tmp_path / 'work')
    result = train(config, work_dir, fault='nan_at_iter=1')
    log = log_of(result)
    assert result.returncode == 0, log[-4000:]
    report = check_nan_report(work_dir, 0)
    assert len(report['sample_ids']) == 2
    assert 'non-finite loss (loss=nan' in log and 'optimiser step skipped' in log
    assert all(sid in log for sid in report['sample_ids'])
    record = losses(work_dir)
    assert [record[i]['skipped_step'] for i in range(4)] == [0, 1, 0, 0]
    assert all(math.isfinite(record[i]['loss']) for i in (0, 2, 3))
    assert 'wer/seq' in log  # validation ran on an unpoisoned model


@pytest.mark.slow
def test_nan_on_one_rank_is_skipped_by_both_ranks_under_ddp(data_root, tmp_path):
    config = write_config(str(tmp_path / 'config.py'), data_root, max_epochs=1)
    work_dir = str(tmp_path / 'work')
    result = run_tool([osp.join(REPO, 'tools', 'dist_train.sh'), config, '2', '--work-dir',
                       work_dir, '--seed', '0'], cwd=str(tmp_path),
                      fault='nan_at_iter=0,rank=1', env={'PORT': free_port()})
    log = log_of(result)
    assert result.returncode == 0, log[-4000:]
    # the config dump is in the log file (not on the terminal)
    assert ("model_wrapper_cfg = dict(type='DeviceAwareDistributedDataParallel')"
            in log_files(work_dir))
    for rank in (0, 1):
        check_nan_report(work_dir, rank)
        record = losses(work_dir, rank)
        assert [record[i]['skipped_step'] for i in (0, 1)] == [1, 0]
    # Only rank 1's loss was NaN; rank 0 logs rank 1's samples.
    assert math.isfinite(losses(work_dir, 0)[0]['loss'])
    assert math.isnan(losses(work_dir, 1)[0]['loss'])
    bad_ids = losses(work_dir, 1)[0]['sample_ids']
    assert 'non-finite on rank 1 of 2; every rank skipped the step' in log
    assert all(sid in log for sid in bad_ids)


def test_running_stats_are_put_back_only_where_the_step_was_skipped():
    model = nn.Sequential(nn.Conv1d(2, 4, 1), nn.BatchNorm1d(4), nn.Linear(3, 3)).train()
    stats = RunningStatsSnapshot(model)
    assert len(stats.buffers) == 3  # running_mean, running_var, num_batches_tracked
    before = [b.clone() for b in stats.buffers]
    model(torch.full((2, 2, 3), float('nan')))
    assert torch.isnan(model[1].running_mean).all()
    stats.restore(where=torch.tensor(False))  # the step was not skipped: keep
    assert torch.isnan(model[1].running_mean).all()
    stats.restore(where=torch.tensor(True))  # decided on the device: put back
    assert all(torch.equal(a, b) for a, b in zip(stats.buffers, before))
    model(torch.randn(2, 2, 3))
    stats.restore()
    assert all(torch.equal(a, b) for a, b in zip(stats.buffers, before))
