"""Running tools/train.py and tools/test.py on a tiny synthetic set, with injected faults."""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys
from typing import Dict, List, Optional

import torch

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
SYNTHETIC = osp.join(REPO, 'configs', 'adaptsign_synthetic.py')
TRAIN = osp.join(REPO, 'tools', 'train.py')
TEST = osp.join(REPO, 'tools', 'test.py')

#: Every test run uses these generator options, so the data is generated once per root.
GENERATOR = dict(num_train=8, num_dev=5, num_test=5)


def generator_options() -> dict:
    """The synthetic recipe's generator options with :data:`GENERATOR`'s sizes."""
    from mmengine.config import Config
    return dict(Config.fromfile(SYNTHETIC).train_dataloader.dataset.generator, **GENERATOR)


def recipe_workers() -> str:
    """The shipped synthetic recipe's training worker settings (``persistent_workers``)."""
    from mmengine.config import Config
    loader = Config.fromfile(SYNTHETIC).train_dataloader
    return (f'num_workers={loader.num_workers}, '
            f'persistent_workers={loader.persistent_workers}')


def write_config(path: str, data_root: str, max_epochs: int = 3, checkpoint: str = '',
                 dataset: str = '', extra: str = '', workers: str = '') -> str:
    """A config: the synthetic recipe, 4 batches of 2 videos per epoch, 5 dev/test videos.

    Args:
        path (str): Where to write it.
        data_root (str): Folder of the generated data.
        max_epochs (int): Epochs.
        checkpoint (str): Extra ``CheckpointHook`` arguments, e.g. ``'max_keep_ckpts=2'``.
        dataset (str): Extra dataset arguments of every split, e.g. ``"on_error='skip'"``.
        extra (str): More config lines.
        workers (str): The training loader's worker settings (e.g. :func:`recipe_workers`);
            default: none, data loaded in the main process.

    Returns:
        str: ``path``.
    """
    main_process = 'num_workers=0, persistent_workers=False'

    def loader(settings: str) -> str:
        return (f'dict(batch_size=2, {settings}, dataset=dict(data_root={data_root!r}, '
                f'generator={GENERATOR!r}, {dataset}))')
    text = f"""
_base_ = [{SYNTHETIC!r}]
custom_imports = dict(imports=['mmsign', 'mmsign_test_faults'], allow_failed_imports=False)
custom_hooks = [dict(type='TrainRandomStateHook'), dict(type='BadSampleReportHook'),
                dict(type='CheckpointCompatibilityHook'), dict(type='NonFiniteStepHook'),
                dict(type='FaultInjectionHook')]
train_dataloader = {loader(workers or main_process)}
val_dataloader = {loader(main_process)}
test_dataloader = {loader(main_process)}
train_cfg = dict(max_epochs={max_epochs})
default_hooks = dict(logger=dict(interval=1), checkpoint=dict({checkpoint}))
{extra}
"""
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return path


def free_port() -> str:
    """A TCP port nobody listens on now, for torchrun's rendezvous."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def run_tool(args: List[str], cwd: str, fault: Optional[str] = None, timeout: int = 1800,
             env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """Run a tool (``tools/*.py`` or ``tools/*.sh``) with the fault plugin importable.

    Args:
        args (list[str]): The script and its arguments.
        cwd (str): Working directory.
        fault (str, optional): ``MMSIGN_FAULT`` of the run.
        timeout (int): Seconds.
        env (dict, optional): More environment variables (e.g. ``PORT``).

    Returns:
        subprocess.CompletedProcess: With ``stdout`` and ``stderr`` as text.
    """
    variables = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable,
                     PYTHONPATH=os.pathsep.join(
                         p for p in (HERE, REPO, os.environ.get('PYTHONPATH')) if p),
                     **(env or {}))
    variables.pop('MMSIGN_FAULT', None)
    if fault:
        variables['MMSIGN_FAULT'] = fault
    command = (['bash'] if args[0].endswith('.sh') else [sys.executable]) + args
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=variables, cwd=cwd)


def train(config: str, work_dir: str, *extra: str, fault: Optional[str] = None,
          timeout: int = 1800) -> subprocess.CompletedProcess:
    """``tools/train.py CONFIG --work-dir W --seed 0 --deterministic [extra]``."""
    return run_tool([TRAIN, config, '--work-dir', work_dir, '--seed', '0', '--deterministic',
                     *extra], cwd=osp.dirname(work_dir), fault=fault, timeout=timeout)


def log_of(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def log_files(work_dir: str) -> str:
    """The run log files of a work dir (the config dump and hook table are only there)."""
    text = ''
    for path in sorted(glob.glob(osp.join(work_dir, '*', '*.log'))):
        with open(path, encoding='utf-8', errors='replace') as f:
            text += f.read()
    return text


def losses(work_dir: str, rank: int = 0) -> Dict[int, dict]:
    """Iteration -> ``loss``, ``sample_ids``, ``skipped_step`` of a run (all its starts)."""
    with open(osp.join(work_dir, f'losses_rank{rank}.json')) as f:
        return {int(k): v for k, v in json.load(f).items()}


def val_metrics(work_dir: str) -> List[dict]:
    """The validation results of a work dir, all runs in it, in order."""
    found = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            found += [row for row in map(json.loads, f) if 'wer/seq' in row]
    return found


def state_dict(path: str) -> Dict[str, torch.Tensor]:
    import mmsign  # noqa: F401  (allowlists mmengine's checkpoint classes)
    return torch.load(path, map_location='cpu')['state_dict']
