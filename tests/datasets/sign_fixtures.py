"""Builders of fixture trees shaped exactly like the real releases, built from tests/data.

Each tree holds real annotation lines (ids, signers, labels) of a few samples per split,
in the release's own files and folder layout, with small generated frames. A frame's
pixels encode where they come from: red = frame index, green = x, blue = y (PNG is
lossless, so tests can check which frames a transform kept, where it cropped and
whether it flipped).
"""
import csv
import os
import os.path as osp
import shutil
from typing import Callable, Dict, List

import cv2
import numpy as np
import pytest

#: Frames of the generated videos: small, and fewer than the rescale's minimum (32) for
#: some samples so that sampling with replacement is exercised.
FRAME_SIZE = (64, 72)  # (height, width)
NUM_FRAMES = (12, 40)
SAMPLES_PER_SPLIT = 2


def make_frame(t: int, height: int = FRAME_SIZE[0], width: int = FRAME_SIZE[1]) -> np.ndarray:
    """An RGB frame whose red channel is ``t`` and green/blue are the x/y coordinates."""
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[..., 0] = t % 256
    frame[..., 1] = np.arange(width, dtype=np.uint8)[None, :]
    frame[..., 2] = np.arange(height, dtype=np.uint8)[:, None]
    return frame


def write_frames(folder: str, count: int, name: Callable[[int], str],
                 size=FRAME_SIZE) -> List[str]:
    """Write ``count`` frames made by :func:`make_frame` (RGB stored as BGR files)."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for t in range(count):
        path = osp.join(folder, name(t))
        assert cv2.imwrite(path, cv2.cvtColor(make_frame(t, *size), cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def _head(path: str, count: int) -> List[str]:
    """The header and the first ``count`` data lines of a release file."""
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    return lines[:count + 1]


def _write_lines(path: str, lines: List[str]) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')


@pytest.fixture(scope='session')
def phoenix2014_root(release_data, tmp_path_factory) -> str:
    """``phoenix-2014-multisigner`` with real CSV lines and 256x256-style frame folders."""
    root = str(tmp_path_factory.mktemp('phoenix2014') / 'phoenix-2014-multisigner')
    src = osp.join(release_data, 'phoenix2014')
    for split in ('train', 'dev', 'test'):
        rel = osp.join('annotations', 'manual', f'{split}.corpus.csv')
        lines = _head(osp.join(src, rel), SAMPLES_PER_SPLIT)
        _write_lines(osp.join(root, rel), lines)
        for k, line in enumerate(lines[1:]):
            sample_id, folder = line.split('|')[:2]
            stem = sample_id.rsplit('-', 1)[0]
            write_frames(
                osp.join(root, 'features', 'fullFrame-256x256px', split, osp.dirname(folder)),
                NUM_FRAMES[k % 2], lambda t, stem=stem: f'{stem}.avi_pid0_fn{t:06d}-0.png')
    shutil.copy(osp.join(src, 'gloss_vocab.json'), osp.join(root, 'gloss_vocab.json'))
    return root


@pytest.fixture(scope='session')
def phoenix2014t_root(release_data, tmp_path_factory) -> str:
    """``PHOENIX-2014-T`` with real CSV lines; frame folders without a ``1/`` level."""
    root = str(tmp_path_factory.mktemp('phoenix2014t') / 'PHOENIX-2014-T')
    src = osp.join(release_data, 'phoenix2014-T')
    for split in ('train', 'dev', 'test'):
        rel = osp.join('annotations', 'manual', f'PHOENIX-2014-T.{split}.corpus.csv')
        lines = _head(osp.join(src, rel), SAMPLES_PER_SPLIT)
        _write_lines(osp.join(root, rel), lines)
        for k, line in enumerate(lines[1:]):
            name = line.split('|')[0]
            write_frames(osp.join(root, 'features', 'fullFrame-256x256px', split, name),
                         NUM_FRAMES[k % 2], lambda t: f'images{t + 1:04d}.png')
    shutil.copy(osp.join(src, 'gloss_vocab.json'), osp.join(root, 'gloss_vocab.json'))
    return root


def read_stm(path: str) -> Dict[str, List[str]]:
    """``sample id -> glosses`` of a reference STM file."""
    refs = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            fields = line.split()
            if fields:
                refs[fields[0]] = fields[5:]
    return refs


def write_csl_daily_labels(release_data: str, root: str, per_split: int = 0) -> Dict[str, int]:
    """Write ``sentence_label/video_map.txt`` and ``split_1.txt`` as CSL-Daily ships them.

    The dev/test rows are the real ``video_map.txt`` rows (with an ``index`` column added);
    train rows carry the real names and glosses of the train STM (``char``, ``word`` and
    ``postag`` are not in tests/data, so they repeat the gloss). ``per_split=0`` writes
    every video of the release.

    Returns:
        dict: ``name -> length`` of the rows written.
    """
    src = osp.join(release_data, 'CSL-Daily')
    rows, splits = [], []
    train = read_stm(osp.join(src, 'CSL-Daily-groundtruth-train.stm'))
    for name, glosses in list(train.items())[:per_split or None]:
        gloss = ' '.join(glosses)
        rows.append([name, str(NUM_FRAMES[len(rows) % 2]), gloss, gloss, gloss, 'x'])
        splits.append(f'{name}|train')
    for split in ('dev', 'test'):
        with open(osp.join(src, f'{split}_video_map_rows.txt'), encoding='utf-8') as f:
            table = list(csv.DictReader(f, delimiter='|'))
        for row in table[:per_split or None]:
            length = str(NUM_FRAMES[len(rows) % 2]) if per_split else row['length']
            rows.append([row['name'], length, row['gloss'], row['char'], row['word'],
                         row['postag']])
            splits.append(f'{row["name"]}|{split}')
    _write_lines(osp.join(root, 'sentence_label', 'video_map.txt'),
                 ['index|name|length|gloss|char|word|postag']
                 + [f'{i}|' + '|'.join(row) for i, row in enumerate(rows)])
    _write_lines(osp.join(root, 'sentence_label', 'split_1.txt'), ['name|split'] + splits)
    return {row[0]: int(row[1]) for row in rows}


@pytest.fixture(scope='session')
def csl_daily_root(release_data, tmp_path_factory) -> str:
    """``CSL-Daily`` with ``sentence_label/`` files and JPG frame folders."""
    root = str(tmp_path_factory.mktemp('csl-daily') / 'CSL-Daily')
    lengths = write_csl_daily_labels(release_data, root, SAMPLES_PER_SPLIT)
    for name, length in lengths.items():
        write_frames(osp.join(root, 'sentence', 'frames_256x256', name), length,
                     lambda t: f'{t:06d}.jpg')
    shutil.copy(osp.join(release_data, 'CSL-Daily', 'gloss_vocab.json'),
                osp.join(root, 'gloss_vocab.json'))
    return root


@pytest.fixture(scope='session')
def csl_root(release_data, tmp_path_factory) -> str:
    """CSL with the published ``train.txt`` / ``dev.txt`` lines and JPG frame folders."""
    root = str(tmp_path_factory.mktemp('csl') / 'csl')
    src = osp.join(release_data, 'CSL')
    for split in ('train', 'dev'):
        with open(osp.join(src, f'{split}.txt'), encoding='utf-8') as f:
            lines = f.read().splitlines()[:SAMPLES_PER_SPLIT]
        _write_lines(osp.join(root, f'{split}.txt'), lines)
        for k, line in enumerate(lines):
            name = osp.basename(line.split('|')[0])
            write_frames(osp.join(root, 'frames_256x256', name), NUM_FRAMES[k % 2],
                         lambda t: f'{t:06d}.jpg')
    shutil.copy(osp.join(src, 'gloss_vocab.json'), osp.join(root, 'gloss_vocab.json'))
    return root
