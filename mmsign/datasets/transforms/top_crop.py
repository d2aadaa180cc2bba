"""CSL-Daily's top crop in the SlowFastSign release (``SLOWFASTSIGN_SPEC.md`` section 1)."""
from typing import Dict

import cv2
import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform


@TRANSFORMS.register_module()
class SignTopCrop(BaseTransform):
    """Cut the top ``rows`` rows off every frame and resize it back to ``size`` x ``size``
    (bilinear, OpenCV's default, as the released loader does on CSL-Daily's 256x256 frames:
    ``cv2.resize(img[40:], (256, 256))``).

    Required Keys:

        - imgs (np.ndarray): ``(T, H, W, 3)`` uint8, ``H > rows``

    Modified Keys:

        - imgs, img_shape

    Args:
        rows (int): Rows removed from the top of every frame. Defaults to 40.
        size (int): Side of the square output frames. Defaults to 256.
    """

    def __init__(self, rows: int = 40, size: int = 256) -> None:
        if rows < 0 or size < 1:
            raise ValueError(f'SignTopCrop needs rows >= 0 and size >= 1, got rows={rows}, '
                             f'size={size}')
        self.rows = rows
        self.size = size

    def transform(self, results: Dict) -> Dict:
        """Crop and resize every frame.

        Args:
            results (dict): The result dict.

        Returns:
            dict: ``results`` with ``size x size`` frames.
        """
        imgs = results['imgs']
        if imgs.shape[1] <= self.rows:
            raise ValueError(f'sample {results.get("sample_id", "?")}: frames of height '
                             f'{imgs.shape[1]} have no rows left after cutting {self.rows} '
                             'off the top; resize the frames first (SignResize)')
        out = np.empty((len(imgs), self.size, self.size, imgs.shape[3]), dtype=imgs.dtype)
        for t, img in enumerate(imgs):
            out[t] = cv2.resize(img[self.rows:], (self.size, self.size),
                                interpolation=cv2.INTER_LINEAR)
        results['imgs'] = out
        results['img_shape'] = (self.size, self.size)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(rows={self.rows}, size={self.size})'
