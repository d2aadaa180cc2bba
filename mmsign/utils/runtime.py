"""Shared plumbing of ``tools/train.py`` and ``tools/test.py``."""
import argparse
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmsign.engine.distributed import destroy_process_group_at_exit, prepare_cpu_distributed
from mmsign.engine.resume import check_checkpoint, find_resume_checkpoint

__all__ = [
    'DictAction', 'add_reliability', 'amp_dtype', 'apply_common_args', 'build_runner',
    'load_config', 'resolve_checkpoint'
]

#: Hooks every run gets (docs/reliability.md), unless the config lists them already.
RELIABILITY_HOOKS = ('TrainRandomStateHook', 'BadSampleReportHook',
                     'CheckpointCompatibilityHook', 'NonFiniteStepHook')


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config file and merge ``--cfg-options`` into it."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def amp_dtype(choice: str) -> str:
    """Resolve ``--amp`` to an autocast dtype name for the current GPU.

    Args:
        choice (str): ``'auto'``, ``'bf16'`` or ``'fp16'``.

    Returns:
        str: ``'bfloat16'`` or ``'float16'``.
    """
    if not torch.cuda.is_available():
        raise RuntimeError('--amp needs a CUDA GPU (mixed precision on the CPU is not '
                           'supported by mmengine\'s AmpOptimWrapper): drop --amp')
    if choice == 'auto':
        choice = 'bf16' if torch.cuda.is_bf16_supported() else 'fp16'
    return {'bf16': 'bfloat16', 'fp16': 'float16'}[choice]


def apply_common_args(cfg: Config, args: argparse.Namespace, default_work_dir: str) -> None:
    """Apply ``--work-dir``, ``--amp`` and ``--launcher`` to ``cfg`` in place.

    The work dir is taken from the command line, then from the config, then
    ``default_work_dir`` (``work_dirs/<config name>`` like mmaction2).
    """
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir
    cfg.launcher = args.launcher
    if getattr(args, 'amp', None):
        dtype = amp_dtype(args.amp)
        if cfg.get('train_cfg') is not None and 'optim_wrapper' in cfg:
            wrapper = cfg.optim_wrapper
            if wrapper.get('type', 'OptimWrapper') == 'OptimWrapper':
                wrapper.type = 'AmpOptimWrapper'
                wrapper.setdefault('loss_scale', 'dynamic')
            if wrapper.type == 'AmpOptimWrapper':
                wrapper.dtype = dtype
        for loop in ('val_cfg', 'test_cfg'):
            if cfg.get(loop) is not None:
                cfg[loop]['fp16'] = True


def add_reliability(cfg: Config) -> None:
    """Give a run mmsign's safeguards (docs/reliability.md), in place.

    - ``custom_hooks`` gain :data:`RELIABILITY_HOOKS` (random state in checkpoints,
      report of skipped samples, checkpoint / vocabulary checks);
    - mmengine's ``CheckpointHook`` becomes ``SafeCheckpointHook`` (atomic writes) and
      ``EpochBasedTrainLoop`` becomes ``ResumableEpochBasedTrainLoop`` (exact resume in
      the middle of an epoch), both subclasses that behave the same otherwise;
    - distributed runs use ``DeviceAwareDistributedDataParallel``, whose ``train_step``
      skips non-finite steps on all ranks together.

    Args:
        cfg (Config): The config (with ``launcher`` set).
    """
    hooks = list(cfg.get('custom_hooks') or [])
    present = {hook.get('type') for hook in hooks if isinstance(hook, dict)}
    hooks += [dict(type=name) for name in RELIABILITY_HOOKS if name not in present]
    cfg.custom_hooks = hooks
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if isinstance(checkpoint, dict) and checkpoint.get('type') == 'CheckpointHook':
        checkpoint['type'] = 'SafeCheckpointHook'
    loop = cfg.get('train_cfg')
    if isinstance(loop, dict) and loop.get('type') == 'EpochBasedTrainLoop':
        loop['type'] = 'ResumableEpochBasedTrainLoop'
    if cfg.get('launcher', 'none') != 'none':
        wrapper = cfg.get('model_wrapper_cfg') or {}
        if 'type' not in wrapper and cfg.get('find_unused_parameters'):
            # mmengine reads the top-level key only when it wraps the model itself
            wrapper['find_unused_parameters'] = True
        wrapper.setdefault('type', 'DeviceAwareDistributedDataParallel')
        cfg.model_wrapper_cfg = wrapper


def resolve_checkpoint(cfg: Config) -> None:
    """Check ``load_from`` and pick the checkpoint of ``resume``, before the Runner runs.

    ``resume`` without ``load_from`` (``--resume`` without a path) takes the newest
    complete checkpoint of the work dir (:func:`find_resume_checkpoint`: a truncated or
    corrupt one is skipped with a warning) and writes it into ``load_from``. A given
    ``load_from`` that is truncated or corrupt raises
    :class:`~mmsign.engine.resume.CheckpointError`.

    Args:
        cfg (Config): The config, with ``work_dir`` set; modified in place.
    """
    if cfg.get('resume') and not cfg.get('load_from'):
        found = find_resume_checkpoint(cfg.work_dir) if osp.isdir(cfg.work_dir) else None
        if found is not None:
            cfg.load_from = found
    elif cfg.get('load_from'):
        check_checkpoint(cfg.load_from, 'resume' if cfg.get('resume') else 'load')


def build_runner(cfg: Config) -> Runner:
    """Build the Runner (or the config's ``runner_type``) with mmsign's safeguards.

    Adds the reliability pieces (:func:`add_reliability`), checks the checkpoint to load
    or resume (:func:`resolve_checkpoint`) and sets up CPU-safe distributed runs.
    """
    add_reliability(cfg)
    resolve_checkpoint(cfg)
    prepare_cpu_distributed(cfg, cfg.get('launcher', 'none'))
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    destroy_process_group_at_exit()
    return runner
