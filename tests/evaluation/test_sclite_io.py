"""CTM and STM files: round trips, ordering, and errors that name the file and line."""
import os.path as osp

import pytest

from mmsign.evaluation import TranscriptFormatError, read_ctm, read_stm, write_ctm, write_stm


def _write(path, text):
    path.write_text(text, encoding='utf-8')
    return str(path)


def test_ctm_round_trip(tmp_path):
    hypotheses = {'b-1': ['REGEN', 'loc-NORD', 'REGEN'], 'a-2': ['爱-1'], 'c': []}
    path = str(tmp_path / 'hyp.ctm')
    write_ctm(path, hypotheses)
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    assert lines == ['b-1 1 0.00 0.01 REGEN', 'b-1 1 0.01 0.01 loc-NORD',
                     'b-1 1 0.02 0.01 REGEN', 'a-2 1 0.00 0.01 爱-1']
    assert read_ctm(path) == {'b-1': ['REGEN', 'loc-NORD', 'REGEN'], 'a-2': ['爱-1']}


def test_ctm_words_follow_start_time_and_samples_may_interleave(tmp_path):
    path = _write(tmp_path / 'hyp.ctm', ';; a comment\n'
                  'x 1 0.10 0.01 C 0.9\n'
                  'y 1 0.00 0.01 Q\n'
                  'x 1 0.02 0.01 B\n'
                  '\n'
                  'x 1 0.00 0.01 A\n'
                  'x 1 0.02 0.01 B2\n'
                  'x 1 1.5e-1 0.01 D\n')
    # Equal start times keep their order in the file.
    assert read_ctm(path) == {'x': ['A', 'B', 'B2', 'C', 'D'], 'y': ['Q']}


@pytest.mark.parametrize('line, problem', [
    ('x 1 0.00 0.01', '5 or 6 fields'),
    ('x 1 0.00 0.01 A 0.5 extra', '5 or 6 fields'),
    ('x 1 zero 0.01 A', "begin time 'zero'"),
    ('x 1 0.00 nan A', "duration 'nan'"),
    ('x 1 0.00 0.01 A high', "confidence 'high'"),
    ('x 1 0.00 0.01 A;B', 'cuts words'),
])
def test_malformed_ctm_line_names_file_and_line(tmp_path, line, problem):
    path = _write(tmp_path / 'bad.ctm', f'x 1 0.00 0.01 OK\n{line}\n')
    with pytest.raises(TranscriptFormatError, match=problem) as info:
        read_ctm(path)
    assert f'{path}:2:' in str(info.value)


def test_stm_round_trip_with_speakers(tmp_path):
    references = {'s1': ['__ON__', 'REGEN'], 's2': ['我', 'b'], 's3': []}
    path = str(tmp_path / 'ref.stm')
    write_stm(path, references, speakers={'s1': 'signer05'})
    with open(path, encoding='utf-8') as f:
        first = f.readline()
    assert first == 's1 1 signer05 0.0 1.79769e+308 __ON__ REGEN\n'
    assert read_stm(path) == references


def test_stm_label_and_comments_are_skipped(tmp_path):
    path = _write(tmp_path / 'ref.stm', ';; category info\n'
                  's1 1 spk 0.0 1.79769e+308 <o,f0,male> A B\n')
    assert read_stm(path) == {'s1': ['A', 'B']}


@pytest.mark.parametrize('line, problem', [
    ('s2 1 spk 0.0', 'at least 5 fields'),
    ('s2 1 spk begin 1.79769e+308 A', "begin time 'begin'"),
    ('s2 1 spk 0.0 1.79769e+308 (A) B', 'sclite markup'),
    ('s2 1 spk 0.0 1.79769e+308 { A / B }', 'sclite markup'),
    ('s2 1 spk 0.0 1.79769e+308 IGNORE_TIME_SEGMENT_IN_SCORING', 'sclite markup'),
    ('s1 1 spk 0.0 1.79769e+308 A', 'already has a segment at line 1'),
])
def test_malformed_stm_line_names_file_and_line(tmp_path, line, problem):
    path = _write(tmp_path / 'bad.stm', f's1 1 spk 0.0 1.79769e+308 A\n{line}\n')
    with pytest.raises(TranscriptFormatError, match=problem) as info:
        read_stm(path)
    assert f'{path}:2:' in str(info.value)


def test_non_utf8_file_is_named(tmp_path):
    path = tmp_path / 'latin1.ctm'
    path.write_bytes(b'x 1 0.00 0.01 \xc4HNLICH\n')
    with pytest.raises(TranscriptFormatError, match='latin1.ctm: not UTF-8'):
        read_ctm(str(path))


@pytest.mark.parametrize('word', ['', 'A B', 'A\tB'])
def test_writers_refuse_words_that_are_not_one_token(tmp_path, word):
    with pytest.raises(ValueError, match="sample 'x'"):
        write_ctm(str(tmp_path / 'h.ctm'), {'x': ['OK', word]})
    with pytest.raises(ValueError, match="sample 'x'"):
        write_stm(str(tmp_path / 'r.stm'), {'x': [word]})


def test_reads_the_real_references(release_data):
    phoenix = read_stm(osp.join(release_data, 'phoenix2014', 'phoenix2014-groundtruth-test.stm'))
    assert len(phoenix) == 629  # the last line has no newline
    assert phoenix['24January_2013_Thursday_heute_default-12'] == [
        'SAMSTAG', 'KALT', 'MINUS', 'ZEHN', 'TEMPERATUR', 'SONNTAG', 'GLATT', 'EIS', 'REGEN'
    ]
    csl = read_stm(osp.join(release_data, 'CSL-Daily', 'CSL-Daily-groundtruth-dev.stm'))
    assert len(csl) == 1077
    assert csl['S000020_P0000_T00'] == ['他', '今天', '年龄', '4']


def test_parse_sclite_dtl_is_the_one_parser():
    """tools/analysis/score_wer.py and the benchmark's wer subcommand read sclite's dtl report with
    mmsign.evaluation.parse_sclite_dtl; a report without the counts is refused."""
    from mmsign.evaluation import ErrorCounts, parse_sclite_dtl
    text = ('Percent Substitution      =   44.4%   (   4)\n'
            'Percent Deletions         =   33.3%   (   3)\n'
            'Percent Insertions        =    0.0%   (   0)\n'
            'Ref. words                =           (   9)\n')
    assert parse_sclite_dtl(text) == ErrorCounts(4, 3, 0, 9)
    with pytest.raises(TranscriptFormatError, match='Percent Deletions'):
        parse_sclite_dtl(text.splitlines()[0])
