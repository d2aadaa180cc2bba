"""SignResize: the test pipeline's statement of the evaluated frame size."""
import cv2
import numpy as np
import pytest

from mmsign.datasets.transforms import SignResize


def test_resizes_every_frame_like_the_preparation_scripts():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (3, 40, 50, 3), dtype=np.uint8)
    out = SignResize(size=(36, 32))(dict(imgs=imgs, img_shape=(40, 50)))
    assert out['imgs'].shape == (3, 36, 32, 3) and out['img_shape'] == (36, 32)
    assert out['resized_from'] == (40, 50)
    expected = cv2.resize(imgs[1], (32, 36), interpolation=cv2.INTER_LANCZOS4)
    assert np.array_equal(out['imgs'][1], expected)


def test_frames_of_the_size_pass_untouched():
    imgs = np.zeros((2, 36, 36, 3), dtype=np.uint8)
    out = SignResize(size=36)(dict(imgs=imgs, img_shape=(36, 36)))
    assert out['imgs'] is imgs and 'resized_from' not in out
    assert repr(SignResize(256)) == 'SignResize(size=(256, 256))'
    with pytest.raises(ValueError, match='positive'):
        SignResize(0)
