"""Whole-video crops and flip: one random place and one decision for all frames."""
import random

import numpy as np
import pytest
from sign_fixtures import make_frame

from mmsign.datasets.transforms import SignCenterCrop, SignFlip, SignRandomCrop


def video(num_frames=5, height=64, width=72):
    imgs = np.stack([make_frame(t, height, width) for t in range(num_frames)])
    return dict(imgs=imgs, img_shape=imgs.shape[1:3])


def test_random_crop_is_one_window_for_all_frames():
    random.seed(0)
    tops, lefts = set(), set()
    for _ in range(30):
        results = SignRandomCrop(size=48)(video())
        imgs = results['imgs']
        assert imgs.shape == (5, 48, 48, 3) and results['img_shape'] == (48, 48)
        left, top = imgs[0, 0, 0, 1], imgs[0, 0, 0, 2]  # green = x, blue = y
        assert np.all(imgs[:, 0, 0, 1] == left) and np.all(imgs[:, 0, 0, 2] == top)
        assert results['crop_bbox'].tolist() == [left, top, left + 48, top + 48]
        assert 0 <= left <= 72 - 48 and 0 <= top <= 64 - 48
        tops.add(int(top))
        lefts.add(int(left))
    assert len(tops) > 5 and len(lefts) > 5


def test_random_crop_accepts_rectangles_and_pads_small_frames():
    assert SignRandomCrop(size=(40, 56))(video())['imgs'].shape == (5, 40, 56, 3)
    imgs = SignRandomCrop(size=80)(video(height=64, width=72))['imgs']
    assert imgs.shape == (5, 80, 80, 3)
    assert np.all(imgs[:, :8] == 0) and np.all(imgs[:, :, :4] == 0)  # centred zero padding
    assert imgs[0, 8, 4, 2] == 0 and imgs[0, 9, 4, 2] == 1  # y = 0 starts after the pad


def test_center_crop():
    results = SignCenterCrop(size=48)(video())
    assert results['imgs'][0, 0, 0, 1] == 12 and results['imgs'][0, 0, 0, 2] == 8
    assert results['crop_bbox'].tolist() == [12, 8, 60, 56]
    # 256 -> 224: the released 16-pixel border.
    assert SignCenterCrop()(video(1, 256, 256))['crop_bbox'].tolist() == [16, 16, 240, 240]


def test_flip_mirrors_every_frame_or_none():
    random.seed(0)
    flips = []
    for _ in range(200):
        results = SignFlip(flip_ratio=0.5)(video())
        xs = results['imgs'][:, 0, :, 1]
        expected = np.arange(72)[::-1] if results['flip'] else np.arange(72)
        assert np.all(xs == expected[None, :])
        flips.append(results['flip'])
    assert 70 < sum(flips) < 130
    assert not SignFlip(flip_ratio=0.0)(video())['flip']
    with pytest.raises(ValueError):
        SignFlip(flip_ratio=1.5)
