"""tools/analysis/score_wer.py: JSON output, sclite cross-check, errors."""
import importlib.util
import json
import os.path as osp
import subprocess
import sys

import pytest
from sclite_oracle import official_pipeline, requires_sclite

from mmsign.evaluation import read_stm, write_ctm

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load_cli():
    path = osp.join(REPO_ROOT, 'tools', 'analysis', 'score_wer.py')
    spec = importlib.util.spec_from_file_location('score_wer', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


score_wer = _load_cli()


@pytest.fixture
def phoenix_dev_files(release_data, tmp_path):
    """PHOENIX14 dev reference and a CTM with raw glosses, errors and a missing sample."""
    ref = osp.join(release_data, 'phoenix2014', 'phoenix2014-groundtruth-dev.stm')
    references = read_stm(ref)
    hypotheses = {}
    for k, (sample_id, words) in enumerate(references.items()):
        if k % 50 == 7:
            continue
        hyp = list(words)
        if k % 3 == 0:
            hyp[0] = 'loc-' + hyp[0]
        if k % 4 == 1:
            hyp = hyp[1:] + ['__EPENTHESIS__', 'REGEN']
        if k % 5 == 2:
            hyp[-1] = hyp[-1].lower() + '-PLUSPLUS'
        hypotheses[sample_id] = hyp
    ctm = str(tmp_path / 'hyp.ctm')
    write_ctm(ctm, hypotheses)
    return ref, ctm


def _json_run(capsys, argv):
    status = score_wer.main(argv)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    return status, json.loads(out[0])


@requires_sclite
def test_json_counts_equal_the_official_pipeline(phoenix_dev_files, capsys, tmp_path):
    ref, ctm = phoenix_dev_files
    status, result = _json_run(capsys, ['--ref', ref, '--hyp', ctm, '--normalize',
                                        'phoenix2014', '--json'])
    oracle = official_pipeline(ref, ctm, str(tmp_path), phoenix=True)
    assert status == 0
    assert (result['sub'], result['del'], result['ins'], result['ref_words']) == (
        oracle.sub, oracle.dele, oracle.ins, oracle.ref_words)
    errors = oracle.sub + oracle.dele + oracle.ins
    assert result['wer'] == 100 * errors / oracle.ref_words  # unrounded
    assert result['samples_without_hypothesis'] == 11
    assert result['wer'] > 5


@requires_sclite
def test_sclite_cross_check_reports_both(phoenix_dev_files, capsys, tmp_path):
    ref, ctm = phoenix_dev_files
    report = tmp_path / 'out' / 'report.md'
    status, result = _json_run(capsys, ['--ref', ref, '--hyp', ctm, '--normalize',
                                        'phoenix2014', '--json', '--sclite', '--report',
                                        str(report)])
    assert status == 0 and result['sclite_match'] is True
    assert result['sclite']['errors'] == result['errors'] > 0
    aligned = (tmp_path / 'out' / 'aligned.txt').read_text(encoding='utf-8')
    assert aligned.count('\nid: ') == result['samples']

    status = score_wer.main(['--ref', ref, '--hyp', ctm, '--sclite'])
    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    assert lines[0].startswith('mmsign: WER ') and lines[1].endswith('same counts')


def test_without_normalisation_raw_glosses_count_as_errors(phoenix_dev_files, capsys):
    ref, ctm = phoenix_dev_files
    _, raw = _json_run(capsys, ['--ref', ref, '--hyp', ctm, '--json'])
    _, normalised = _json_run(capsys, ['--ref', ref, '--hyp', ctm, '--json', '--normalize',
                                       'phoenix2014'])
    assert raw['normalize'] == 'none'
    assert raw['errors'] > normalised['errors']
    assert raw['ref_words'] == normalised['ref_words']


def test_malformed_ctm_is_reported_with_file_and_line(phoenix_dev_files, tmp_path, capsys):
    ref, _ = phoenix_dev_files
    bad = tmp_path / 'bad.ctm'
    bad.write_text('x 1 0.00 0.01 A\nx 1 0.01 A\n', encoding='utf-8')
    assert score_wer.main(['--ref', ref, '--hyp', str(bad)]) == 2
    assert f'{bad}:2: a CTM line needs 5 or 6 fields' in capsys.readouterr().err


def test_missing_sclite_is_a_clear_error(phoenix_dev_files, capsys):
    ref, ctm = phoenix_dev_files
    assert score_wer.main(['--ref', ref, '--hyp', ctm, '--sclite', '/nonexistent/sclite']) == 2
    assert 'apt-get install sctk' in capsys.readouterr().err


def test_parse_sclite_dtl():
    text = ('Percent Total Error       =   77.8%   (   7)\n'
            'Percent Substitution      =   44.4%   (   4)\n'
            'Percent Deletions         =   33.3%   (   3)\n'
            'Percent Insertions        =    0.0%   (   0)\n'
            'Ref. words                =           (   9)\n')
    counts = score_wer.parse_sclite_dtl(text)
    assert (counts.substitutions, counts.deletions, counts.insertions, counts.ref_words) == (
        4, 3, 0, 9)


def test_a_fresh_process_scores_without_torch_or_mmengine(phoenix_dev_files):
    # The command's start-up is the point: scoring is pure Python (docs/benchmarks.md).
    ref, ctm = phoenix_dev_files
    script = osp.join(REPO_ROOT, 'tools', 'analysis', 'score_wer.py')
    probe = ('import runpy, sys\n'
             f'sys.argv = [{script!r}, "--ref", {ref!r}, "--hyp", {ctm!r}, "--json"]\n'
             'try:\n'
             f'    runpy.run_path({script!r}, run_name="__main__")\n'
             'except SystemExit as done:\n'
             '    assert done.code == 0, done.code\n'
             'heavy = sorted(m for m in ("torch", "mmengine", "mmaction", "numpy", "mmsign")\n'
             '               if m in sys.modules)\n'
             'print("HEAVY", heavy)\n')
    done = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                          cwd=str(osp.dirname(ref)), timeout=1800)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert json.loads(lines[0])['ref_words'] > 0
    assert lines[-1] == 'HEAVY []'
