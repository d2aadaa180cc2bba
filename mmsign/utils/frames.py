"""Frame arithmetic without torch: resampling in time, resizing and cropping frames.

The pipeline steps (``SignResize``, ``SignCenterCrop`` / ``SignRandomCrop``), the video
reader of :mod:`mmsign.apis.video_input` and the ONNX recognizer (which runs without
torch, :mod:`mmsign.apis.onnx_inference`) all call these functions.
"""
from typing import Sequence, Tuple, Union

import numpy as np


def pair(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    """``size`` as ``(height, width)``; an int means a square."""
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)


def resample_indices(num_frames: int, source_fps: float, fps: float) -> np.ndarray:
    """Nearest-frame indices that play ``num_frames`` frames of ``source_fps`` at ``fps``.

    Args:
        num_frames (int): Frames of the input.
        source_fps (float): Their frame rate.
        fps (float): The wanted frame rate.

    Returns:
        np.ndarray: ``round(num_frames * fps / source_fps)`` (at least 1) sorted indices.
    """
    if source_fps <= 0 or fps <= 0:
        raise ValueError(f'frame rates must be positive, got {source_fps} and {fps}')
    count = max(1, int(round(num_frames * fps / source_fps)))
    inds = np.floor(np.arange(count) * (source_fps / fps) + 0.5).astype(np.int64)
    return np.minimum(inds, num_frames - 1)


def resize_frames(imgs: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Resize every frame to ``(height, width)`` (aspect ratio not kept, Lanczos).

    Args:
        imgs (np.ndarray): ``(T, H, W, C)`` frames.
        size (tuple[int, int]): ``(height, width)``.

    Returns:
        np.ndarray: ``(T, height, width, C)``; ``imgs`` itself when it has the size.
    """
    import cv2

    height, width = size
    if tuple(imgs.shape[1:3]) == (height, width):
        return imgs
    out = np.empty((len(imgs), height, width, imgs.shape[3]), dtype=imgs.dtype)
    for t, img in enumerate(imgs):
        out[t] = cv2.resize(img, (width, height), interpolation=cv2.INTER_LANCZOS4)
    return out


def center_offsets(img_h: int, img_w: int, size: Tuple[int, int]) -> Tuple[int, int]:
    """``(top, left)`` of a centred ``size`` crop (rounded down; 0 when smaller)."""
    h, w = size
    return max(img_h - h, 0) // 2, max(img_w - w, 0) // 2


def crop_frames(imgs: np.ndarray, top: int, left: int, h: int, w: int) -> np.ndarray:
    """Crop ``(T, H, W, C)`` frames; frames smaller than the crop are zero-padded
    (centred), as the released training code does."""
    _, img_h, img_w, _ = imgs.shape
    pad_h, pad_w = max(h - img_h, 0), max(w - img_w, 0)
    if pad_h or pad_w:
        imgs = np.pad(imgs, ((0, 0), (pad_h // 2, pad_h - pad_h // 2),
                             (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    return imgs[:, top:top + h, left:left + w]


__all__ = ['center_offsets', 'crop_frames', 'pair', 'resample_indices', 'resize_frames']
