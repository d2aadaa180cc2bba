"""Shared plumbing of ``tools/train.py`` and ``tools/test.py``: command line to config.

Everything here writes config keys that ``cfg.dump()`` shows; nothing adds hooks, loops or
wrappers behind the config's back. The safeguards (checkpoint hook, resumable loop,
reliability hooks, DDP wrapper) are written in ``configs/_base_/default_runtime.py`` and
the schedules, so mmaction2's own ``tools/train.py`` builds the same Runner
(tests/test_stock_tools.py).
"""
import argparse
import logging
import os.path as osp
from typing import List, Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

from mmsign.engine.distributed import destroy_process_group_at_exit, prepare_cpu_distributed
from mmsign.engine.resume import check_checkpoint, find_resume_checkpoint
from mmsign.utils.config import load_config

__all__ = [
    'DictAction', 'amp_dtype', 'apply_amp', 'apply_common_args', 'build_runner',
    'load_config', 'parse_cfg_options', 'resolve_checkpoint'
]

#: Optimiser wrappers ``--amp`` knows how to switch to mixed precision.
AMP_WRAPPERS = ('OptimWrapper', 'SignOptimWrapper', 'AmpOptimWrapper', 'SignAmpOptimWrapper')
#: Evaluation loops ``--amp`` switches to their autocast form.
AMP_LOOPS = {'ValLoop': 'AmpValLoop', 'TestLoop': 'AmpTestLoop'}


def parse_cfg_options(values: Optional[List[str]]) -> Optional[dict]:
    """``KEY=VALUE`` strings into the dict mmengine's ``DictAction`` makes of them.

    The tools collect ``--cfg-options`` as plain strings so that ``--help`` answers
    before mmengine is imported.

    Args:
        values (list[str], optional): The strings.

    Returns:
        dict | None: The options.
    """
    if not values:
        return None
    namespace = argparse.Namespace()
    DictAction(option_strings=['--cfg-options'], dest='cfg_options')(
        None, namespace, values)
    return namespace.cfg_options


def amp_dtype(choice: str) -> str:
    """Resolve ``--amp`` to an autocast dtype name for this machine.

    Args:
        choice (str): ``'auto'``, ``'bf16'`` or ``'fp16'``.

    Returns:
        str: ``'bfloat16'`` or ``'float16'``. ``'auto'`` is bf16 on the CPU and on GPUs
        that have it, else fp16.

    Raises:
        ValueError: fp16 without a GPU (CPU autocast supports bf16 only).
    """
    if choice not in ('auto', 'bf16', 'fp16'):
        raise ValueError(f'--amp {choice}: use bf16, fp16 or no value (auto)')
    if choice == 'auto':
        choice = 'bf16' if (not torch.cuda.is_available()
                            or torch.cuda.is_bf16_supported()) else 'fp16'
    if choice == 'fp16' and not torch.cuda.is_available():
        raise ValueError('--amp fp16 needs a CUDA GPU (autocast on the CPU supports bf16 '
                         'only): use --amp bf16')
    return {'bf16': 'bfloat16', 'fp16': 'float16'}[choice]


