"""tools/train.py and tools/test.py speak plainly, tried through their command lines: a
known failure is one line and exit status 1 (``--debug`` / ``MMSIGN_DEBUG=1`` show the
traceback), ``--help`` answers before torch is imported, ``--resume`` with nothing to
resume says so, Ctrl-C names the checkpoint to resume from, and the config dump and hook
table stay in the log file unless ``--verbose``."""
import glob
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN = osp.join(REPO, 'tools', 'train.py')
TEST = osp.join(REPO, 'tools', 'test.py')
SYNTHETIC = osp.join(REPO, 'configs', 'adaptsign_synthetic.py')
GENERATOR = dict(num_train=4, num_dev=2, num_test=2)
# Subprocess time-outs only stop a hung run; a slow machine never reaches them.
HANG_GUARD_S = 1800


def env(**extra) -> dict:
    variables = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join(
        p for p in (REPO, os.environ.get('PYTHONPATH')) if p), **extra)
    if 'MMSIGN_DEBUG' not in extra:
        variables.pop('MMSIGN_DEBUG', None)
    return variables


def run(args, cwd, timeout=HANG_GUARD_S, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=str(cwd), env=env(**extra))


def small(data_root: str, epochs: int = 1) -> list:
    found = [f'train_cfg.max_epochs={epochs}', 'default_hooks.checkpoint.save_best=None']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        found += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
                  f'{loader}.batch_size=2', f'{loader}.dataset.data_root={data_root}']
        found += [f'{loader}.dataset.generator.{k}={v}' for k, v in GENERATOR.items()]
    return found


@pytest.mark.parametrize('tool', [TRAIN, TEST])
def test_help_answers_before_the_heavy_imports(tool, tmp_path):
    probe = ('import runpy, sys\n'
             f'sys.argv = [{tool!r}, "--help"]\n'
             'try:\n'
             f'    runpy.run_path({tool!r}, run_name="__main__")\n'
             'except SystemExit as e:\n'
             '    print("exit", e.code)\n'
             'print("heavy", sorted(m for m in ("torch", "mmengine", "mmsign") '
             'if m in sys.modules))\n')
    result = run(['-c', probe], tmp_path)
    assert 'usage: tools/' in result.stdout and '--debug' in result.stdout
    assert 'exit 0' in result.stdout and 'heavy []' in result.stdout, result.stdout


def assert_one_line_error(result, *fragments):
    text = result.stdout + result.stderr
    assert result.returncode == 1, text[-3000:]
    assert 'Traceback' not in text
    (line, ) = [line for line in result.stderr.splitlines() if ': error: ' in line]
    for fragment in fragments:
        assert fragment in line, line
    return line


def test_missing_config_is_one_line_and_debug_shows_the_traceback(tmp_path):
    missing = str(tmp_path / 'no_such_config.py')
    result = run([TRAIN, missing], tmp_path)
    assert_one_line_error(result, 'tools/train.py: error: ', 'config file not found',
                          missing, 'MMSIGN_DEBUG=1')
    for shown in (run([TRAIN, missing, '--debug'], tmp_path),
                  run([TEST, missing, 'x.pth'], tmp_path, MMSIGN_DEBUG='1')):
        assert shown.returncode != 0 and 'Traceback' in shown.stderr


def test_missing_checkpoint_and_unknown_arch(tmp_path):
    result = run([TEST, SYNTHETIC, str(tmp_path / 'gone.pth'), '--work-dir',
                  str(tmp_path / 'w')], tmp_path)
    assert_one_line_error(result, 'tools/test.py: error: CheckpointError: cannot load from',
                          'gone.pth: file not found')
    result = run([TRAIN, SYNTHETIC, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                  'model.backbone.arch=ViT-B-61'], tmp_path)
    line = assert_one_line_error(result, "open_clip has no model 'ViT-B-61'", "'ViT-B-16'")
    listed = line.split('its ViTs are [', 1)[1].split(']', 1)[0]
    assert listed.count("'ViT-") <= 5  # the close names, not all ~70 ViTs


