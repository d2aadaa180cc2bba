"""Seeded, bounded fuzzing of what users feed mmsign: random bytes as videos and frames,
random text as annotation CSV and CTM files. Each input must give the documented error or
a result that matches an independent reading of it. The work is bounded by counts (CASES
inputs of at most a few kilobytes each), not by time; should a reader ever hang, the
tracebacks of all threads are printed after 10 minutes to show where."""
import faulthandler
import math
import os
import os.path as osp
from operator import itemgetter

import cv2
import numpy as np
import pytest

from mmsign.datasets import Phoenix2014Dataset, SignAnnotationError, SignLoadError
from mmsign.datasets.transforms import SignDecode, SignInit
from mmsign.evaluation.sclite_io import TranscriptFormatError, read_ctm

CASES = 60


@pytest.fixture(autouse=True)
def hang_report():
    faulthandler.dump_traceback_later(600)
    yield
    faulthandler.cancel_dump_traceback_later()


def decode(results: dict) -> dict:
    return SignDecode()(SignInit()(results))


def write_video(path: str, frames: int = 12) -> np.ndarray:
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 25, (32, 24))
    for t in range(frames):
        writer.write(np.full((24, 32, 3), 20 * t, dtype=np.uint8))
    writer.release()
    return decode(dict(filename=path, sample_id='original'))['imgs']


def test_random_and_truncated_videos(tmp_path):
    rng = np.random.default_rng(0)
    original = write_video(str(tmp_path / 'original.mp4'))
    data = (tmp_path / 'original.mp4').read_bytes()
    for case in range(CASES):
        path = str(tmp_path / f'video{case}.mp4')
        truncated = case % 2 == 1
        with open(path, 'wb') as f:
            f.write(data[:int(rng.integers(0, len(data)))] if truncated else
                    data[:int(rng.integers(0, 64))] + rng.bytes(int(rng.integers(0, 30000))))
        try:
            imgs = decode(dict(filename=path, sample_id=f'video{case}'))['imgs']
        except SignLoadError as e:
            assert e.sample_id == f'video{case}' and e.path == path
            continue
        # Only a cut that keeps every frame may decode, and then to the original frames.
        assert truncated and np.array_equal(imgs, original), case


@pytest.mark.parametrize('ext', ['.png', '.jpg'])
def test_random_and_truncated_frames(tmp_path, ext):
    rng = np.random.default_rng(1)
    frame = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
    assert cv2.imwrite(str(tmp_path / f'good{ext}'), frame)
    good = (tmp_path / f'good{ext}').read_bytes()
    for case in range(CASES):
        folder = tmp_path / f'sample{case}'
        folder.mkdir()
        for t in range(3):
            (folder / f'{t:04d}{ext}').write_bytes(good)
        kind = case % 3
        if kind == 0:  # random bytes
            bad = rng.bytes(int(rng.integers(0, 5000)))
        elif kind == 1:  # the file's header, then random bytes
            bad = good[:int(rng.integers(1, 100))] + rng.bytes(int(rng.integers(0, 3000)))
        else:  # cut short
            bad = good[:int(rng.integers(0, len(good) - 1))]
        bad_path = str(folder / f'{int(rng.integers(0, 3)):04d}{ext}')
        with open(bad_path, 'wb') as f:
            f.write(bad)
        with pytest.raises(SignLoadError) as info:
            decode(dict(frame_dir=str(folder), sample_id=f'sample{case}'))
        assert info.value.path == bad_path and bad_path in str(info.value)


def test_mutated_png_frames_fail_their_checksum(tmp_path):
    # PNG checks each chunk's CRC. (JPEG has no checksum: a flipped bit in a JPEG is a
    # valid, different image, which no reader can tell from the original.)
    rng = np.random.default_rng(2)
    frame = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
    path = str(tmp_path / 'frames' / '0000.png')
    os.makedirs(osp.dirname(path))
    assert cv2.imwrite(path, frame)
    good = open(path, 'rb').read()
    for case in range(CASES):
        data = bytearray(good)
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(8, len(data)))] ^= int(rng.integers(1, 256))
        with open(path, 'wb') as f:
            f.write(bytes(data))
        with pytest.raises(SignLoadError, match='cannot decode frame'):
            decode(dict(frame_dir=osp.dirname(path), sample_id=f'png{case}'))


