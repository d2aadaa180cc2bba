"""SignInit + SignDecode: list or open without decoding, then decode only what is kept."""
import numpy as np
import pytest
from sign_fixtures import write_frames

from mmsign.datasets.transforms import SignDecode, SignInit, SignTemporalRescale
from mmsign.datasets.transforms import loading as loading_module


@pytest.fixture
def clip(tmp_path):
    write_frames(str(tmp_path / 'clip'), 10, lambda t: f'frame{t:03d}.png')
    (tmp_path / 'clip' / 'Thumbs.db').write_bytes(b'junk')
    return dict(sample_id='clip', frame_dir=str(tmp_path / 'clip'), num_frames=99)


def test_init_lists_sorted_frames_and_counts_them(clip):
    results = SignInit()(clip)
    assert results['num_frames'] == 10  # the frames on disk, not the annotation's count
    assert [p[-12:] for p in results['frame_paths']] == [
        f'frame{t:03d}.png' for t in range(10)
    ]
    assert 'imgs' not in results


def test_decode_reads_only_the_frames_kept(clip, monkeypatch):
    reads = []
    imread = loading_module.cv2.imread
    monkeypatch.setattr(loading_module.cv2, 'imread',
                        lambda path, flags: reads.append(path) or imread(path, flags))
    results = SignInit()(clip)
    results['frame_inds'] = np.array([1, 1, 4, 7, 7, 7])
    results = SignDecode()(results)
    assert len(reads) == 3  # frames 1, 4, 7, each once
    imgs = results['imgs']
    assert imgs.shape == (6, 64, 72, 3) and imgs.dtype == np.uint8
    assert imgs[:, 0, 0, 0].tolist() == [1, 1, 4, 7, 7, 7]  # red = frame index: RGB order
    assert imgs[0, 0, 5, 1] == 5 and imgs[0, 6, 0, 2] == 6  # green = x, blue = y
    assert results['img_shape'] == (64, 72)
    assert 'frame_paths' not in results


def test_rescale_before_decode_decodes_at_most_the_video(clip, monkeypatch):
    reads = []
    imread = loading_module.cv2.imread
    monkeypatch.setattr(loading_module.cv2, 'imread',
                        lambda path, flags: reads.append(path) or imread(path, flags))
    results = SignDecode()(SignTemporalRescale()(SignInit()(clip)))
    assert len(results['imgs']) == 32  # 10 frames -> at least 32, with replacement
    assert len(reads) == len(set(results['imgs'][:, 0, 0, 0].tolist())) <= 10


def test_decode_without_indices_decodes_all(clip):
    results = SignDecode()(SignInit()(clip))
    assert results['imgs'][:, 0, 0, 0].tolist() == list(range(10))


def test_decode_rejects_indices_outside_the_video(clip):
    results = SignInit()(clip)
    results['frame_inds'] = np.array([3, 10])
    with pytest.raises(IndexError, match='sample clip: frame_inds must select'):
        SignDecode()(results)
