"""The launch scripts (tools/dist_*.sh, tools/slurm_*.sh) run without an activated
environment: the project's .venv when it exists, else ``python3``, and they say which."""
import os
import os.path as osp
import shutil
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HANG_GUARD_S = 600


def test_dist_test_runs_with_no_python_on_path(tmp_path):
    # A PATH like a fresh shell after `make quickstart`: bash and coreutils, a python3
    # (this interpreter), and no `python`.
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for tool in ('bash', 'dirname'):
        os.symlink(shutil.which(tool), bin_dir / tool)
    os.symlink(sys.executable, bin_dir / 'python3')
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHON', 'MMSIGN_DEBUG')}
    env.update(PATH=str(bin_dir), OMP_NUM_THREADS='1')
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_test.sh'), 'missing_config.py',
         'missing.pth', '1'], capture_output=True, text=True, cwd=str(tmp_path), env=env,
        timeout=HANG_GUARD_S)
    venv_python = osp.join(REPO, '.venv', 'bin', 'python')
    expected = venv_python if osp.exists(venv_python) else 'python3'
    assert f'dist_test.sh: using {expected}\n' in result.stderr
    assert 'command not found' not in result.stderr
    # tools/test.py ran and refused the missing config.
    assert 'config file not found: missing_config.py' in result.stderr
    assert result.returncode != 0
