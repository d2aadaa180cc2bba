"""Tests of the synthetic sign language generator (mmsign/datasets/synthetic/)."""
import glob
import hashlib
import json
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mmsign.datasets import synthetic
from mmsign.datasets.synthetic import (
    SyntheticSignLanguage,
    ensure_synthetic_dataset,
    generate_synthetic_dataset,
    layout,
    pool,
)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMALL = dict(num_glosses=6, num_train=12, num_dev=3, num_test=3, image_size=32,
             num_train_signers=3, num_dev_signers=1, num_test_signers=2)
PHOENIX = 'phoenix-2014-multisigner'
FRAMES = osp.join(PHOENIX, 'features', 'fullFrame-210x260px')
CORPUS = osp.join(PHOENIX, 'annotations', 'manual', '{}.corpus.csv')


def tree_digest(root):
    """Relative path -> sha256 of every file under ``root``."""
    digest = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                digest[osp.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return digest


def read_corpus(root, split):
    with open(osp.join(root, CORPUS.format(split)), encoding='utf-8') as f:
        lines = f.read().splitlines()
    return lines[0], [line.split('|') for line in lines[1:]]


@pytest.fixture(scope='module')
def small_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synthetic') / 'small')
    summary = generate_synthetic_dataset(root, **SMALL)
    return root, summary


def test_same_bytes_for_same_seed(tmp_path, small_set):
    root, _ = small_set
    again = str(tmp_path / 'again')
    # Another output path and two worker processes must not change a single byte.
    generate_synthetic_dataset(again, num_workers=2, **SMALL)
    first, second = tree_digest(root), tree_digest(again)
    assert len(first) > 100
    assert first == second
    other = str(tmp_path / 'other_seed')
    generate_synthetic_dataset(other, **{**SMALL, 'seed': 1})
    third = tree_digest(other)
    changed = [p for p in first if p.endswith('.png') and third.get(p) != first[p]]
    assert len(changed) > 0.9 * sum(p.endswith('.png') for p in first)


def test_phoenix_layout(small_set):
    root, summary = small_set
    with open(osp.join(root, 'gloss_vocab.json'), encoding='utf-8') as f:
        vocab = json.load(f)
    assert vocab['blank_id'] == 0
    assert vocab['glosses'] == sorted(vocab['glosses']) and len(vocab['glosses']) == 6
    assert summary['glosses'] == vocab['glosses']
    signers = {}
    name = re.compile(r'^(synth_(train|dev|test)_\d{5})\.avi_pid0_fn(\d{6})-0\.png$')
    for split, count in (('train', 12), ('dev', 3), ('test', 3)):
        header, rows = read_corpus(root, split)
        assert header == 'id|folder|signer|annotation'
        assert len(rows) == count == summary['splits'][split]['num_videos']
        assert [r[0] for r in rows] == sorted(r[0] for r in rows)
        signers[split] = {r[2] for r in rows}
        total = 0
        for video_id, folder, signer, annotation in rows:
            assert re.fullmatch(rf'synth_{split}_\d{{5}}_default-0', video_id)
            assert folder == f'{video_id}/1/*.png'
            assert re.fullmatch(r'Signer\d\d', signer)
            glosses = annotation.split(' ')
            assert 2 <= len(glosses) <= 8
            assert set(glosses) <= set(vocab['glosses'])
            assert all(a != b for a, b in zip(glosses, glosses[1:]))
            files = sorted(glob.glob(osp.join(root, FRAMES, split, folder)))
            matches = [name.match(osp.basename(p)) for p in files]
            assert all(matches)
            assert {m.group(1) for m in matches} == {video_id.rsplit('_default', 1)[0]}
            assert [int(m.group(3)) for m in matches] == list(range(len(files)))
            # At least two frames per gloss plus resting frames at both ends.
            assert len(files) >= 2 * len(glosses) + 2
            total += len(files)
            frame = cv2.imread(files[0], cv2.IMREAD_UNCHANGED)
            assert frame.shape == (32, 32, 3) and frame.dtype == np.uint8
        assert total == summary['splits'][split]['num_frames']
    assert not signers['train'] & signers['dev']
    assert not signers['train'] & signers['test']
    assert not signers['dev'] & signers['test']
    assert len(signers['train']) == 3
    _, train_rows = read_corpus(root, 'train')
    assert {g for r in train_rows for g in r[3].split()} == set(vocab['glosses'])
    with open(osp.join(root, PHOENIX, 'evaluation', 'phoenix2014-groundtruth-test.stm')) as f:
        stm = f.read().splitlines()
    _, test_rows = read_corpus(root, 'test')
    assert stm == [f'{r[0]} 1 {r[2].lower()} 0.0 1.79769e+308 {r[3]}' for r in test_rows]
    with open(osp.join(root, 'synthetic_meta.json')) as f:
        assert json.load(f)['params']['num_train'] == 12
    assert not osp.exists(osp.join(root, 'videos'))
    assert not [p for p in os.listdir(osp.dirname(root)) if 'incomplete' in p]


def test_glosses_are_visually_distinct():
    lang = SyntheticSignLanguage(num_glosses=16, image_size=32)
    signer = lang.signers['test'][0]

    def sign(gloss, take):
        rng = np.random.default_rng([take, lang.glosses.index(gloss)])
        frames, labels = lang.render([gloss], signer, rng)
        assert labels[0] == '' and labels[-1] == '' and gloss in labels
        frames = frames.astype(np.float32)
        moving = frames[[t for t, label in enumerate(labels) if label == gloss]] - frames[0]
        pick = np.linspace(0, len(moving) - 1, 8).round().astype(int)
        # Coarse 8x8 residuals against the resting frame: the hands, not the background.
        return np.stack([cv2.resize(f, (8, 8), interpolation=cv2.INTER_AREA)
                         for f in moving[pick]])

    first = {g: sign(g, 0) for g in lang.glosses}
    second = {g: sign(g, 1) for g in lang.glosses}

    def dist(a, b):
        return float(np.abs(a - b).mean())

    same = [dist(first[g], second[g]) for g in lang.glosses]
    different = [dist(first[g], first[h]) for g in lang.glosses for h in lang.glosses if g < h]
    assert min(different) > 1.5 * np.mean(same)
    assert np.mean(different) > 2.5 * np.mean(same)
    nearest = [min(lang.glosses, key=lambda h, g=g: dist(second[g], first[h]))
               for g in lang.glosses]
    assert nearest == lang.glosses


def test_signers_differ_and_sentence_lengths():
    lang = SyntheticSignLanguage(image_size=32)
    styles = [lang.styles[s] for split in ('train', 'dev', 'test') for s in lang.signers[split]]
    assert len({s.background for s in styles}) == len(styles)
    assert len({round(s.speed, 3) for s in styles}) == len(styles)
    train_textures = {lang.styles[s].texture for s in lang.signers['train']}
    assert {lang.styles[s].texture for s in lang.signers['test']} <= train_textures
    rng = np.random.default_rng(0)
    lengths = []
    for _ in range(30):
        sentence = lang.sample_sentence(rng)
        frames, labels = lang.render(sentence, lang.signers['train'][0], rng)
        assert len(frames) == len(labels)
        lengths.append(len(frames))
        # Labels come in sentence order, each gloss a run of frames, with transitions.
        runs = [g for i, g in enumerate(labels) if g and (i == 0 or labels[i - 1] != g)]
        assert runs == sentence
    assert 15 <= min(lengths) and max(lengths) <= 110 and 30 < np.mean(lengths) < 80


def test_mp4_videos_read_back_with_decord(tmp_path):
    decord = pytest.importorskip('decord')
    root = str(tmp_path / 'videos')
    options = dict(SMALL, num_train=6, write_videos=True)
    generate_synthetic_dataset(root, **options)
    for split in ('train', 'dev', 'test'):
        _, rows = read_corpus(root, split)
        with open(osp.join(root, f'{split}.txt'), encoding='utf-8') as f:
            lines = f.read().splitlines()
        assert len(lines) == len(rows)
        for line, (video_id, folder, _, annotation) in zip(lines, rows):
            path, label = line.split('|')
            assert path == f'videos/{split}/{video_id}.mp4' and label == annotation
            files = sorted(glob.glob(osp.join(root, FRAMES, split, folder)))
            reader = decord.VideoReader(osp.join(root, path))
            assert len(reader) == len(files)
            frame = reader[len(reader) // 2].asnumpy()
            png = cv2.imread(files[len(files) // 2])[..., ::-1]
            assert frame.shape == png.shape
            # Lossy, but the same picture (RGB order included).
            assert np.abs(frame.astype(int) - png.astype(int)).mean() < 12
    again = str(tmp_path / 'again')
    generate_synthetic_dataset(again, **options)
    assert tree_digest(root) == tree_digest(again)


def test_ensure_generates_only_when_needed(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(layout, 'print_log', lambda msg, **kw: logged.append(msg))
    root = str(tmp_path / 'data' / 'synthetic')
    summary = ensure_synthetic_dataset(root, **SMALL)
    assert summary['generated'] and osp.isdir(osp.join(root, PHOENIX))
    assert len(logged) == 2 and f'into {osp.abspath(root)}' in logged[0]
    meta = osp.join(root, 'synthetic_meta.json')
    stamp = os.stat(meta).st_mtime_ns

    again = ensure_synthetic_dataset(root, num_workers=2, **SMALL)
    assert not again['generated'] and len(logged) == 2
    assert again['splits'] == summary['splits'] and os.stat(meta).st_mtime_ns == stamp

    changed = ensure_synthetic_dataset(root, **{**SMALL, 'num_test': 4})
    assert changed['generated'] and len(logged) == 4 and 'other parameters' in logged[2]
    _, rows = read_corpus(root, 'test')
    assert len(rows) == 4

    with pytest.raises(TypeError):
        ensure_synthetic_dataset(root, num_trains=3)


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    root = str(tmp_path / 'synthetic')
    calls = []
    real = pool.render_and_write

    def failing(*job):
        calls.append(job)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(*job)

    monkeypatch.setattr(pool, 'render_and_write', failing)
    with pytest.raises(KeyboardInterrupt):
        generate_synthetic_dataset(root, **SMALL)
    assert len(calls) == 5
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(pool, 'render_and_write', real)
    monkeypatch.setattr(layout, 'print_log', lambda msg, **kw: None)
    assert ensure_synthetic_dataset(root, **SMALL)['generated']


def test_refuses_foreign_folder_and_bad_options(tmp_path):
    foreign = tmp_path / 'mine'
    foreign.mkdir()
    (foreign / 'notes.txt').write_text('keep me')
    with pytest.raises(FileExistsError):
        generate_synthetic_dataset(str(foreign), **SMALL)
    assert (foreign / 'notes.txt').read_text() == 'keep me'
    with pytest.raises(ValueError):
        SyntheticSignLanguage(num_glosses=synthetic.MAX_GLOSSES + 1)
    with pytest.raises(ValueError):
        SyntheticSignLanguage(min_glosses=5, max_glosses=3)
    with pytest.raises(ValueError, match='raise num_train'):
        generate_synthetic_dataset(str(tmp_path / 'few'), **{**SMALL, 'num_glosses': 20,
                                                             'num_train': 2})


def test_training_sentences_cover_the_vocabulary():
    glosses = ['A', 'B', 'C', 'D', 'E']
    plans = [dict(glosses=['A', 'B', 'A', 'B']), dict(glosses=['B', 'A', 'B'])]
    layout.cover_vocabulary(plans, glosses)
    words = [g for p in plans for g in p['glosses']]
    assert set(words) == set(glosses) and len(words) == 7
    for plan in plans:
        assert all(a != b for a, b in zip(plan['glosses'], plan['glosses'][1:]))


def test_command_line(tmp_path):
    root = str(tmp_path / 'cli')
    cmd = [sys.executable, osp.join(REPO_ROOT, 'tools', 'data', 'synthetic', 'generate.py'),
           root, '--num-glosses', '4', '--num-train', '4', '--num-dev', '1', '--num-test',
           '1', '--image-size', '16', '--num-train-signers', '2', '--workers', '1']
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert 'generated' in out.stdout and 'train' in out.stdout
    header, rows = read_corpus(root, 'train')
    assert header == 'id|folder|signer|annotation' and len(rows) == 4
    out = subprocess.run(cmd + ['--if-missing'], capture_output=True, text=True, check=True,
                         cwd=REPO_ROOT)
    assert 'already present' in out.stdout
