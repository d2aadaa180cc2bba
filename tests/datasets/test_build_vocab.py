"""tools/data/build_vocab.py rebuilds the released vocabularies from the real annotations."""
import importlib.util
import json
import os.path as osp
import subprocess
import sys

import pytest
from sign_fixtures import write_csl_daily_labels

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO_ROOT, 'tools', 'data', 'build_vocab.py')


def load_tool():
    spec = importlib.util.spec_from_file_location('build_vocab', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def released(release_data: str, folder: str) -> dict:
    with open(osp.join(release_data, folder, 'gloss_vocab.json'), encoding='utf-8') as f:
        return json.load(f)


def test_phoenix2014_command_line_equals_released_vocabulary(release_data, tmp_path):
    out = tmp_path / 'vocab.json'
    proc = subprocess.run([
        sys.executable, TOOL, '--dataset', 'phoenix2014', '--root',
        osp.join(release_data, 'phoenix2014'), '--out', str(out)
    ], capture_output=True, text=True, cwd=str(tmp_path), timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert '1295 glosses' in proc.stdout
    built = json.loads(out.read_text(encoding='utf-8'))
    reference = released(release_data, 'phoenix2014')
    assert built == {'blank_id': 0, 'glosses': reference['glosses']}
    assert len(built['glosses']) == 1295


@pytest.mark.parametrize('dataset,folder,size', [('phoenix2014t', 'phoenix2014-T', 1115),
                                                  ('csl', 'CSL', 179)])
def test_released_vocabularies(dataset, folder, size, release_data, tmp_path):
    out = str(tmp_path / 'vocab.json')
    assert load_tool().main(['--dataset', dataset, '--root',
                             osp.join(release_data, folder), '--out', out]) == 0
    with open(out, encoding='utf-8') as f:
        built = json.load(f)
    assert built['blank_id'] == 0
    assert built['glosses'] == released(release_data, folder)['glosses']
    assert len(built['glosses']) == size


def test_csl_daily_from_its_label_files(release_data, tmp_path):
    # tests/data has the real names and glosses of every CSL-Daily video (STM files
    # and video_map rows); written as the release's sentence_label/ files.
    lengths = write_csl_daily_labels(release_data, str(tmp_path))
    assert len(lengths) == 18401 + 1077 + 1176
    out = str(tmp_path / 'vocab.json')
    assert load_tool().main(['--dataset', 'csl-daily', '--root', str(tmp_path),
                             '--out', out]) == 0
    with open(out, encoding='utf-8') as f:
        glosses = json.load(f)['glosses']
    assert glosses == released(release_data, 'CSL-Daily')['glosses']
    assert len(glosses) == 2000


def test_train_only_option(release_data, tmp_path):
    out = str(tmp_path / 'vocab.json')
    assert load_tool().main(['--dataset', 'phoenix2014', '--root',
                             osp.join(release_data, 'phoenix2014'), '--out', out,
                             '--train-only']) == 0
    with open(out, encoding='utf-8') as f:
        glosses = json.load(f)['glosses']
    full = released(release_data, 'phoenix2014')['glosses']
    assert glosses == sorted(glosses) and set(glosses) < set(full)
    train_csv = osp.join(release_data, 'phoenix2014', 'annotations', 'manual',
                         'train.corpus.csv')
    with open(train_csv, encoding='utf-8') as f:
        train = {g for line in f.read().splitlines()[1:] for g in line.split('|')[3].split()}
    assert set(glosses) == train


def test_missing_annotations_fail_with_a_message(tmp_path, capsys):
    assert load_tool().main(['--dataset', 'phoenix2014t', '--root', str(tmp_path),
                             '--out', str(tmp_path / 'v.json')]) == 1
    assert 'PHOENIX-2014-T.train.corpus.csv' in capsys.readouterr().err
    assert not (tmp_path / 'v.json').exists()
