"""Multi-process training through tools/dist_train.sh: torchrun, gloo, the real recognizer."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
from reliability.reliability_helpers import free_port

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# A few iterations of the real synthetic recipe on a small generated set.
SMALL = [
    'train_cfg.max_epochs=1',
    'train_dataloader.dataset.data_root={root}', 'val_dataloader.dataset.data_root={root}',
    'train_dataloader.dataset.generator.num_train=12',
    'train_dataloader.dataset.generator.num_dev=5',
    'train_dataloader.dataset.generator.num_test=5',
    'val_dataloader.dataset.generator.num_train=12',
    'val_dataloader.dataset.generator.num_dev=5',
    'val_dataloader.dataset.generator.num_test=5',
    'train_dataloader.batch_size=2', 'val_dataloader.batch_size=2',
    'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False', 'val_dataloader.persistent_workers=False',
    'default_hooks.logger.interval=1',
]


@pytest.mark.slow
def test_dist_train_two_cpu_processes(tmp_path):
    root = str(tmp_path / 'synthetic')
    work_dir = str(tmp_path / 'work')
    options = [o.format(root=root) for o in SMALL]
    env = dict(os.environ, PYTHON=sys.executable, PORT=free_port(), OMP_NUM_THREADS='1')
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_train.sh'),
         osp.join(REPO, 'configs', 'adaptsign_synthetic.py'), '2', '--work-dir', work_dir,
         '--cfg-options', *options],
        capture_output=True, text=True, timeout=1800, env=env, cwd=str(tmp_path))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    # Two ranks, DDP over gloo, 12 videos / (2 ranks x 2 per batch) = 3 iterations.
    assert 'Distributed launcher: pytorch' in log and 'GPU number: 2' in log
    # the config dump is in the log file (not on the terminal)
    run_log = ''.join(open(path).read() for path in glob.glob(osp.join(work_dir, '*', '*.log')))
    assert "model_wrapper_cfg = dict(type='DeviceAwareDistributedDataParallel')" in run_log
    assert 'Epoch(train) [1][3/3]' in log
    assert 'wer/seq' in log
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
