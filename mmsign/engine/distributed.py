"""Distributed training on machines without CUDA.

mmengine 0.10.7's ``pytorch`` launcher calls ``torch.cuda.set_device`` and wraps the
model with ``device_ids=[LOCAL_RANK]``: both fail on CPU-only machines (laptops, CI). The
two pieces below keep PyTorch's own DDP and gloo process group, and only skip the CUDA
calls when there is no CUDA device. A non-finite step is skipped on all ranks by the
optimiser wrapper (:class:`~mmsign.engine.optim_wrapper.NonFiniteSkipMixin`), which
mmengine's DDP ``train_step`` calls as the model's does.

A rank that stops (killed, SIGSTOPped, a stuck data loader) would leave the others
waiting in a collective forever: the gloo group gets ``env_cfg.dist_cfg.timeout``
(seconds) and a training step whose collective times out ends with one
:class:`RankTimeoutError` saying so.
"""
import atexit
import datetime
import gc
import os

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel

# mmengine's Runner looks model wrappers up in its own (root) registry.
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class DeviceAwareDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that also wraps CPU modules.

    PyTorch's DDP requires ``device_ids=None`` for a module on the CPU; mmengine always
    passes the local rank. On GPUs the device ids are kept. ``broadcast_buffers`` defaults
    to False, as when mmengine wraps a model without a ``model_wrapper_cfg`` (buffers are
    synchronised by ``SyncBuffersHook`` after each epoch). ``train_step`` is mmengine's.
    configs/_base_/default_runtime.py names it in ``model_wrapper_cfg`` (read by
    mmengine for distributed runs only).
    """

    def __init__(self, module: torch.nn.Module, device_ids=None,
                 broadcast_buffers: bool = False, **kwargs) -> None:
        first = next(module.parameters(), None)
        if first is not None and first.device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids,
                         broadcast_buffers=broadcast_buffers, **kwargs)

    def train_step(self, data, optim_wrapper):
        """mmengine's ``train_step``; a collective that times out or loses a peer raises
        :class:`RankTimeoutError` (one line) instead of gloo's error."""
        try:
            return super().train_step(data, optim_wrapper)
        except RuntimeError as e:
            if not lost_peer(e):
                raise
            raise RankTimeoutError(
                f'rank {dist.get_rank()} of {dist.get_world_size()}: another rank did not '
                'answer in a gradient all-reduce within env_cfg.dist_cfg.timeout '
                f'({group_timeout()}) or left the group ({str(e).splitlines()[0][:160]}). '
                'Look at the log of the other ranks (stopped, killed, out of memory?), then '
                'resume with --resume') from e


class RankTimeoutError(ValueError):
    """Another rank did not answer within the process group's timeout (a ValueError,
    so that the tools print it as one line: ``env_cfg.dist_cfg.timeout`` was exceeded)."""


def lost_peer(error: BaseException) -> bool:
    """Whether a collective failed because a rank did not answer or went away."""
    text = str(error).lower()
    return isinstance(error, getattr(dist, 'DistBackendError', ())) or any(
        cue in text for cue in ('timed out', 'connection closed by peer',
                                'connection reset by peer'))


def group_timeout() -> str:
    """The timeout :func:`prepare_cpu_distributed` gave the group, in words."""
    seconds = getattr(prepare_cpu_distributed, 'timeout', None)
    return "torch's default, 30 min" if seconds is None else f'{seconds:g} s'


def prepare_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Make ``launcher='pytorch'`` work without CUDA (gloo + CPU DDP).

    Sets ``env_cfg.dist_cfg.backend='gloo'`` (shown by the config dump) and initialises
    the default process group with it from torchrun's environment, with
    ``env_cfg.dist_cfg.timeout`` seconds (as mmengine's ``init_dist``; torch's default,
    30 minutes, without it), so the Runner does not call ``torch.cuda.set_device``. A
    config without ``model_wrapper_cfg`` gets
    ``dict(type='DeviceAwareDistributedDataParallel')`` (the recipes name it already).

    Args:
        cfg (Config): The config; modified in place.
        launcher (str): The ``--launcher`` argument.

    Returns:
        bool: True if the CPU path was taken.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return False
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    if not cfg.get('model_wrapper_cfg'):
        # mmengine's default wrapper passes device_ids, which DDP refuses for CPU modules
        cfg.model_wrapper_cfg = dict(type='DeviceAwareDistributedDataParallel')
    timeout = cfg.env_cfg.dist_cfg.get('timeout')
    if not dist.is_initialized():
        options = {} if timeout is None else dict(
            timeout=datetime.timedelta(seconds=float(timeout)))
        dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                                world_size=int(os.environ['WORLD_SIZE']), **options)
        prepare_cpu_distributed.timeout = None if timeout is None else float(timeout)
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
