"""A checkpoint that cannot be written (full disk, read-only folder, file-size limit): one
line naming the folder, the checkpoints before it intact, no ``.part`` file left."""
import os
import os.path as osp
import re

import pytest
from reliability_helpers import log_of, train, write_config

from mmsign.engine.resume import checkpoint_problem

pytestmark = pytest.mark.slow


def test_a_failed_save_says_where_and_keeps_the_previous_checkpoint(data_root, tmp_path):
    # The recipe keeps one checkpoint: epoch_1.pth must survive the failed epoch_2.pth.
    # After epoch 1 no file can grow past 300 kB (a checkpoint has about 2 MB, the logs
    # stay below): writing epoch_2.pth fails with EFBIG as it would with ENOSPC.
    config = write_config(str(tmp_path / 'config.py'), data_root)
    work_dir = str(tmp_path / 'work')
    failed = train(config, work_dir, fault='fsize_after_epoch=1,fsize=300000')
    log = log_of(failed)
    assert failed.returncode == 1, log[-3000:]
    # the first save after epoch 1 is the best checkpoint of epoch 1's validation
    assert re.search(rf'error: CheckpointError: cannot write (best_wer_seq_epoch_1|epoch_2).pth '
                     rf'into {re.escape(work_dir)}: File too large', log), log[-3000:]
    assert 'Traceback' not in log
    files = os.listdir(work_dir)
    assert not any(name.endswith('.part') for name in files), files
    assert 'epoch_1.pth' in files and 'epoch_2.pth' not in files
    assert not any(name.startswith('best_') for name in files)
    assert checkpoint_problem(osp.join(work_dir, 'epoch_1.pth')) is None
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert osp.basename(f.read().strip()) == 'epoch_1.pth'
