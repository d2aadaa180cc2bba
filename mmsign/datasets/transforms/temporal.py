"""Temporal augmentation of whole sign videos."""
import random
from typing import Dict, Tuple

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform


@TRANSFORMS.register_module()
class SignTemporalRescale(BaseTransform):
    """Resample a video to a random length, as AdaptSign's training does (spec section 1).

    For a video of ``T`` frames: ``n = int(T * U(low, high))``, clamped to
    ``[min_len, max_len]``, then rounded up to a multiple of ``multiple`` (so ``n`` can
    reach ``max_len`` rounded up: 232 with the defaults). ``n`` sorted indices are drawn
    without replacement if ``n <= T``, else with replacement. The scale comes from
    ``np.random`` and the indices from Python's ``random``, like the released code, so
    mmengine's seeding makes it reproducible. Training only.

    Placed before :class:`SignDecode` it only chooses ``frame_inds`` (so only the kept
    frames are decoded); placed after, it indexes the decoded ``imgs``.

    Required Keys:

        - num_frames (int), or imgs (np.ndarray) if already decoded

    Added Keys:

        - frame_inds (np.ndarray): int64 indices, when the frames are not decoded yet

    Modified Keys:

        - imgs, when already decoded

    Args:
        scale_range (tuple[float, float]): Range of the uniform length factor.
            Defaults to (0.8, 1.2).
        min_len (int): Shortest output before rounding. Defaults to 32.
        max_len (int): Longest output before rounding. Defaults to 230.
        multiple (int): The output length is rounded up to a multiple of it.
            Defaults to 4.
    """

    def __init__(self,
                 scale_range: Tuple[float, float] = (0.8, 1.2),
                 min_len: int = 32,
                 max_len: int = 230,
                 multiple: int = 4) -> None:
        low, high = scale_range
        if not 0 < low <= high:
            raise ValueError(f'scale_range must satisfy 0 < low <= high, got {scale_range}')
        if not 0 < min_len <= max_len or multiple < 1:
            raise ValueError('need 0 < min_len <= max_len and multiple >= 1, got '
                             f'{min_len}, {max_len}, {multiple}')
        self.scale_range = (float(low), float(high))
        self.min_len = min_len
        self.max_len = max_len
        self.multiple = multiple

    def new_length(self, num_frames: int) -> int:
        """Draw the output length for a video of ``num_frames`` frames."""
        low, high = self.scale_range
        length = int(num_frames * (low + (high - low) * np.random.random()))
        length = min(max(length, self.min_len), self.max_len)
        return length + (-length) % self.multiple

    def sample_indices(self, num_frames: int) -> np.ndarray:
        """Draw the sorted frame indices for a video of ``num_frames`` frames."""
        length = self.new_length(num_frames)
        if length <= num_frames:
            inds = random.sample(range(num_frames), length)
        else:
            inds = random.choices(range(num_frames), k=length)
        return np.array(sorted(inds), dtype=np.int64)

    def transform(self, results: Dict) -> Dict:
        """Choose the frames.

        Args:
            results (dict): The result dict.

        Returns:
            dict: ``results`` with ``frame_inds`` (or rescaled ``imgs``).
        """
        if 'imgs' in results:
            results['imgs'] = results['imgs'][self.sample_indices(len(results['imgs']))]
        else:
            results['frame_inds'] = self.sample_indices(results['num_frames'])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale_range={self.scale_range}, '
                f'min_len={self.min_len}, max_len={self.max_len}, multiple={self.multiple})')
