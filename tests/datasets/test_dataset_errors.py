"""Broken data fails loudly and names the sample: videos, frame folders, labels."""
import logging
import os
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest
import torch
from sign_fixtures import make_frame, write_frames

from mmsign.datasets import (
    CustomSignDataset,
    Phoenix2014Dataset,
    SignAnnotationError,
    SignLoadError,
)
from mmsign.datasets.transforms import PackSignInputs, SignDecode, SignInit

TEST_PIPELINE = [SignInit(), SignDecode(), PackSignInputs()]


def write_mp4(path: str, num_frames: int, size=(64, 48)) -> None:
    """A real MPEG-4 video: frame t is grey level 12 * t."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 25, size)
    assert writer.isOpened()
    for t in range(num_frames):
        writer.write(np.full((size[1], size[0], 3), 12 * t, dtype=np.uint8))
    writer.release()


def custom_dataset(root, lines, split='test', **kwargs) -> CustomSignDataset:
    with open(osp.join(root, f'{split}.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')
    kwargs.setdefault('vocab_file', ['HELLO', 'NAME', 'WHAT'])
    return CustomSignDataset(str(root), split, pipeline=TEST_PIPELINE, test_mode=True,
                             **kwargs)


def test_decord_decodes_a_real_mp4(tmp_path):
    write_mp4(str(tmp_path / 'videos' / 'greeting.mp4'), 20)
    write_frames(str(tmp_path / 'frames' / 'name'), 5, lambda t: f'{t:04d}.png')
    dataset = custom_dataset(tmp_path, ['videos/greeting.mp4|HELLO NAME',
                                        'frames/name|NAME WHAT'])
    video = dataset[0]
    assert dataset.get_data_info(0)['filename'] == osp.join(str(tmp_path), 'videos',
                                                            'greeting.mp4')
    assert video['data_samples'].sample_id == 'videos/greeting'
    assert video['data_samples'].num_frames == 20
    assert video['inputs'].shape == (20, 3, 48, 64) and video['inputs'].dtype == torch.uint8
    grey = video['inputs'].float().mean(dim=(1, 2, 3))
    assert torch.allclose(grey, 12 * torch.arange(20).float(), atol=6)
    frames = dataset[1]
    assert frames['inputs'].shape == (5, 3, 64, 72)
    assert frames['data_samples'].gt_glosses.tolist() == [2, 3]


def test_truncated_video_raises_naming_the_sample(tmp_path):
    path = str(tmp_path / 'videos' / 'cut.mp4')
    write_mp4(path, 20)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    dataset = custom_dataset(tmp_path, ['videos/cut.mp4|HELLO'])
    with pytest.raises(SignLoadError, match=r'sample videos/cut: cannot open video .*cut\.mp4'
                       r'.*truncated') as info:
        dataset[0]
    assert info.value.sample_id == 'videos/cut' and info.value.path.endswith('cut.mp4')


def test_missing_and_empty_frame_folders_raise(phoenix2014_root, tmp_path):
    dataset = Phoenix2014Dataset(phoenix2014_root, 'dev', pipeline=TEST_PIPELINE,
                                 data_prefix=dict(frames='features/fullFrame-210x260px'),
                                 test_mode=True)
    sample_id = dataset.get_data_info(0)['sample_id']
    with pytest.raises(SignLoadError, match=f'phoenix2014 sample {sample_id}: frame folder '
                       r'.*fullFrame-210x260px.* not found: run '
                       r'tools/data/phoenix2014/preprocess.py') as info:
        dataset[0]
    assert info.value.sample_id == sample_id

    os.makedirs(tmp_path / 'frames' / 'empty')
    (tmp_path / 'frames' / 'empty' / 'notes.txt').write_text('not a frame')
    dataset = custom_dataset(tmp_path, ['frames/empty|HELLO'])
    with pytest.raises(SignLoadError, match='sample frames/empty: frame folder .* holds no '
                       'PNG/JPG/JPEG/BMP frames'):
        dataset[0]


def test_truncated_png_raises_naming_the_file(tmp_path):
    paths = write_frames(str(tmp_path / 'frames' / 'clip'), 4, lambda t: f'{t:04d}.png')
    with open(paths[2], 'rb') as f:
        data = f.read()
    with open(paths[2], 'wb') as f:
        f.write(data[:40])
    dataset = custom_dataset(tmp_path, ['frames/clip|HELLO'])
    with pytest.raises(SignLoadError, match=r'sample frames/clip: cannot decode frame '
                       r'.*0002\.png') as info:
        dataset[0]
    assert info.value.path == paths[2]


def test_frames_of_different_sizes_raise(tmp_path):
    paths = write_frames(str(tmp_path / 'frames' / 'clip'), 3, lambda t: f'{t:04d}.png')
    cv2.imwrite(paths[1], make_frame(1, 32, 32))
    dataset = custom_dataset(tmp_path, ['frames/clip|HELLO'])
    with pytest.raises(SignLoadError, match='0001.png is 32x32 but .*0000.png is 72x64'):
        dataset[0]


def test_load_error_survives_pickling():
    # Multiprocessing pools send exceptions between processes by pickling them.
    error = pickle.loads(pickle.dumps(SignLoadError('broken', 'id-1', '/x.png')))
    assert (str(error), error.sample_id, error.path) == ('broken', 'id-1', '/x.png')


def test_empty_label_raises_naming_the_sample(tmp_path):
    write_frames(str(tmp_path / 'frames' / 'a'), 2, lambda t: f'{t:04d}.png')
    with pytest.raises(SignAnnotationError, match=r'custom sample frames/a \(.*test.txt:2\) '
                       'has an empty gloss label'):
        custom_dataset(tmp_path, ['# comment', 'frames/a|  '])


def test_empty_phoenix_annotation_raises(phoenix2014_root, tmp_path):
    root = tmp_path / 'phoenix'
    ann = root / 'annotations' / 'manual'
    os.makedirs(ann)
    for split in ('train', 'dev', 'test'):
        src = osp.join(phoenix2014_root, 'annotations', 'manual', f'{split}.corpus.csv')
        lines = open(src, encoding='utf-8').read().splitlines()
        if split == 'dev':
            lines[2] = '|'.join(lines[2].split('|')[:3] + [''])
        (ann / f'{split}.corpus.csv').write_text('\n'.join(lines) + '\n', encoding='utf-8')
    with pytest.raises(SignAnnotationError, match='phoenix2014 sample '
                       '01August_2011_Monday_heute_default-6 .*dev.corpus.csv:3.* empty'):
        Phoenix2014Dataset(str(root), 'dev')


def test_unknown_gloss_raises_in_training(tmp_path):
    (tmp_path / 'train.txt').write_text('clips/a|HELLO\nclips/b|HELLO BYE\n')
    with pytest.raises(SignAnnotationError, match=r"custom train sample clips/b "
                       r"\(.*train.txt:2\).*\['BYE'\].*build_vocab.py") as info:
        CustomSignDataset(str(tmp_path), 'train', vocab_file=['HELLO'])
    assert info.value.sample_id == 'clips/b'


def test_unknown_gloss_at_test_time_is_reported_not_dropped(tmp_path, monkeypatch):
    messages = []
    monkeypatch.setattr('mmsign.datasets.base.print_log',
                        lambda msg, logger=None, level=logging.INFO: messages.append(
                            (level, msg)))
    write_frames(str(tmp_path / 'clips' / 'b'), 3, lambda t: f'{t:04d}.png')
    dataset = custom_dataset(tmp_path, ['clips/a|HELLO', 'clips/b|HELLO BYE NAME',
                                        'clips/c|WHAT CIAO'])
    warnings = [m for level, m in messages if level == logging.WARNING]
    assert len(warnings) == 1
    assert '2 samples' in warnings[0]
    assert 'clips/b: BYE' in warnings[0] and 'clips/c: CIAO' in warnings[0]
    assert 'clips/a' not in warnings[0]
    info = dataset.get_data_info(1)
    assert info['gloss_text'] == ['HELLO', 'BYE', 'NAME']  # the reference keeps it
    assert info['gloss_ids'] == [1, 2]
    sample = dataset[1]['data_samples']
    assert sample.gt_gloss_text == ['HELLO', 'BYE', 'NAME']


def test_duplicate_sample_raises(tmp_path):
    with pytest.raises(SignAnnotationError, match='sample clips/a is listed twice'):
        custom_dataset(tmp_path, ['clips/a|HELLO', 'clips/a|NAME'])


def test_missing_annotation_file_says_where_to_get_it(tmp_path):
    with pytest.raises(SignAnnotationError, match=r'phoenix2014 annotation file not found '
                       r'at .*train.corpus.csv: download phoenix-2014'):
        Phoenix2014Dataset(str(tmp_path), 'train')


def test_error_in_a_dataloader_worker_keeps_type_and_sample(tmp_path):
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader

    write_frames(str(tmp_path / 'frames' / 'good'), 2, lambda t: f'{t:04d}.png')
    dataset = custom_dataset(tmp_path, ['frames/good|HELLO', 'frames/gone|NAME'])
    loader = DataLoader(dataset, batch_size=1, num_workers=1, collate_fn=pseudo_collate)
    with pytest.raises(SignLoadError, match='sample frames/gone: frame folder .* not found'):
        list(loader)
