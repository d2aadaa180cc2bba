"""SignTemporalRescale follows spec section 1 exactly."""
import random

import numpy as np
import pytest

from mmsign.datasets.transforms import SignTemporalRescale


def reference_length(num_frames: int, u: float) -> int:
    """Spec section 1 written out: int(T * U(0.8, 1.2)), clamp [32, 230], round up to 4."""
    n = int(num_frames * (0.8 + 0.4 * u))
    n = min(max(n, 32), 230)
    if n % 4:
        n += 4 - n % 4
    return n


@pytest.mark.parametrize('num_frames', [1, 10, 31, 40, 97, 150, 191, 200, 290, 1000])
def test_length_matches_the_spec(num_frames):
    rescale = SignTemporalRescale()
    for seed in range(20):
        np.random.seed(seed)
        u = np.random.random()
        np.random.seed(seed)
        assert rescale.new_length(num_frames) == reference_length(num_frames, u)


def test_long_videos_reach_232_frames():
    # 230 is not a multiple of 4: the clamp is rounded up.
    np.random.seed(0)
    assert {SignTemporalRescale().new_length(1000) for _ in range(10)} == {232}


def test_indices_sorted_without_replacement_unless_longer():
    random.seed(0)
    np.random.seed(0)
    rescale = SignTemporalRescale()
    shorter = longer = 0
    for _ in range(100):
        inds = rescale.sample_indices(150)
        assert 120 <= len(inds) <= 180 and len(inds) % 4 == 0
        assert np.all(np.diff(inds) >= 0) and inds.min() >= 0 and inds.max() < 150
        if len(inds) <= 150:
            assert len(set(inds.tolist())) == len(inds)  # no repeats
            shorter += 1
        else:
            assert len(set(inds.tolist())) < len(inds)
            longer += 1
    assert shorter > 20 and longer > 20


def test_indices_with_replacement_when_longer():
    random.seed(1)
    np.random.seed(1)
    inds = SignTemporalRescale().sample_indices(20)
    assert len(inds) == 32
    assert np.all(np.diff(inds) >= 0) and len(set(inds.tolist())) < 32
    assert inds.max() < 20


def test_lengths_cover_the_scale_range():
    np.random.seed(2)
    lengths = {SignTemporalRescale().new_length(100) for _ in range(400)}
    assert lengths == set(range(80, 121, 4))


def test_sets_frame_inds_or_rescales_decoded_frames():
    random.seed(3)
    np.random.seed(3)
    results = SignTemporalRescale()(dict(num_frames=100))
    assert results['frame_inds'].dtype == np.int64 and 'imgs' not in results
    imgs = np.arange(40).reshape(40, 1, 1, 1).repeat(3, axis=3).astype(np.uint8)
    out = SignTemporalRescale()(dict(imgs=imgs, num_frames=40))['imgs']
    assert len(out) % 4 == 0 and len(out) >= 32
    assert np.all(np.diff(out[:, 0, 0, 0].astype(int)) >= 0)


def test_configurable_and_validated():
    rescale = SignTemporalRescale(scale_range=(1.0, 1.0), min_len=8, max_len=64, multiple=8)
    assert rescale.new_length(30) == 32 and rescale.new_length(100) == 64
    with pytest.raises(ValueError):
        SignTemporalRescale(scale_range=(1.2, 0.8))
