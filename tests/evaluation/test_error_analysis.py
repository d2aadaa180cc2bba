"""Error analysis: aligned.txt against sclite's own pra output, report counts against
sclite's, the diagnosis of meaningless 100 % WERs, the score_wer.py report options."""
import importlib.util
import json
import os.path as osp
import re
import subprocess
from collections import Counter
from unittest import mock

import pytest
from sclite_oracle import SCLITE, requires_sclite

from mmsign.evaluation import WERMetric, read_stm, score_corpus, write_ctm
from mmsign.evaluation.error_analysis import (
    analysis_to_json,
    analyze,
    diagnose,
    format_pra,
    length_bucket,
    read_stm_speakers,
)
from mmsign.evaluation.error_report import format_markdown_report

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _write_stm(path, references, speakers):
    with open(path, 'w', encoding='utf-8') as f:
        for sample_id, words in references.items():
            f.write(f'{sample_id} 1 {speakers[sample_id]} 0.0 1.79769e+308 '
                    f'{" ".join(words)}\n')


def _sclite_pra(ref_stm, score, work_dir):
    """sclite -o pra on the hypotheses exactly as mmsign scored them (in ``hyp.ctm``)."""
    ctm = 'hyp.ctm'
    with open(osp.join(work_dir, ctm), 'w', encoding='utf-8') as f:
        for sample in score.samples:
            f.writelines(f'{sample.sample_id} 1 {i / 100:.2f} 0.01 {w}\n'
                         for i, w in enumerate(sample.hyp))
    subprocess.run([SCLITE, '-h', ctm, 'ctm', '-r', ref_stm, 'stm', '-f', '0', '-o', 'pra',
                    '-O', '.'], check=True, capture_output=True, cwd=work_dir)
    with open(osp.join(work_dir, ctm + '.pra'), encoding='utf-8') as f:
        return f.read()


# Case folding, non-ASCII widths (sclite pads in bytes), [EMPTY], leading and trailing
# insertions and deletions, a correct word written in two cases.
TRICKY_REFS = {
    'a1': ['__ON__', 'ABC', 'LONGWORD', 'Q'],
    'a2': ['ÄPFEL', 'über', 'MIXed', 'X'],
    'b1': ['HELLO', 'WORLD'],
    'b2': ['X', 'Y'],
    'c1': ['ÄÖ', 'x', 'loc-Z'],
}
TRICKY_HYPS = {
    'a1': ['ABCDEFGHIJ', 'LONG', 'Q', 'R'],
    'a2': ['äpfel', 'über', 'mixed', 'x', 'zz'],
    'b1': ['hello', 'WORD'],
    'c1': ['NEU', 'ÄÖ', 'Y', 'loc-Z'],
}
TRICKY_SPEAKERS = {'a1': 'Signer02', 'a2': 'Signer02', 'b1': 'signer01', 'b2': 'signer01',
                   'c1': 'Signer10'}


@requires_sclite
def test_aligned_txt_is_sclites_pra_output(tmp_path):
    stm = str(tmp_path / 'ref.stm')
    _write_stm(stm, TRICKY_REFS, TRICKY_SPEAKERS)
    score = score_corpus(read_stm(stm), TRICKY_HYPS)
    assert format_pra(score, read_stm_speakers(stm)) == _sclite_pra(stm, score,
                                                                   str(tmp_path))


def _pra_blocks(text):
    """Per-file blocks of a pra file (File line to Eval line), by file id."""
    return {m.group(1): m.group(0) for m in
            re.finditer(r'^File: (\S+)\n.*?^Eval:[^\n]*$', text, re.M | re.S)}