def random_text(rng, alphabet: str, max_lines: int = 12) -> str:
    lines = []
    for _ in range(int(rng.integers(0, max_lines))):
        size = int(rng.integers(0, 40))
        lines.append(''.join(alphabet[i] for i in rng.integers(0, len(alphabet), size)))
    return '\n'.join(lines)


HEADER = 'id|folder|signer|annotation'


def test_random_annotation_csv(tmp_path):
    rng = np.random.default_rng(3)
    alphabet = 'ab|| \t_-ÄÖ01.*/'
    csv = tmp_path / 'annotations' / 'manual' / 'train.corpus.csv'
    csv.parent.mkdir(parents=True)
    parsed = 0
    for case in range(CASES * 3):
        text = random_text(rng, alphabet)
        if case % 2:  # a valid header, then random lines
            text = HEADER + '\n' + text
        csv.write_text(text, encoding='utf-8')
        try:
            records = Phoenix2014Dataset.read_annotations(str(tmp_path), 'train')
        except SignAnnotationError as e:
            assert str(csv) in str(e)
            continue
        # Parsed: each record must be its line, split on "|" (independent reading).
        rows = [line.split('|') for line in text.splitlines()[1:] if line.strip()]
        assert text.splitlines()[0].split('|')[:4] == HEADER.split('|')
        assert [(r['sample_id'], r['signer'], r['gloss_text']) for r in records] == [
            (row[0], row[2], row[3].split()) for row in rows]
        parsed += 1
    assert parsed > 5  # both outcomes were exercised


def reference_ctm(text: str):
    """An independent CTM reading: None if malformed, else words by id by start time."""
    timed_words = {}
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith(';;'):
            continue
        if len(fields) not in (5, 6) or ';' in fields[4]:
            return None
        try:
            numbers = [float(x) for x in fields[2:4] + fields[5:]]
        except ValueError:
            return None
        if any(math.isnan(x) for x in numbers):
            return None
        timed_words.setdefault(fields[0], []).append((numbers[0], fields[4]))
    return {k: [w for _, w in sorted(v, key=itemgetter(0))] for k, v in timed_words.items()}


def test_random_ctm(tmp_path):
    rng = np.random.default_rng(4)
    path = tmp_path / 'hyp.ctm'
    tokens = ['s1', 's2', '1', '0.01', '0.5', '-3', 'nan', 'inf', 'x', 'REGEN', 'SO;NNE',
              ';;', 'A', '1e3']
    parsed = 0
    for case in range(CASES * 3):
        if case % 2:
            text = random_text(rng, 'ab 01.;\t-e')
        else:  # lines of 4 to 7 plausible tokens
            text = '\n'.join(' '.join(tokens[i] for i in rng.integers(0, len(tokens),
                                                                        int(rng.integers(4, 8))))
                             for _ in range(int(rng.integers(0, 6))))
        path.write_text(text, encoding='utf-8')
        expected = reference_ctm(text)
        try:
            got = read_ctm(str(path))
        except TranscriptFormatError as e:
            assert expected is None, text
            assert f'{path}:' in str(e)
            continue
        assert got == expected, text
        parsed += 1
    assert parsed > 10


def test_random_bytes_as_ctm_are_refused(tmp_path):
    rng = np.random.default_rng(5)
    path = tmp_path / 'hyp.ctm'
    for _ in range(CASES):
        path.write_bytes(b'\xff\xfe' + rng.bytes(int(rng.integers(0, 2000))))
        with pytest.raises(TranscriptFormatError, match='not UTF-8'):
            read_ctm(str(path))
