"""Unloadable samples: on_error='raise' names them, on_error='skip' logs each once, counts
them, reports them after each epoch and trains on."""
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
from mmengine.dataset import pseudo_collate
from reliability_helpers import generator_options, log_of, train, val_metrics, write_config
from torch.utils.data import DataLoader

from mmsign.datasets import CustomSignDataset, SignLoadError, SyntheticSignDataset
from mmsign.datasets.transforms import PackSignInputs, SignDecode, SignInit

PIPELINE = [SignInit(), SignDecode(), PackSignInputs()]


@pytest.fixture
def root(data_root, tmp_path) -> str:
    """A private copy of the generated data, to break."""
    copy = str(tmp_path / 'synthetic')
    shutil.copytree(data_root, copy)
    return copy


def synthetic(root: str, split: str = 'train', **kwargs) -> SyntheticSignDataset:
    return SyntheticSignDataset(root, generator=generator_options(), split=split,
                                pipeline=PIPELINE, test_mode=True, **kwargs)


def frames(dataset, index: int):
    folder = dataset.get_data_info(index)['frame_dir']
    return folder, sorted(osp.join(folder, name) for name in os.listdir(folder))


def corrupt_png(dataset, index: int, every_frame: bool = False) -> str:
    """Cut frame 3 (or every frame) of sample ``index`` to its first 100 bytes."""
    paths = frames(dataset, index)[1]
    for path in paths if every_frame else paths[3:4]:
        with open(path, 'rb') as f:
            head = f.read(100)
        with open(path, 'wb') as f:
            f.write(head)
    return paths[3]


def empty_folder(dataset, index: int) -> str:
    folder, paths = frames(dataset, index)
    for path in paths:
        os.remove(path)
    return folder


def sample_id(dataset, index: int) -> str:
    return dataset.get_data_info(index)['sample_id']


def test_default_raise_names_the_sample_the_file_and_the_reason(root):
    dataset = synthetic(root)
    assert dataset.on_error == 'raise'
    path = corrupt_png(dataset, 2)
    with pytest.raises(SignLoadError, match=f'sample {sample_id(dataset, 2)}: cannot decode '
                       f'frame {path}: the file is truncated') as info:
        dataset[2]
    assert info.value.sample_id == sample_id(dataset, 2) and info.value.path == path
    with pytest.raises(ValueError, match='on_error must be one of'):
        synthetic(root, on_error='ignore')


def test_skip_returns_the_next_loadable_sample_and_logs_each_bad_one_once(root, mm_log):
    dataset = synthetic(root, on_error='skip')
    corrupt_png(dataset, 1)
    folder = empty_folder(dataset, 2)
    empty_folder(dataset, 7)  # the last one: the search wraps around to the first
    for _ in range(2):
        data = dataset[1]
        assert data['data_samples'].sample_id == sample_id(dataset, 3)
        skipped = data['data_samples'].skipped_samples
        assert [r['sample_id'] for r in skipped] == [sample_id(dataset, 1),
                                                     sample_id(dataset, 2)]
        assert skipped[1]['path'] == folder and 'holds no' in skipped[1]['reason']
        assert 'cannot decode frame' in skipped[0]['reason']
    assert dataset[7]['data_samples'].sample_id == sample_id(dataset, 0)
    good = dataset[4]['data_samples']
    assert good.sample_id == sample_id(dataset, 4) and 'skipped_samples' not in good
    text = mm_log.getvalue()
    for index in (1, 2, 7):
        assert text.count(f'skipping sample {sample_id(dataset, index)} ') == 1


def test_skip_gives_up_when_nothing_can_be_loaded(root):
    dataset = synthetic(root, on_error='skip', max_refetch=3)
    for index in range(len(dataset)):
        empty_folder(dataset, index)
    with pytest.raises(SignLoadError, match="4 samples in a row from index 5 cannot be "
                       r"loaded \(on_error='skip'\)"):
        dataset[5]


def test_skip_works_in_dataloader_workers(root):
    dataset = synthetic(root, on_error='skip')
    corrupt_png(dataset, 0)
    loader = DataLoader(dataset, batch_size=2, num_workers=2, collate_fn=pseudo_collate)
    seen, skipped = [], []
    for batch in loader:
        for sample in batch['data_samples']:
            seen.append(sample.sample_id)
            skipped += [r['sample_id'] for r in sample.get('skipped_samples', [])]
    assert seen == [sample_id(dataset, i) for i in [1] + list(range(1, 8))]
    assert skipped == [sample_id(dataset, 0)]


def test_skip_passes_over_a_truncated_video(tmp_path):
    videos = tmp_path / 'videos'
    videos.mkdir()
    for name in ('cut', 'whole'):
        writer = cv2.VideoWriter(str(videos / f'{name}.mp4'), cv2.VideoWriter_fourcc(*'mp4v'),
                                 25, (32, 24))
        for t in range(12):
            writer.write(np.full((24, 32, 3), 20 * t, dtype=np.uint8))
        writer.release()
    data = (videos / 'cut.mp4').read_bytes()
    (videos / 'cut.mp4').write_bytes(data[:len(data) // 2])
    (tmp_path / 'test.txt').write_text('videos/cut.mp4|HELLO\nvideos/whole.mp4|HELLO NAME\n')
    dataset = CustomSignDataset(str(tmp_path), 'test', vocab_file=['HELLO', 'NAME'],
                                pipeline=PIPELINE, test_mode=True, on_error='skip')
    sample = dataset[0]['data_samples']
    assert sample.sample_id == 'videos/whole' and sample.num_frames == 12
    (record, ) = sample.skipped_samples
    assert record['sample_id'] == 'videos/cut' and record['path'].endswith('cut.mp4')
    assert 'truncated' in record['reason']


@pytest.mark.slow
def test_training_skips_bad_samples_and_reports_them_each_epoch(root, tmp_path):
    train_set, dev_set = synthetic(root), synthetic(root, 'dev')
    # Training decodes only the frames the temporal rescale picks: break them all.
    corrupt_png(train_set, 1, every_frame=True)
    empty_folder(train_set, 5)
    corrupt_png(dev_set, 0)
    bad_train = sorted([sample_id(train_set, 1), sample_id(train_set, 5)])
    config = write_config(str(tmp_path / 'config.py'), root, max_epochs=2,
                          dataset="on_error='skip'")
    work_dir = str(tmp_path / 'work')
    result = train(config, work_dir)
    log = log_of(result)
    assert result.returncode == 0, log[-4000:]
    for sid in bad_train + [sample_id(dev_set, 0)]:
        assert log.count(f'skipping sample {sid} ') == 1  # logged once, not once per epoch
    for epoch in (1, 2):
        report = log.split(f'training epoch {epoch}: ')[1]
        assert report.startswith("2 unreadable sample(s) skipped (on_error='skip'), "
                                 '2 time(s) in all; training went on')
        assert all(sid in report.split('Epoch(')[0] for sid in bad_train)
    for epoch in (1, 2):
        assert f'validation at epoch {epoch}: 1 unreadable sample(s) skipped' in log
    assert 'leaves them out of the WER without one' in log
    # the WER is over the 4 readable dev samples: their reference words only
    words = sum(len(dev_set.get_data_info(i)['gloss_text']) for i in range(1, 5))
    assert val_metrics(work_dir)[-1]['wer/seq_ref_words'] == words
