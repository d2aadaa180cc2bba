"""The quick-start recipe really learns: a short run on a smaller generated set."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'adaptsign_synthetic.py')
EPOCHS = 14  # 30 iterations each: the CTC head needs ~150-250 steps to leave all-blank


def small_set_options(root: str, epochs: int) -> list:
    generator = dict(num_glosses=4, num_train=120, num_dev=12, num_test=4, max_glosses=3)
    # A smaller set gives fewer steps: a higher learning rate makes up for them.
    options = [f'train_cfg.max_epochs={epochs}', 'train_dataloader.batch_size=4',
               'optim_wrapper.optimizer.lr=0.003',
               'param_scheduler.0.end=' + str(epochs), 'default_hooks.logger.interval=5']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={root}', f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
        options += [f'{loader}.dataset.generator.{k}={v}' for k, v in generator.items()]
    return options


@pytest.mark.slow
def test_synthetic_recipe_learns(tmp_path):
    work_dir = str(tmp_path / 'work')
    command = [sys.executable, osp.join(REPO, 'tools', 'train.py'), CONFIG, '--work-dir',
               work_dir, '--seed', '0', '--cfg-options',
               *small_set_options(str(tmp_path / 'data'), epochs=EPOCHS)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=3600, cwd=REPO,
                            env=dict(os.environ, OMP_NUM_THREADS='2'))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert 'Generating the synthetic sign language dataset' in log
    wers = [float(w) for w in re.findall(r'Epoch\(val\) \[\d+\]\[\d+/\d+\]\s+wer/seq: ([\d.]+)',
                                         log)]
    assert len(wers) == EPOCHS, log[-4000:]
    # Untrained CTC models emit (almost) only blanks: WER starts near 100 %.
    assert wers[0] > 80
    assert min(wers[-2:]) < 0.5 * wers[0], wers
