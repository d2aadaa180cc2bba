"""Reading a user's video for recognition: any file, frame folder or array, any size and
frame rate, brought to what the recipes were trained on.

The recipes' datasets are resized offline to 256x256 frames (aspect ratio not kept,
Lanczos; ``tools/data/*/preprocess.py``) and PHOENIX14 / PHOENIX14-T are filmed at 25
frames per second. :func:`read_video` decodes the input, optionally resamples it in time
and resizes it the same way; the config's test pipeline (centre crop, packing) follows.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.logging import print_log

from mmsign.datasets.transforms import SignDecode, SignInit

#: Frame size of the recipes' prepared datasets, ``(height, width)``.
RECIPE_FRAME_SIZE = (256, 256)
#: Frame rate of PHOENIX14 / PHOENIX14-T, the recipes' reference.
RECIPE_FPS = 25.0

VideoInput = Union[str, np.ndarray, torch.Tensor]


@dataclass
class VideoFrames:
    """Decoded frames and a record of how they were obtained.

    Attributes:
        imgs (np.ndarray): ``(T, H, W, 3)`` uint8 RGB frames, resized and resampled.
        name (str): The file or folder name (``'array'`` for an array).
        kind (str): ``'video'``, ``'frames'`` or ``'array'``.
        source_frames (int): Frames of the input.
        source_size (tuple[int, int]): ``(height, width)`` of the input frames.
        source_fps (float, optional): Frame rate of the input, when known.
        steps (list[str]): What was done to the frames, in order (also logged).
    """
    imgs: np.ndarray
    name: str
    kind: str
    source_frames: int
    source_size: Tuple[int, int]
    source_fps: Optional[float] = None
    steps: List[str] = field(default_factory=list)

    def describe(self) -> Dict[str, Any]:
        """A JSON-friendly summary (without the frames)."""
        return dict(name=self.name, kind=self.kind, source_frames=self.source_frames,
                    source_size=list(self.source_size), source_fps=self.source_fps,
                    frames=int(self.imgs.shape[0]), size=list(self.imgs.shape[1:3]),
                    steps=list(self.steps))


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


def _as_array(video: Union[np.ndarray, torch.Tensor]) -> np.ndarray:
    if isinstance(video, torch.Tensor):
        video = video.detach().cpu().numpy()
    if video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3 or not len(video):
        raise ValueError('an array video must be uint8 RGB of shape T x H x W x 3 with '
                         f'T >= 1, got {video.dtype} of shape {tuple(video.shape)}')
    return video


def read_video(video: VideoInput,
               frame_size: Optional[Sequence[int]] = RECIPE_FRAME_SIZE,
               fps: Optional[float] = None,
               source_fps: Optional[float] = None) -> VideoFrames:
    """Decode a video and bring it to the recipes' frame size and, optionally, frame rate.

    Args:
        video (str | np.ndarray | torch.Tensor): A video file (decord: mp4, avi, mkv ...),
            a folder of PNG/JPG frames (sorted by name), or a uint8 RGB array
            ``T x H x W x 3``.
        frame_size (Sequence[int], optional): ``(height, width)`` the frames are resized
            to (Lanczos, aspect ratio not kept) unless they have it already. Defaults to
            the recipes' 256x256; None keeps the input size.
        fps (float, optional): Resample in time to this frame rate (nearest frames; the
            recipes expect PHOENIX's 25). Defaults to None: every frame is kept.
        source_fps (float, optional): Frame rate of a frame folder or array (a video
            file's own rate is read from it). Needed when ``fps`` is given for those.

    Returns:
        VideoFrames: The frames and what was done to them.

    Raises:
        FileNotFoundError: ``video`` is a path that does not exist.
        ValueError: A malformed array, or ``fps`` without a known source frame rate.
        SignLoadError: A file or frame cannot be decoded.
    """
    if isinstance(video, str):
        if osp.isdir(video):
            results: Dict[str, Any] = dict(frame_dir=video, kind='frames')
        elif osp.isfile(video):
            results = dict(filename=video, kind='video')
        else:
            raise FileNotFoundError(f'video not found: {video} is neither a video file nor '
                                    'a folder of frames')
        name = osp.basename(osp.normpath(video))
        results['sample_id'] = name
        results = SignInit().transform(results)
        if 'video_reader' in results and source_fps is None:
            source_fps = float(results['video_reader'].get_avg_fps())
        total = results['num_frames']
    else:
        array = _as_array(video)
        name, total = 'array', len(array)
        results = dict(kind='array', sample_id=name, num_frames=total)

    steps: List[str] = []
    inds = None
    if fps is not None:
        if source_fps is None:
            raise ValueError(f'fps={fps} asks for resampling, but the frame rate of {name} is '
                             'unknown: pass source_fps')
        inds = resample_indices(total, source_fps, fps)
        steps.append(f'resampled {total} frames at {source_fps:g} fps to {len(inds)} frames '
                     f'at {fps:g} fps (nearest frames)')
    elif source_fps is not None and abs(source_fps - RECIPE_FPS) > 0.1 * RECIPE_FPS:
        print_log(f'{name} runs at {source_fps:g} fps; the recipes were trained on '
                  f'{RECIPE_FPS:g} fps videos (PHOENIX): consider fps={RECIPE_FPS:g}',
                  logger='current')

    if results['kind'] == 'array':
        imgs = array if inds is None else array[inds]
    else:
        if inds is not None:
            results['frame_inds'] = inds
        imgs = SignDecode().transform(results)['imgs']
    source_size = (int(imgs.shape[1]), int(imgs.shape[2]))

    if frame_size is not None:
        height, width = (int(s) for s in frame_size)
        if source_size != (height, width):
            imgs = np.stack([cv2.resize(img, (width, height), interpolation=cv2.INTER_LANCZOS4)
                             for img in imgs])
            steps.append(f'resized {source_size[1]}x{source_size[0]} to {width}x{height} '
                         '(Lanczos, aspect ratio not kept, as the recipes\' preprocess.py)')
    frames = VideoFrames(imgs=np.ascontiguousarray(imgs), name=name, kind=results['kind'],
                         source_frames=total, source_size=source_size, source_fps=source_fps,
                         steps=steps)
    print_log(f'{name}: {frames.kind}, {total} frames of {source_size[1]}x{source_size[0]}'
              + (f' at {source_fps:g} fps' if source_fps else '')
              + ('; ' + '; '.join(steps) if steps else '; used as it is'), logger='current')
    return frames


__all__ = ['RECIPE_FPS', 'RECIPE_FRAME_SIZE', 'VideoFrames', 'read_video', 'resample_indices']
