"""Packing a sign video and its labels for the model."""
from typing import Dict, Sequence

import numpy as np
import torch
from mmaction.registry import TRANSFORMS
from mmaction.structures import ActionDataSample
from mmcv.transforms import BaseTransform


@TRANSFORMS.register_module()
class PackSignInputs(BaseTransform):
    """Pack the frames into ``inputs`` and the labels into an ``ActionDataSample``.

    ``inputs`` is a uint8 tensor of shape ``(T, 3, H, W)``. The data sample holds the data
    field ``gt_glosses`` (LongTensor ``(L,)`` of class ids 1..C-1; not ``gt_label``,
    which mmaction2's classification code would misread) and the metainfo
    ``gt_gloss_text`` (the reference glosses as annotated) plus ``meta_keys``.

    Required Keys:

        - imgs (np.ndarray): ``(T, H, W, 3)`` uint8
        - gloss_ids (list[int]), gloss_text (list[str])
        - the ``meta_keys``

    Added Keys:

        - inputs (torch.Tensor), data_samples (ActionDataSample)

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo. Defaults to
            ``('sample_id', 'signer', 'num_frames', 'img_shape')``; ``num_frames`` is the
            number of frames on disk (before temporal sampling).
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('sample_id', 'signer', 'num_frames',
                                             'img_shape')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: Dict) -> Dict:
        """Pack.

        Args:
            results (dict): The result dict.

        Returns:
            dict: ``dict(inputs=..., data_samples=...)``.
        """
        imgs = results['imgs']
        if imgs.ndim != 4 or imgs.shape[-1] != 3:
            raise ValueError(f'sample {results.get("sample_id")}: imgs must be T x H x W x 3, '
                             f'got shape {imgs.shape}')
        inputs = torch.from_numpy(np.ascontiguousarray(imgs.transpose(0, 3, 1, 2)))
        data_sample = ActionDataSample()
        data_sample.gt_glosses = torch.tensor(results['gloss_ids'], dtype=torch.long)
        missing = [key for key in self.meta_keys if key not in results]
        if missing:
            raise KeyError(f'sample {results.get("sample_id")}: PackSignInputs needs the meta '
                           f'keys {missing}; set meta_keys or add them to the data info')
        metainfo = {key: results[key] for key in self.meta_keys}
        if 'img_shape' in metainfo:
            metainfo['img_shape'] = tuple(int(s) for s in metainfo['img_shape'])
        metainfo['gt_gloss_text'] = list(results['gloss_text'])
        data_sample.set_metainfo(metainfo)
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
