"""Shared plumbing of ``tools/train.py`` and ``tools/test.py``."""
import argparse
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmsign.engine.distributed import prepare_cpu_distributed

__all__ = ['DictAction', 'amp_dtype', 'apply_common_args', 'build_runner', 'load_config']


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


def build_runner(cfg: Config) -> Runner:
    """Build the Runner (or the config's ``runner_type``); CPU-safe distributed set-up."""
    prepare_cpu_distributed(cfg, cfg.get('launcher', 'none'))
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
