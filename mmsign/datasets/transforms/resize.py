"""Resizing whole sign videos to the frame size a model was trained on."""
from typing import Dict, Sequence, Union

from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from mmsign.utils.frames import pair, resize_frames


@TRANSFORMS.register_module()
class SignResize(BaseTransform):
    """Resize every frame to ``size`` (aspect ratio not kept, Lanczos).

    This is the resize the datasets' ``preprocess.py`` scripts do offline (the recipes'
    frames are stored at 256x256), written as a pipeline step so that a test pipeline
    states the frame size its model was evaluated at. On prepared data it changes
    nothing (the frames already have the size; they are passed through untouched), while
    :func:`mmsign.apis.inference_recognizer` applies it to a user's video of any size.

    Required Keys:

        - imgs (np.ndarray): ``(T, H, W, 3)`` uint8

    Modified Keys:

        - imgs, img_shape

    Added Keys:

        - resized_from (tuple[int, int]): ``(H, W)`` before, only when resized

    Args:
        size (int | Sequence[int]): ``(height, width)``; an int means a square.
    """

    def __init__(self, size: Union[int, Sequence[int]] = 256) -> None:
        self.size = pair(size)
        if min(self.size) < 1:
            raise ValueError(f'SignResize size must be positive, got {size}')

    def transform(self, results: Dict) -> Dict:
        """Resize the frames unless they already have the size.

        Args:
            results (dict): The result dict.

        Returns:
            dict: ``results`` with frames of ``size``.
        """
        imgs = results['imgs']
        height, width = self.size
        if tuple(imgs.shape[1:3]) != (height, width):
            results['resized_from'] = tuple(int(s) for s in imgs.shape[1:3])
            results['imgs'] = resize_frames(imgs, self.size)
        results['img_shape'] = (height, width)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(size={self.size})'