def test_unreadable_sample_is_one_line(tmp_path):
    from mmengine.config import Config

    import mmsign  # noqa: F401
    from mmsign.datasets.synthetic import ensure_synthetic_dataset
    data_root = str(tmp_path / 'data')
    generator = dict(Config.fromfile(SYNTHETIC).train_dataloader.dataset.generator,
                     **GENERATOR)
    ensure_synthetic_dataset(data_root, **generator)
    frames = sorted(glob.glob(osp.join(data_root, '**', 'train', '**', '*.png'),
                              recursive=True))
    # Every frame of the first video: the temporal augmentation may skip any one frame.
    first_video = [f for f in frames if osp.dirname(f) == osp.dirname(frames[0])]
    for frame in first_video:
        with open(frame, 'wb') as f:
            f.write(b'not a png')
    result = run([TRAIN, SYNTHETIC, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                  *small(data_root), 'train_dataloader.sampler.shuffle=False'], tmp_path)
    # The error names the sample (its folder) whose frames cannot be decoded.
    sample = osp.basename(osp.dirname(osp.dirname(frames[0])))
    assert_one_line_error(result, 'SignLoadError', sample)


def default_sigint() -> None:
    """In the child before exec: SIGINT as a terminal delivers it to a foreground job."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def past_epoch_one(work_dir: str) -> bool:
    """Whether the run has written a checkpoint of epoch 2 or later."""
    found = [re.fullmatch(r'epoch_(\d+)\.pth', osp.basename(name))
             for name in glob.glob(osp.join(work_dir, 'epoch_*.pth'))]
    return any(m is not None and int(m.group(1)) >= 2 for m in found)


@pytest.mark.slow
def test_resume_from_nothing_ctrl_c_and_quiet_terminal(tmp_path):
    data_root, work_dir = str(tmp_path / 'data'), str(tmp_path / 'work')
    command = [TRAIN, SYNTHETIC, '--work-dir', work_dir, '--resume', '--cfg-options',
               *small(data_root, epochs=200)]
    # Output goes to files, not pipes: a pipe nobody reads can fill and stall the run.
    out_path, err_path = tmp_path / 'train.out', tmp_path / 'train.err'
    with open(out_path, 'w') as out_file, open(err_path, 'w') as err_file:
        # PYTHONFAULTHANDLER: a hung run, stopped with SIGABRT, prints where it hangs.
        # SIGINT back to its default in the child: a shell without job control starts
        # background jobs (CI's, for one) with SIGINT ignored, and Python then installs no
        # KeyboardInterrupt handler, so the run would train on through Ctrl-C.
        process = subprocess.Popen([sys.executable, *command], stdin=subprocess.DEVNULL,
                                   stdout=out_file, stderr=err_file, text=True,
                                   cwd=str(tmp_path), env=env(PYTHONFAULTHANDLER='1'),
                                   preexec_fn=default_sigint)
        try:
            # The bound is a hang guard for CI, far above any machine's real time.
            hang_guard = time.monotonic() + HANG_GUARD_S
            # max_keep_ckpts=1: epoch_2.pth lives for one epoch only; wait for any epoch >= 2.
            while not past_epoch_one(work_dir):
                assert process.poll() is None, err_path.read_text()[-3000:]
                if time.monotonic() > hang_guard:
                    process.send_signal(signal.SIGABRT)
                    process.wait(timeout=60)
                    pytest.fail('no checkpoint after epoch 1: the run hangs; where it hung:\n'
                                + err_path.read_text()[-6000:])
                time.sleep(0.5)
            process.send_signal(signal.SIGINT)
            process.wait(timeout=HANG_GUARD_S)
        finally:
            if process.poll() is None:
                process.kill()
    out, err = out_path.read_text(), err_path.read_text()
    text = out + err
    assert process.returncode == 130, text[-3000:]
    assert f'--resume: no checkpoint in {work_dir}, starting from scratch' in text
    assert 'Traceback' not in text and 'KeyboardInterrupt' not in text
    (line, ) = [line for line in err.splitlines() if line.startswith('tools/train.py: ')]
    assert 'interrupted; the last complete checkpoint is ' + work_dir in line
    named = line.split('the last complete checkpoint is ', 1)[1].split(':', 1)[0]
    assert osp.isfile(named) and osp.basename(named).startswith('epoch_')
    assert line.endswith('--resume') and f'--work-dir {work_dir}' in line
    # the config dump and hook table are in the log file only
    assert 'Config:' not in text and 'Hooks will be executed' not in text
    (log_file, ) = glob.glob(osp.join(work_dir, '*', '*.log'))
    with open(log_file) as f:
        logged = f.read()
    assert 'Config:' in logged and 'Hooks will be executed' in logged
    assert f'config dump, hook order and PyTorch build details: in {log_file}' in text
    # --verbose prints them on the terminal too
    shown = run([TEST, SYNTHETIC, named, '--work-dir', work_dir, '--verbose',
                 '--cfg-options', *small(data_root)], tmp_path)
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert 'Config:' in shown.stdout and 'Hooks will be executed' in shown.stdout
