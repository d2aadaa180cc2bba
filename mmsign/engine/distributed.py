"""Distributed training: the CPU launcher and a DDP step that survives a NaN batch.

mmengine 0.10.7's ``pytorch`` launcher calls ``torch.cuda.set_device`` and wraps the
model with ``device_ids=[LOCAL_RANK]``: both fail on CPU-only machines (laptops, CI). The
two pieces below keep PyTorch's own DDP and gloo process group, and only skip the CUDA
calls when there is no CUDA device.

Under DDP, mmengine calls the wrapper's ``train_step``, not the model's, so the wrapper
below also skips steps with a non-finite loss, on every rank together.
"""
import atexit
import gc
import os
from typing import Dict, Union

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.dist import all_gather_object, get_rank
from mmengine.model import MMDistributedDataParallel, detect_anomalous_params
from mmengine.optim import OptimWrapper

# mmengine's Runner looks model wrappers up in its own (root) registry.
from mmengine.registry import MODEL_WRAPPERS

from mmsign.engine.nonfinite import RunningStatsSnapshot, batch_sample_ids, log_skipped_step


@MODEL_WRAPPERS.register_module()
class DeviceAwareDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for CPU modules, skipping non-finite steps.

    PyTorch's DDP requires ``device_ids=None`` for a module on the CPU; mmengine always
    passes the local rank. On GPUs the device ids are kept. ``broadcast_buffers`` defaults
    to False, as when mmengine wraps a model without a ``model_wrapper_cfg`` (buffers are
    synchronised by ``SyncBuffersHook`` after each epoch).

    :meth:`train_step` does what mmengine's does, except that a step whose loss is NaN
    or infinite on any rank is skipped on all ranks (see there): ``tools/train.py`` uses
    this wrapper for every ``--launcher pytorch`` run, on CPUs and GPUs.
    """

    def __init__(self, module: torch.nn.Module, device_ids=None,
                 broadcast_buffers: bool = False, **kwargs) -> None:
        first = next(module.parameters(), None)
        if first is not None and first.device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids,
                         broadcast_buffers=broadcast_buffers, **kwargs)

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """Forward, backward and an update that all ranks skip if any loss is not finite.

        Every rank runs the backward pass (so DDP's gradient all-reduce never waits for
        a rank that left), then the ranks agree with one all-reduce (MIN) of a finite
        flag. If any rank's loss is NaN or infinite, every rank skips the optimiser step,
        clears the gradients and puts back the BatchNorm running statistics of the
        batch's forward pass, so no parameter, optimiser state or statistic changes; the
        sample ids of the offending ranks' batches are gathered and logged. Reading the
        agreed flag costs one device-to-host synchronisation per step. ``skipped_step``
        (1 or 0) is added to the logged values.

        Args:
            data (dict | tuple | list): A batch from the dataloader.
            optim_wrapper (OptimWrapper): Updates the parameters.

        Returns:
            dict[str, Tensor]: Values to log.
        """
        stats = RunningStatsSnapshot(self.module)
        with optim_wrapper.optim_context(self):
            data = self.module.data_preprocessor(data, training=True)
            losses = self._run_forward(data, mode='loss')
        parsed_loss, log_vars = self.module.parse_losses(losses)
        optim_wrapper.backward(optim_wrapper.scale_loss(parsed_loss))
        local_finite = torch.isfinite(parsed_loss.detach()).to(torch.int32)
        all_finite = local_finite.clone()
        dist.all_reduce(all_finite, op=dist.ReduceOp.MIN)
        finite = bool(all_finite)
        if finite:
            if optim_wrapper.should_update():
                optim_wrapper.step()
                optim_wrapper.zero_grad()
            if self.detect_anomalous_params:
                detect_anomalous_params(parsed_loss, model=self)
        else:
            optim_wrapper.zero_grad()
            stats.restore()
            reports = all_gather_object((get_rank(), bool(local_finite),
                                         batch_sample_ids(data)))
            bad = [(rank, ids) for rank, rank_finite, ids in reports if not rank_finite]
            log_skipped_step(
                log_vars, [i for _, ids in bad for i in ids],
                f' (non-finite on rank {", ".join(str(rank) for rank, _ in bad)} of '
                f'{len(reports)}; every rank skipped the step)')
        log_vars['skipped_step'] = torch.tensor(0.0 if finite else 1.0)
        return log_vars


def prepare_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Make ``launcher='pytorch'`` work without CUDA (gloo + CPU DDP).

    Initialises the default process group with gloo from torchrun's environment (so the
    Runner does not call ``torch.cuda.set_device``) and selects
    :class:`DeviceAwareDistributedDataParallel` as the model wrapper.

    Args:
        cfg (Config): The config; modified in place.
        launcher (str): The ``--launcher`` argument.

    Returns:
        bool: True if the CPU path was taken.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return False
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or {}
    wrapper.setdefault('type', 'DeviceAwareDistributedDataParallel')
    cfg.model_wrapper_cfg = wrapper
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                                world_size=int(os.environ['WORLD_SIZE']))
    return True


def destroy_process_group_at_exit() -> None:
    """Destroy the default process group when the interpreter exits (idempotent).

    mmengine never destroys it. With torch 2.14 a gloo process that exits with the group
    alive, or destroys it while a DDP wrapper still holds it, often aborts after its work
    is done ("terminate called without an active exception", SIGABRT; measured: 6 of 16
    two-process runs of a toy DDP script), which torchrun reports as a failed run. The
    exit handler first collects the garbage (the Runner and its DDP wrapper, kept alive
    by reference cycles), then destroys the group (0 of 16).
    """
    if dist.is_initialized() and not getattr(destroy_process_group_at_exit, 'armed', False):
        atexit.register(_destroy_default_group)
        destroy_process_group_at_exit.armed = True


def _destroy_default_group() -> None:
    gc.collect()
    if dist.is_initialized():
        dist.destroy_process_group()
