"""Moves a batch of videos to the device, normalises and packs their frames."""
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseDataPreprocessor
from torch import Tensor


def _sample_id(data_samples: Optional[Sequence[Any]], index: int) -> str:
    if data_samples is None or index >= len(data_samples):
        return f'#{index}'
    return str(data_samples[index].metainfo.get('sample_id', f'#{index}'))


@MODELS.register_module()
class SignDataPreprocessor(BaseDataPreprocessor):
    """Packs the videos of a batch into one frame tensor and keeps their lengths.

    Videos of different lengths are concatenated along time, never zero-padded: the
    result holds exactly ``sum(T_i)`` frames. The frames travel to the device as uint8,
    video by video (asynchronously from pinned memory: set ``pin_memory=True`` in the
    DataLoader), and are packed and converted there; ``(x - mean) / std`` per channel
    follows (the AdaptSign configs use mean = std = 127.5, i.e. ``x / 127.5 - 1``).

    The data samples stay on the host: their ``gt_glosses`` feed the CTC loss's
    feasibility check and the decoders without reading device memory.

    Required keys of ``data``: ``inputs`` (list of uint8 ``T_i x 3 x H x W`` tensors, or
    one ``B x T x 3 x H x W`` tensor); optional ``data_samples``.

    Args:
        mean (Sequence[float]): Per-channel mean, RGB. Defaults to 127.5 each.
        std (Sequence[float]): Per-channel standard deviation. Defaults to 127.5 each.
        non_blocking (bool): Copy to the device asynchronously. Defaults to True.
    """

    def __init__(self,
                 mean: Sequence[float] = (127.5, 127.5, 127.5),
                 std: Sequence[float] = (127.5, 127.5, 127.5),
                 non_blocking: bool = True) -> None:
        super().__init__(non_blocking=non_blocking)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f'mean and std need 3 values (RGB), got {mean} and {std}')
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)

    def forward(self, data: Dict[str, Any], training: bool = False) -> Dict[str, Any]:
        """Normalise and pack a collated batch.

        Args:
            data (dict): ``pseudo_collate`` output: ``inputs`` and ``data_samples``.
            training (bool): Unused: the frames are treated alike in training and test.

        Returns:
            dict: ``inputs`` (float ``(sum(T_i), 3, H, W)`` on the device), ``lengths``
            (list of the host integers ``T_i``) and ``data_samples`` (unchanged, on the
            host), the keyword arguments of :meth:`SignRecognizer.forward`.
        """
        videos = data['inputs']
        data_samples = data.get('data_samples')
        if isinstance(videos, Tensor):
            if videos.dim() != 5:
                raise ValueError('inputs as one tensor must be B x T x 3 x H x W, got shape '
                                 f'{tuple(videos.shape)}')
            videos = list(videos.unbind(0))
        lengths: List[int] = []
        for i, video in enumerate(videos):
            if video.dim() != 4 or video.shape[1] != 3 or video.shape[0] < 1:
                raise ValueError(f'sample {_sample_id(data_samples, i)}: a video must be '
                                 f'T x 3 x H x W with T >= 1, got shape {tuple(video.shape)}')
            if video.shape[2:] != videos[0].shape[2:]:
                raise ValueError(f'sample {_sample_id(data_samples, i)}: frames of '
                                 f'{tuple(video.shape[2:])} in a batch of '
                                 f'{tuple(videos[0].shape[2:])}; crop or resize all videos '
                                 'to one size in the pipeline')
            lengths.append(int(video.shape[0]))
        if self.device.type != 'cpu':
            # Each video is copied as it is (pinned by the DataLoader with
            # pin_memory=True, so the copies do not wait) and packed on the device; a
            # host-side concatenation would make a new, pageable tensor.
            videos = [video.to(self.device, non_blocking=self._non_blocking)
                      for video in videos]
        packed = torch.cat(list(videos)) if len(videos) > 1 else videos[0]
        packed = (packed.to(self.device).float() - self.mean).div_(self.std)
        return dict(inputs=packed, lengths=lengths, data_samples=data_samples)
