"""tools/data/<dataset>/preprocess.py: resize to 256x256, write the vocabulary, report."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import cv2
from sign_fixtures import write_csl_daily_labels, write_frames

from mmsign.datasets import CSLDailyDataset, GlossVocabulary, Phoenix2014Dataset
from mmsign.datasets.preparation import main

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RAW = osp.join('features', 'fullFrame-210x260px')
RESIZED = osp.join('features', 'fullFrame-256x256px')


def raw_phoenix(phoenix2014_root: str, root: str) -> list:
    """A PHOENIX14 release with its annotations and 210x260 frames (3 per video)."""
    shutil.copytree(osp.join(phoenix2014_root, 'annotations'), osp.join(root, 'annotations'))
    folders = []
    for split in ('train', 'dev', 'test'):
        for record in Phoenix2014Dataset.read_annotations(root, split):
            folder = osp.join(root, RAW, record['frame_dir'])
            write_frames(folder, 3, lambda t: f'x.avi_pid0_fn{t:06d}-0.png', size=(260, 210))
            folders.append(record['frame_dir'])
    return folders


def test_phoenix2014_preprocess_resizes_and_writes_vocabulary(phoenix2014_root, tmp_path):
    root = str(tmp_path / 'phoenix-2014-multisigner')
    folders = raw_phoenix(phoenix2014_root, root)
    script = osp.join(REPO_ROOT, 'tools', 'data', 'phoenix2014', 'preprocess.py')
    proc = subprocess.run([sys.executable, script, '--root', root, '--workers', '2'],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'every annotated sample has all its frames' in proc.stdout
    assert '18 frames in features/fullFrame-256x256px (18 written now)' in proc.stdout
    for folder in folders:
        names = sorted(os.listdir(osp.join(root, RESIZED, folder)))
        assert names == [f'x.avi_pid0_fn{t:06d}-0.png' for t in range(3)]
        img = cv2.imread(osp.join(root, RESIZED, folder, names[1]))
        assert img.shape == (256, 256, 3)
        # Red channel = frame index 1, stored as BGR: survives the resize.
        assert abs(int(img[128, 128, 2]) - 1) <= 1
    vocab = GlossVocabulary.load(osp.join(root, 'gloss_vocab.json'))
    assert vocab.glosses == Phoenix2014Dataset.build_vocabulary(root).glosses

    # A second run skips complete folders; a missing raw folder is reported.
    shutil.rmtree(osp.join(root, RAW, folders[0]))
    shutil.rmtree(osp.join(root, RESIZED, folders[0]))
    assert main(Phoenix2014Dataset, RAW, 'test', ['--root', root, '--workers', '1',
                                                  '--report', str(tmp_path / 'r.txt')]) == 1
    report = (tmp_path / 'r.txt').read_text()
    assert report.count('\n') == 1
    assert report.startswith('missing\t01April_2010_Thursday_heute_default-0: frame folder')


def test_check_only_compares_counts_with_the_annotations(release_data, tmp_path, capsys):
    root = str(tmp_path)
    lengths = write_csl_daily_labels(release_data, root, per_split=1)
    names = list(lengths)
    for k, name in enumerate(names):
        count = lengths[name] - (1 if k == 1 else 0)  # one folder lacks a frame
        if k != 2:  # and one is missing
            write_frames(osp.join(root, 'sentence', 'frames_256x256', name), count,
                         lambda t: f'{t:06d}.jpg', size=(16, 16))
    assert main(CSLDailyDataset, 'sentence/frames_512x512', 'test',
                ['--root', root, '--check-only', '--workers', '1']) == 1
    out = capsys.readouterr().out
    assert f'{names[1]}: the annotations say {lengths[names[1]]} frames' in out
    assert f'{names[2]}: no resized frames in' in out
    assert f'{names[0]}:' not in out