def _simulated_phoenix(release_data):
    """PHOENIX14 dev references and hypotheses with every kind of error."""
    ref = osp.join(release_data, 'phoenix2014', 'phoenix2014-groundtruth-dev.stm')
    references = read_stm(ref)
    vocabulary = sorted({w for words in references.values() for w in words})
    hypotheses = {}
    for k, (sample_id, words) in enumerate(references.items()):
        hyp = list(words)
        if k % 3 == 0:
            hyp[k % len(hyp)] = vocabulary[k % len(vocabulary)]
        if k % 4 == 1:
            del hyp[len(hyp) // 2]
        if k % 5 == 2:
            hyp.insert(1, vocabulary[(7 * k) % len(vocabulary)])
        if k % 11 == 4:
            hyp = []
        hypotheses[sample_id] = hyp
    return ref, references, hypotheses


@requires_sclite
def test_phoenix_alignments_and_report_counts_equal_sclites(release_data, tmp_path):
    ref, references, hypotheses = _simulated_phoenix(release_data)
    score = score_corpus(references, hypotheses)
    speakers = read_stm_speakers(ref)
    theirs = _sclite_pra(ref, score, str(tmp_path))
    mine = format_pra(score, speakers)
    assert len(_pra_blocks(theirs)) == len(references) > 500
    assert _pra_blocks(mine) == _pra_blocks(theirs)
    # the speaker list and per-speaker headers too
    header = re.compile(r'^(Speakers: |\s+\d+:  \S+|Speaker sentences.*)$', re.M)
    assert header.findall(mine) == header.findall(theirs)

    # Every count of the report, recounted from sclite's own alignment columns.
    subs, dels, ins, per_speaker, wrong = Counter(), Counter(), Counter(), Counter(), 0
    for block in _pra_blocks(theirs).values():
        lines = block.splitlines()
        file_id = lines[0].split()[1]
        c, s, d, i = map(int, lines[2].split()[-4:])
        refs, hyps = lines[3].split()[1:], lines[4].split()[1:]
        speaker = next(v for k, v in speakers.items() if k.lower() == file_id)
        per_speaker[speaker, 'errors'] += s + d + i
        per_speaker[speaker, 'ref'] += c + s + d
        wrong += (s + d + i) > 0
        for r, h in zip(refs, hyps):
            if set(r) == {'*'}:
                ins[h.lower()] += 1
            elif set(h) == {'*'}:
                dels[r.lower()] += 1
            elif r != h:
                subs[r.lower(), h.lower()] += 1
    analysis = analyze(score, speakers)
    report = analysis_to_json(analysis, top=10 ** 6)
    assert analysis.ser == pytest.approx(100 * wrong / len(references))
    assert Counter({(r.lower(), h.lower()): n
                    for (r, h), n in analysis.substitutions.items()}) == subs
    assert Counter({r.lower(): n for r, n in analysis.deletions.items()}) == dels
    assert Counter({h.lower(): n for h, n in analysis.insertions.items()}) == ins
    assert sum(e['errors'] for e in report['glosses'].values()) == score.totals.errors
    for speaker, group in report['by_signer'].items():
        assert (group['sub'] + group['del'] + group['ins'], group['ref_words']) == (
            per_speaker[speaker, 'errors'], per_speaker[speaker, 'ref'])
    assert sum(g['sentences'] for g in report['by_length'].values()) == len(references)


def test_analysis_of_a_small_set():
    references = {'u1': ['A', 'B', 'C'], 'u2': ['A', 'B'], 'u3': ['C'] * 7}
    hypotheses = {'u1': ['A', 'X', 'C', 'D'], 'u2': ['A', 'B'], 'u3': ['C'] * 6}
    analysis = analyze(score_corpus(references, hypotheses), {'u1': 'S1', 'u2': 'S1'})
    assert (analysis.sentences, analysis.sentence_errors) == (3, 2)
    assert analysis.substitutions == {('B', 'X'): 1}
    assert analysis.insertions == {'D': 1} and analysis.deletions == {'C': 1}
    c = analysis.glosses['C']
    assert (c.ref, c.correct, c.deleted, c.errors) == (8, 7, 1, 1)
    assert analysis.glosses['X'].substituted_for == 1
    assert list(analysis.by_signer) == ['S1', 'unknown']
    assert analysis.by_signer['S1'][1].errors == 2
    assert list(analysis.by_length) == ['2', '3', '7']  # every length: none over 12
    assert [length_bucket(n, 5) for n in (1, 5, 6, 21)] == ['1-5', '1-5', '6-10', '21-25']
    text = format_markdown_report(analysis, 'small', top=5)
    assert '| B -> X | 1 |' in text
    assert '| 25.00 | 66.67 | 1 | 1 | 1 | 12 | 3 |' in text  # WER 3 / 12, SER 2 / 3


def test_diagnosis_names_the_likely_cause():
    references = {'u1': ['NORD', 'REGEN'], 'u2': ['SONNE']}
    empty = score_corpus(references, {})
    assert 'untrained' in diagnose(empty, {})
    normalised_away = score_corpus(references, {'u1': ['__EMOTION__']}, 'phoenix2014')
    assert 'normalisation removed' in diagnose(normalised_away, {'u1': ['__EMOTION__']})
    foreign = {'u1': ['风', '雨'], 'u2': ['晴']}
    assert 'wrong vocabulary' in diagnose(score_corpus(references, foreign), foreign)
    poor = {'u1': ['SONNE'], 'u2': []}  # 100 % WER, but a real (bad) result
    assert diagnose(score_corpus(references, poor), poor) is None


def test_wer_metric_warns_instead_of_a_silent_100_percent(tmp_path):
    samples = [dict(sample_id='u1', gt_gloss_text=['NORD', 'REGEN'], pred_glosses=[],
                    signer='Signer01'),
               dict(sample_id='u2', gt_gloss_text=['SONNE'], pred_glosses=[],
                    signer='Signer02')]
    metric = WERMetric(normalize='none', out_dir=str(tmp_path))
    metric.process(None, samples)
    with mock.patch('mmsign.evaluation.wer_metric.print_log') as log:
        metrics = metric.evaluate(2)
    warnings = [c.args[0] for c in log.call_args_list if 'untrained' in c.args[0]]
    assert len(warnings) == 1 and metrics['wer/seq'] == 100.0
    assert metrics['wer/seq_ser'] == 100.0
    report = json.loads((tmp_path / 'errors_seq.json').read_text(encoding='utf-8'))
    assert 'untrained' in report['warning']
    assert sorted(report['by_signer']) == ['Signer01', 'Signer02']
    assert 'Warning: all 2 hypotheses' in (tmp_path / 'report_seq.md').read_text('utf-8')
    assert 'id: (signer01-000)' in (tmp_path / 'aligned_seq.txt').read_text('utf-8')


def _load_score_wer():
    path = osp.join(REPO_ROOT, 'tools', 'analysis', 'score_wer.py')
    spec = importlib.util.spec_from_file_location('score_wer', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_score_wer_report_json_aligned_and_plot(release_data, tmp_path, capsys):
    ref, references, hypotheses = _simulated_phoenix(release_data)
    ctm = str(tmp_path / 'hyp.ctm')
    write_ctm(ctm, hypotheses)
    out = tmp_path / 'report'
    status = _load_score_wer().main(['--ref', ref, '--hyp', ctm, '--json', '--report',
                                     str(out / 'dev.md'), '--plot', str(out / 'top.png')])
    result = json.loads(capsys.readouterr().out)
    assert status == 0 and result['warning'] is None
    analysis = analyze(score_corpus(references, hypotheses), read_stm_speakers(ref))
    assert result['ser'] == analysis.ser
    report = json.loads((out / 'dev.json').read_text(encoding='utf-8'))
    assert report['totals']['wer'] == result['wer']
    assert report['top_deletions'] == analysis_to_json(analysis)['top_deletions']
    text = (out / 'dev.md').read_text(encoding='utf-8')
    assert '## WER by signer' in text and '| signer01 | 149 |' in text
    assert (out / 'aligned.txt').read_text(encoding='utf-8').count('\nid: ') == len(
        references)
    assert (out / 'top.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_score_wer_warns_on_empty_hypotheses(release_data, tmp_path, capsys):
    ref = osp.join(release_data, 'phoenix2014', 'phoenix2014-groundtruth-dev.stm')
    ctm = tmp_path / 'empty.ctm'
    ctm.write_text('', encoding='utf-8')
    assert _load_score_wer().main(['--ref', ref, '--hyp', str(ctm)]) == 0
    captured = capsys.readouterr()
    assert 'warning: all 540 hypotheses are empty' in captured.err
    assert 'WER 100.00%' in captured.out


@pytest.mark.parametrize('module', ['error_analysis', 'error_report'])
def test_report_modules_import_only_the_standard_library(module):
    # score_wer.py must run without torch or mmengine: these modules may import only the
    # standard library and the pure scoring modules (matplotlib inside the plot function).
    import ast
    import sys

    if not hasattr(sys, 'stdlib_module_names'):
        pytest.skip('needs Python 3.10+ (sys.stdlib_module_names)')
    path = osp.join(REPO_ROOT, 'mmsign', 'evaluation', f'{module}.py')
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    pure = {'alignment', 'scoring', 'error_analysis', 'normalization', 'sclite_io'}
    for node in tree.body:  # module level only
        if isinstance(node, ast.Import):
            assert all(a.name.split('.')[0] in sys.stdlib_module_names for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                assert node.module in pure, node.module
            else:
                assert node.module.split('.')[0] in sys.stdlib_module_names, node.module
