"""A stopped rank: the other ranks fail with one clear line within the gloo group's
``env_cfg.dist_cfg.timeout`` instead of waiting forever."""
import os.path as osp
import re
import time

import pytest
from reliability_helpers import REPO, free_port, log_of, run_tool, write_config

pytestmark = pytest.mark.slow

TIMEOUT = 15


def test_a_stopped_rank_makes_the_others_fail_within_the_timeout(data_root, tmp_path):
    config = write_config(str(tmp_path / 'config.py'), data_root, extra=(
        f"env_cfg = dict(dist_cfg=dict(backend='gloo', timeout={TIMEOUT}))"))
    start = time.monotonic()
    # torchrun ends the stopped rank (SIGTERM, then SIGKILL) once rank 0 has failed
    result = run_tool([osp.join(REPO, 'tools', 'dist_train.sh'), config, '2', '--work-dir',
                       str(tmp_path / 'work')], cwd=str(tmp_path), fault='stop_at_iter=2,rank=1',
                      env={'PORT': free_port()}, timeout=900)
    elapsed = time.monotonic() - start
    log = log_of(result)
    assert result.returncode != 0, log[-3000:]
    line = re.search(r'tools/train.py: error: RankTimeoutError: rank 0 of 2: another rank did '
                     rf'not answer .* within env_cfg.dist_cfg.timeout \({TIMEOUT} s\)', log)
    assert line, log[-4000:]
    assert elapsed < 600, elapsed  # a hang guard: without the timeout it waits 30 min
