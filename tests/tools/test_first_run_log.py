"""The terminal of a first training run: no PyTorch build dump (it stays in the log file),
no deprecation notices of mmengine's file client, no "untrained or unloaded model" warning
while CTC still predicts only blank in its first epoch, no line twice; it ends with what to
try next."""
import logging
import os
import os.path as osp
import subprocess
import sys
from collections import Counter

from mmengine.logging import MessageHub, MMLogger

from mmsign.evaluation import WERMetric

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'adaptsign_synthetic.py')
GENERATOR = dict(num_train=4, num_dev=2, num_test=2)
HANG_GUARD_S = 1800


def test_first_epoch_terminal_is_quiet_and_the_log_file_complete(tmp_path):
    options = ['train_cfg.max_epochs=1', 'default_hooks.checkpoint.save_best=None']
    for loader in ('train_dataloader', 'val_dataloader'):
        options += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
                    f'{loader}.batch_size=2', f'{loader}.dataset.data_root={tmp_path / "d"}']
        options += [f'{loader}.dataset.generator.{k}={v}' for k, v in GENERATOR.items()]
    work_dir = tmp_path / 'work'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join(
        p for p in (REPO, os.environ.get('PYTHONPATH')) if p))
    env.pop('MMSIGN_DEBUG', None)
    done = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'train.py'), CONFIG,
                           '--work-dir', str(work_dir), '--cfg-options', *options],
                          capture_output=True, text=True, cwd=str(tmp_path), env=env,
                          timeout=HANG_GUARD_S)
    terminal = done.stdout + done.stderr
    assert done.returncode == 0, terminal[-3000:]
    (log_file, ) = work_dir.glob('*/*.log')
    logged = log_file.read_text()

    for noise in ('PyTorch compiling details', 'Build settings:', '"FileClient" will be',
                  '"HardDiskBackend" is the alias'):
        assert noise not in terminal, noise
    assert 'PyTorch compiling details' in logged and 'Build settings:' in logged
    assert 'System environment:' in terminal and 'PyTorch: ' in terminal  # the summary
    assert 'untrained or unloaded' not in terminal + logged
    messages = [line.split(' - ', 2)[-1] for line in terminal.splitlines()
                if line.strip('- ')]  # (the environment report's dash lines aside)
    repeated = [m for m, n in Counter(messages).items() if n > 1]
    assert not repeated, repeated
    # It ends with what to try next, with this run's real paths.
    next_steps = done.stdout.split('Next:\n', 1)[1].splitlines()
    test_command = next_steps[0].split(': ', 1)[1].split()
    assert test_command[1:3] == ['tools/test.py', CONFIG]
    assert osp.isfile(osp.join(str(tmp_path), test_command[3]))  # the checkpoint
    video = next_steps[1].split('recognize.py ', 1)[1].split()[2]
    assert osp.isdir(osp.join(str(tmp_path), video)) and '--plot' in next_steps[1]
    assert 'plot_curves.py' in next_steps[2]


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def evaluate_blank_model(hub: MessageHub) -> list:
    """The log records of WERMetric on a model that predicts no gloss, in ``hub``'s state."""
    samples = [dict(sample_id='u1', gt_gloss_text=['NORD', 'REGEN'], pred_glosses=[],
                    pred_glosses_conv=[]),
               dict(sample_id='u2', gt_gloss_text=['SONNE'], pred_glosses=[],
                    pred_glosses_conv=[])]
    metric = WERMetric(normalize='none')
    metric.process(None, samples)
    handler = Records()
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        metrics = metric.evaluate(2)
    finally:
        logger.removeHandler(handler)
    assert metrics['wer/seq'] == 100.0
    return [(r.levelno, r.getMessage()) for r in handler.records]


def test_blank_predictions_are_normal_while_training_and_suspect_after():
    # As mmengine's RuntimeInfoHook records it: validation inside a training run.
    hub = MessageHub.get_instance('wer_metric_in_training')
    hub.update_info('max_iters', 100)
    hub.update_info('loop_stage', 'val')
    try:
        records = evaluate_blank_model(hub)
    finally:
        hub.pop_info('loop_stage')
        hub.pop_info('max_iters')
    assert not [m for level, m in records if level >= logging.WARNING], records
    assert [m for _, m in records if 'no gloss predicted yet' in m] == [
        'WERMetric: no gloss predicted yet (seq, conv branch): the model outputs only '
        'blank, as CTC training does in its first epochs']
    # Testing a checkpoint (no training): the warning, once per branch.
    hub.update_info('loop_stage', 'test')
    try:
        records = evaluate_blank_model(hub)
    finally:
        hub.pop_info('loop_stage')
    warned = [m for level, m in records if level == logging.WARNING]
    assert len(warned) == 2 and all('untrained or unloaded' in m for m in warned)