def apply_amp(cfg: Config, dtype: str) -> None:
    """Make training, validation and testing autocast to ``dtype``, in place.

    - ``optim_wrapper``: ``OptimWrapper`` / ``SignOptimWrapper`` become
      ``SignAmpOptimWrapper``; its ``dtype`` (GPUs) and, for bf16, ``cpu_dtype`` (the
      CPU) are set, so the chosen dtype applies wherever the run lands. mmengine's
      ``AmpOptimWrapper`` (GPU only) gets ``dtype``.
    - ``val_cfg`` / ``test_cfg``: ``ValLoop`` / ``TestLoop`` become ``AmpValLoop`` /
      ``AmpTestLoop``, whose ``dtype`` is set (mmengine's ``fp16=True`` would evaluate
      in fp16 whatever was chosen).

    Args:
        cfg (Config): The config; modified in place.
        dtype (str): ``'bfloat16'`` or ``'float16'`` (see :func:`amp_dtype`).

    Raises:
        ValueError: An optimiser wrapper or loop type ``--amp`` does not know.
    """
    wrapper = cfg.get('optim_wrapper')
    if cfg.get('train_cfg') is not None and wrapper is not None:
        kind = wrapper.get('type', 'OptimWrapper')
        if kind not in AMP_WRAPPERS:
            raise ValueError(f'--amp does not know optim_wrapper type {kind!r}: set its '
                             'dtype in the config instead')
        if kind == 'AmpOptimWrapper':
            wrapper.dtype = dtype
        else:
            wrapper.type = 'SignAmpOptimWrapper'
            wrapper.dtype = dtype
            wrapper.cpu_dtype = 'bfloat16' if dtype == 'bfloat16' else None
    for key in ('val_cfg', 'test_cfg'):
        loop = cfg.get(key)
        if loop is None:
            continue
        kind = loop.get('type', key[:-4].capitalize() + 'Loop')
        kind = AMP_LOOPS.get(kind, kind)
        if kind not in AMP_LOOPS.values():
            raise ValueError(f'--amp does not know {key} type {kind!r}: set its dtype in '
                             'the config instead')
        loop.type = kind
        loop.pop('fp16', None)
        loop.dtype = dtype


def apply_common_args(cfg: Config, args: argparse.Namespace, default_work_dir: str) -> None:
    """Apply ``--work-dir``, ``--amp`` and ``--launcher`` to ``cfg`` in place.

    The work dir is taken from the command line, then from the config, then
    ``default_work_dir`` (``work_dirs/<config name>`` like mmaction2).

    Args:
        cfg (Config): The config.
        args (argparse.Namespace): With ``work_dir``, ``launcher`` and optionally
            ``amp``.
        default_work_dir (str): The fallback work dir.
    """
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir
    cfg.launcher = args.launcher
    if getattr(args, 'amp', None):
        apply_amp(cfg, amp_dtype(args.amp))


def resolve_checkpoint(cfg: Config) -> None:
    """Check ``load_from`` and pick the checkpoint of ``resume``, before the Runner runs.

    ``resume`` without ``load_from`` (``--resume`` without a path) takes the newest
    complete checkpoint of the work dir (:func:`find_resume_checkpoint`: a truncated or
    corrupt one is skipped with a warning) and writes it into ``load_from``; with none
    at all it says so and training starts from scratch. A given ``load_from`` that is
    truncated or corrupt raises :class:`~mmsign.engine.resume.CheckpointError`.

    Args:
        cfg (Config): The config, with ``work_dir`` set; modified in place.
    """
    if cfg.get('resume') and not cfg.get('load_from'):
        found = find_resume_checkpoint(cfg.work_dir) if osp.isdir(cfg.work_dir) else None
        if found is not None:
            cfg.load_from = found
        else:
            print_log(f'--resume: no checkpoint in {cfg.work_dir}, starting from scratch',
                      logger='current', level=logging.WARNING)
    elif cfg.get('load_from'):
        check_checkpoint(cfg.load_from, 'resume' if cfg.get('resume') else 'load')


def build_runner(cfg: Config) -> Runner:
    """Build the Runner as mmaction2's tools do, after the checks of the command line.

    Checks the checkpoint to load or resume (:func:`resolve_checkpoint`), sets up
    distributed runs on machines without CUDA (gloo, written into ``env_cfg``) and
    builds ``Runner.from_cfg(cfg)``, or ``RUNNERS.build(cfg)`` with a ``runner_type``.

    Args:
        cfg (Config): The complete config.

    Returns:
        Runner: The runner.
    """
    from mmaction.registry import RUNNERS
    resolve_checkpoint(cfg)
    prepare_cpu_distributed(cfg, cfg.get('launcher', 'none'))
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    destroy_process_group_at_exit()
    return runner
