"""Spatial augmentation of whole sign videos: one crop and one flip for all frames."""
import random
from typing import Dict, Sequence, Tuple, Union

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from mmsign.utils.frames import center_offsets, crop_frames, pair


class _BaseSignCrop(BaseTransform):
    """Shared code of the whole-video crops."""

    def __init__(self, size: Union[int, Sequence[int]] = 224) -> None:
        self.size = pair(size)

    def offsets(self, img_h: int, img_w: int) -> Tuple[int, int]:
        """``(top, left)`` of the crop in frames of ``img_h x img_w`` (padded if smaller)."""
        raise NotImplementedError

    def transform(self, results: Dict) -> Dict:
        """Crop every frame at one place.

        Args:
            results (dict): The result dict.

        Returns:
            dict: ``results`` with the cropped frames.
        """
        imgs = results['imgs']
        h, w = self.size
        top, left = self.offsets(imgs.shape[1], imgs.shape[2])
        results['imgs'] = crop_frames(imgs, top, left, h, w)
        results['img_shape'] = (h, w)
        results['crop_bbox'] = np.array([left, top, left + w, top + h])
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(size={self.size})'


@TRANSFORMS.register_module()
class SignRandomCrop(_BaseSignCrop):
    """Crop the whole video at one random place (training).

    Frames smaller than the crop are zero-padded to it, centred, as the released
    training code does.

    Required Keys:

        - imgs (np.ndarray): ``(T, H, W, 3)``

    Modified Keys:

        - imgs, img_shape

    Added Keys:

        - crop_bbox (np.ndarray): ``[x1, y1, x2, y2]`` in the (padded) frames

    Args:
        size (int | tuple[int, int]): Crop size, ``(h, w)`` or one int for a square.
            Defaults to 224.
    """

    def offsets(self, img_h: int, img_w: int) -> Tuple[int, int]:
        """Uniform random offsets (Python's ``random``, like the released code)."""
        h, w = self.size
        left = random.randint(0, max(img_w - w, 0))
        top = random.randint(0, max(img_h - h, 0))
        return top, left


@TRANSFORMS.register_module()
class SignCenterCrop(_BaseSignCrop):
    """Crop the centre of the whole video (evaluation).

    Frames smaller than the crop are zero-padded to it, centred.

    Required Keys:

        - imgs (np.ndarray): ``(T, H, W, 3)``

    Modified Keys:

        - imgs, img_shape

    Added Keys:

        - crop_bbox (np.ndarray): ``[x1, y1, x2, y2]``

    Args:
        size (int | tuple[int, int]): Crop size, ``(h, w)`` or one int for a square.
            Defaults to 224.
    """

    def offsets(self, img_h: int, img_w: int) -> Tuple[int, int]:
        """The centred offsets (rounded down)."""
        return center_offsets(img_h, img_w, self.size)


@TRANSFORMS.register_module()
class SignFlip(BaseTransform):
    """Flip the whole video horizontally with probability ``flip_ratio`` (training).

    Left and right hands swap: the released models are trained this way.

    Required Keys:

        - imgs (np.ndarray): ``(T, H, W, 3)``

    Modified Keys:

        - imgs

    Added Keys:

        - flip (bool), flip_direction (str): ``'horizontal'``

    Args:
        flip_ratio (float): Probability of flipping. Defaults to 0.5.
    """

    def __init__(self, flip_ratio: float = 0.5) -> None:
        if not 0 <= flip_ratio <= 1:
            raise ValueError(f'flip_ratio must lie in [0, 1], got {flip_ratio}')
        self.flip_ratio = flip_ratio

    def transform(self, results: Dict) -> Dict:
        """Maybe flip.

        Args:
            results (dict): The result dict.

        Returns:
            dict: ``results``, flipped or not.
        """
        flip = random.random() < self.flip_ratio
        if flip:
            results['imgs'] = results['imgs'][:, :, ::-1]
        results['flip'] = flip
        results['flip_direction'] = 'horizontal'
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(flip_ratio={self.flip_ratio})'
