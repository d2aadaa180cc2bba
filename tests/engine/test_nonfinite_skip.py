"""The one non-finite mechanism: the optimiser wrapper's ``update_params`` skips a NaN step
(on the device with a fused optimiser), with mmengine's own ``train_step`` in the model.
The whole-run cases (one process, one of two DDP ranks) are in
tests/reliability/test_nonfinite.py."""
import copy
import math

import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from torch import nn

import mmsign  # noqa: F401  (registers mmsign's modules)
from mmsign.engine.optim_wrapper import SignAmpOptimWrapper, SignOptimWrapper, skips_on_device
from mmsign.models.recognizers import SignRecognizer

VOCAB = ['A', 'B', 'C', 'D']


class TinyFrameEncoder(nn.Module):
    """Conv + average pool per frame: the backbone contract, nothing temporal."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.out_channels = 8

    def forward(self, frames, lengths):
        return self.conv(frames).mean((2, 3))


def tiny_recognizer():
    torch.manual_seed(0)
    return MODELS.build(dict(type='SignRecognizer', backbone=dict(type=TinyFrameEncoder),
                             head=dict(type='SignCTCHead', hidden_channels=16,
                                       loss_distill=dict(type='SequenceDistillLoss')),
                             vocab=VOCAB, decoder=dict(type='CTCGreedyDecoder')))


def make_batch(ids=('v0', 'v1')):
    g = torch.Generator().manual_seed(1)
    inputs, samples = [], []
    for sid, length, glosses in zip(ids, (9, 20), ((1, 2), (3, 4, 3))):
        inputs.append(torch.randint(0, 256, (length, 3, 8, 8), generator=g,
                                    dtype=torch.uint8))
        sample = ActionDataSample()
        sample.set_metainfo(dict(sample_id=sid))
        sample.gt_glosses = torch.tensor(glosses)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@pytest.fixture
def host_reads(monkeypatch):
    """Counts every Python-level read (``bool``, ``item``, ``float``, ``int``) of a
    tensor: on a GPU each would wait for the device."""
    reads = []
    for name in ('__bool__', 'item', '__float__', '__int__'):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name):
            reads.append(_name)
            return _original(self, *args)
        monkeypatch.setattr(torch.Tensor, name, counted)
    return reads


def snapshot(model, optim):
    return ({k: v.detach().clone() for k, v in model.named_parameters()},
            {k: v.detach().clone() for k, v in model.named_buffers()},
            copy.deepcopy(optim.optimizer.state_dict()['state']))


def assert_unchanged(model, optim, before):
    params, buffers, state = before
    assert all(torch.equal(params[k], v) for k, v in model.named_parameters())
    assert all(torch.equal(buffers[k], v) for k, v in model.named_buffers())
    for index, entry in optim.optimizer.state_dict()['state'].items():
        assert all(torch.equal(value, state[index][key]) for key, value in entry.items())
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())


def nan_step(model, optim):
    handle = model.backbone.register_forward_hook(lambda m, i, out: out * float('nan'))
    try:
        return model.train_step(make_batch(ids=('nan_video_a', 'nan_video_b')), optim)
    finally:
        handle.remove()


def test_model_keeps_mmengines_train_step():
    assert SignRecognizer.train_step is BaseModel.train_step


def test_skip_decision_needs_a_fused_optimiser_without_accumulation():
    model = tiny_recognizer()
    plain = OptimWrapper(torch.optim.Adam(model.parameters()))
    fused = OptimWrapper(torch.optim.Adam(model.parameters(), fused=True))
    accumulating = OptimWrapper(torch.optim.Adam(model.parameters(), fused=True),
                                accumulative_counts=2)
    assert not skips_on_device(plain) and skips_on_device(fused)
    assert not skips_on_device(accumulating)


def test_fused_optimiser_skips_non_finite_steps_without_reading_the_loss(host_reads):
    model = tiny_recognizer()
    optim = SignOptimWrapper(optimizer=torch.optim.Adam(model.parameters(), lr=1e-3,
                                                        fused=True))
    model.train_step(make_batch(), optim)
    assert host_reads == []
    assert optim.last_step.skipped == 0 and host_reads  # (the fixture counts)
    host_reads.clear()
    before = snapshot(model, optim)
    log_vars = nan_step(model, optim)
    assert host_reads == []  # neither the loss nor the flag was read on the host
    assert math.isnan(log_vars['loss'].item())
    assert optim.last_step.skipped == 1 and optim.last_step.finite_here == 0
    # parameters, optimiser state (step count too) and BatchNorm statistics as before
    assert_unchanged(model, optim, before)
    # and the next finite batch trains
    model.train_step(make_batch(), optim)
    assert optim.last_step.skipped == 0
    assert any(not torch.equal(before[0][k], v) for k, v in model.named_parameters())


@pytest.mark.parametrize('wrapper', ['SignOptimWrapper', 'SignAmpOptimWrapper'])
def test_plain_optimiser_reads_the_loss_and_skips(wrapper, host_reads):
    model = tiny_recognizer()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    optim = (SignOptimWrapper if wrapper == 'SignOptimWrapper' else SignAmpOptimWrapper)(
        optimizer=optimizer)
    model.train_step(make_batch(), optim)
    assert '__bool__' in host_reads and optim.last_step.skipped == 0
    before = snapshot(model, optim)
    nan_step(model, optim)
    assert optim.last_step.skipped == 1
    assert_unchanged(model, optim, before)


def test_accumulated_window_with_a_nan_batch_is_dropped():
    model = tiny_recognizer()
    optim = SignOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                             accumulative_counts=2)
    initial = snapshot(model, optim)[0]
    model.train_step(make_batch(), optim)  # accumulates, no update yet
    before = snapshot(model, optim)
    assert all(torch.equal(initial[k], v) for k, v in before[0].items())
    nan_step(model, optim)  # end of the window: skipped, gradients dropped
    assert optim.last_step.skipped == 1
    assert_unchanged(model, optim, before)
    model.train_step(make_batch(), optim)
    model.train_step(make_batch(), optim)
    assert any(not torch.equal(before[0][k], v) for k, v in model.named_parameters())


def test_under_ddp_the_agreed_flag_stays_on_the_device(host_reads, monkeypatch):
    """Issue 16's CPU part: mmengine's DDP train_step, one all-reduce (MIN) of the flag,
    and no read of it on the host (a one-process gloo group)."""
    import socket

    import torch.distributed as dist

    from mmsign.engine.distributed import DeviceAwareDistributedDataParallel
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=0,
                            world_size=1)
    try:
        reduced = []
        all_reduce = dist.all_reduce

        def counted(tensor, op=dist.ReduceOp.SUM, **kwargs):
            reduced.append(op)
            return all_reduce(tensor, op=op, **kwargs)
        monkeypatch.setattr(dist, 'all_reduce', counted)
        model = tiny_recognizer()
        ddp = DeviceAwareDistributedDataParallel(module=model)
        optim = SignOptimWrapper(optimizer=torch.optim.Adam(model.parameters(), lr=1e-3,
                                                            fused=True))
        ddp.train_step(make_batch(), optim)
        host_reads.clear()
        before = snapshot(model, optim)
        handle = model.backbone.register_forward_hook(lambda m, i, out: out * float('nan'))
        ddp.train_step(make_batch(), optim)
        handle.remove()
        assert host_reads == []
        assert dist.ReduceOp.MIN in reduced
        assert optim.last_step.skipped == 1
        assert_unchanged(model, optim, before)
    finally:
        dist.destroy_process_group()
