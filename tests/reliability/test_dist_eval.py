"""tools/dist_test.sh with 2 CPU processes scores exactly what one process scores, on a
test set of 5 videos (mmengine's sampler pads it to 6: one video runs twice)."""
import os.path as osp
import re

import pytest
from reliability_helpers import REPO, TEST, free_port, log_of, run_tool, write_config

from mmsign.evaluation.sclite_io import read_ctm, read_stm

pytestmark = pytest.mark.slow

COUNTS = ('wer/seq', 'wer/seq_sub_count', 'wer/seq_del_count', 'wer/seq_ins_count',
          'wer/seq_ref_words', 'wer/conv', 'wer/conv_sub_count', 'wer/conv_del_count',
          'wer/conv_ins_count', 'wer/conv_ref_words')


def logged_metrics(log: str) -> dict:
    (line, ) = [line for line in log.splitlines() if 'Epoch(test)' in line and 'wer/seq' in line]
    return {key: float(value) for key, value in re.findall(r'(wer/\w+): ([-\d.]+)', line)}


def test_two_processes_give_the_single_process_wer(baseline, data_root, tmp_path):
    config = write_config(str(tmp_path / 'config.py'), data_root)
    checkpoint = osp.join(baseline, 'epoch_3.pth')
    single = run_tool([TEST, config, checkpoint, '--work-dir', str(tmp_path / 'single'),
                       '--show-dir', str(tmp_path / 'single_wer')], cwd=str(tmp_path))
    assert single.returncode == 0, log_of(single)[-4000:]
    double = run_tool([osp.join(REPO, 'tools', 'dist_test.sh'), config, checkpoint, '2',
                       '--work-dir', str(tmp_path / 'double'),
                       '--show-dir', str(tmp_path / 'double_wer')],
                      cwd=str(tmp_path), env={'PORT': free_port()})
    log = log_of(double)
    assert double.returncode == 0, log[-4000:]
    assert 'Distributed launcher: pytorch' in log and 'GPU number: 2' in log
    expected, got = logged_metrics(log_of(single)), logged_metrics(log)
    assert {k: got[k] for k in COUNTS} == {k: expected[k] for k in COUNTS}
    assert expected['wer/seq_ref_words'] > 0
    # Every test video scored exactly once, with the same hypothesis.
    references = read_stm(str(tmp_path / 'double_wer' / 'ref.stm'))
    assert references == read_stm(str(tmp_path / 'single_wer' / 'ref.stm'))
    assert len(references) == 5
    assert expected['wer/seq_ref_words'] == sum(map(len, references.values()))
    for branch in ('seq', 'conv'):
        assert (read_ctm(str(tmp_path / 'double_wer' / f'hyp_{branch}.ctm'))
                == read_ctm(str(tmp_path / 'single_wer' / f'hyp_{branch}.ctm')))
    assert 'predicted more than once with different glosses' not in log
