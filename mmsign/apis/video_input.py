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

from mmsign.datasets.errors import SignLoadError
from mmsign.datasets.transforms import SignDecode, SignInit
from mmsign.utils.frames import resample_indices

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


def _as_array(video: Union[np.ndarray, torch.Tensor]) -> np.ndarray:
    if isinstance(video, torch.Tensor):
        video = video.detach().cpu().numpy()
    if video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3 or not len(video):
        raise ValueError('an array video must be uint8 RGB of shape T x H x W x 3 with '
                         f'T >= 1, got {video.dtype} of shape {tuple(video.shape)}')
    return video


class VideoSource:
    """A video opened for reading frames on demand (never all of them at once).

    Frame ``i`` of the source is frame ``i`` after the optional resampling in time; a
    video file is decoded by decord only for the frames asked for, a frame folder reads
    only those files.

    Attributes:
        name (str): The file or folder name (``'array'`` for an array).
        kind (str): ``'video'``, ``'frames'`` or ``'array'``.
        source_frames (int): Frames of the input.
        source_fps (float, optional): Frame rate of the input, when known.
        fps (float, optional): Frame rate of the frames read (``source_fps`` unless
            resampled).
        num_frames (int): Frames that can be read.
        steps (list[str]): What is done to the frames in time, in words.
    """

    def __init__(self, video: VideoInput, fps: Optional[float] = None,
                 source_fps: Optional[float] = None) -> None:
        self._array: Optional[np.ndarray] = None
        if isinstance(video, str):
            if osp.isdir(video):
                results: Dict[str, Any] = dict(frame_dir=video, kind='frames')
            elif osp.isfile(video):
                results = dict(filename=video, kind='video')
            else:
                raise FileNotFoundError(f'video not found: {video} is neither a video file '
                                        'nor a folder of frames')
            self.name = osp.basename(osp.normpath(video))
            results['sample_id'] = self.name
            self._results = SignInit().transform(results)
            if 'video_reader' in self._results and source_fps is None:
                source_fps = float(self._results['video_reader'].get_avg_fps())
            self.kind = results['kind']
            self.source_frames = int(self._results['num_frames'])
        else:
            self._array = _as_array(video)
            self.name, self.kind = 'array', 'array'
            self.source_frames = len(self._array)
            self._results = {}
        self.source_fps = source_fps
        self.steps: List[str] = []
        self._inds: Optional[np.ndarray] = None
        if fps is not None:
            if source_fps is None:
                raise ValueError(f'fps={fps} asks for resampling, but the frame rate of '
                                 f'{self.name} is unknown: pass source_fps')
            self._inds = resample_indices(self.source_frames, source_fps, fps)
            self.steps.append(f'resampled {self.source_frames} frames at {source_fps:g} fps '
                              f'to {len(self._inds)} frames at {fps:g} fps (nearest frames)')
        elif source_fps is not None and abs(source_fps - RECIPE_FPS) > 0.1 * RECIPE_FPS:
            print_log(f'{self.name} runs at {source_fps:g} fps; the recipes were trained on '
                      f'{RECIPE_FPS:g} fps videos (PHOENIX): consider fps={RECIPE_FPS:g}',
                      logger='current')
        self.fps = fps if fps is not None else source_fps
        self.num_frames = self.source_frames if self._inds is None else len(self._inds)

    def read(self, start: int = 0, stop: Optional[int] = None) -> np.ndarray:
        """Decode frames ``start .. stop - 1`` (after resampling).

        Args:
            start (int): First frame. Defaults to 0.
            stop (int, optional): One past the last frame. Defaults to the end.

        Returns:
            np.ndarray: ``(stop - start, H, W, 3)`` uint8 RGB at the input's size.
        """
        stop = self.num_frames if stop is None else min(stop, self.num_frames)
        if not 0 <= start < stop:
            raise IndexError(f'{self.name}: cannot read frames {start}..{stop - 1} of '
                             f'{self.num_frames}')
        inds = np.arange(start, stop) if self._inds is None else self._inds[start:stop]
        if self._array is not None:
            return self._array[inds]
        # SignDecode pops the reader / frame list from the dict it gets: give it a copy.
        return SignDecode().transform(dict(self._results, frame_inds=inds))['imgs']

    def frame_index(self, frame: int) -> int:
        """The input's own index of frame ``frame`` (after resampling)."""
        return int(frame if self._inds is None else self._inds[frame])


def check_video(video: str) -> None:
    """Refuse a path that holds no readable video, before any model is built.

    Opens the file or folder and decodes its first frame (milliseconds), so a text file,
    an empty folder or a broken video ends a command before the seconds a model takes.

    Args:
        video (str): A video file or a folder of PNG/JPG frames.

    Raises:
        FileNotFoundError: ``video`` does not exist.
        SignLoadError: A folder without frames, or a file without a decodable video stream.
    """
    fix = 'give a video file (mp4, avi, mkv ...) or a folder of PNG/JPG frames'
    if not osp.exists(video):
        raise FileNotFoundError(f'video not found: {video} ({fix})')
    try:
        VideoSource(video).read(0, 1)
    except SignLoadError as e:
        if osp.isdir(video):
            raise SignLoadError(f'frame folder {video} holds no readable PNG/JPG frames: '
                                f'{fix}', path=video) from e
        raise SignLoadError(f'{video} has no video stream that can be decoded: {fix}',
                            path=video) from e


def read_video(video: VideoInput,
               frame_size: Optional[Sequence[int]] = RECIPE_FRAME_SIZE,
               fps: Optional[float] = None,
               source_fps: Optional[float] = None) -> VideoFrames:
    """Decode a video and bring it to a frame size and, optionally, frame rate.

    Inference does not resize here: it reads with ``frame_size=None`` and the config's
    test pipeline resizes (:mod:`mmsign.apis.pipeline`).

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
    source = VideoSource(video, fps=fps, source_fps=source_fps)
    imgs = source.read()
    steps = list(source.steps)
    source_size = (int(imgs.shape[1]), int(imgs.shape[2]))
    if frame_size is not None:
        height, width = (int(s) for s in frame_size)
        if source_size != (height, width):
            imgs = np.stack([cv2.resize(img, (width, height), interpolation=cv2.INTER_LANCZOS4)
                             for img in imgs])
            steps.append(f'resized {source_size[1]}x{source_size[0]} to {width}x{height} '
                         '(Lanczos, aspect ratio not kept, as the recipes\' preprocess.py)')
    frames = VideoFrames(imgs=np.ascontiguousarray(imgs), name=source.name, kind=source.kind,
                         source_frames=source.source_frames, source_size=source_size,
                         source_fps=source.source_fps, steps=steps)
    print_log(f'{source.name}: {frames.kind}, {source.source_frames} frames of '
              f'{source_size[1]}x{source_size[0]}'
              + (f' at {source.source_fps:g} fps' if source.source_fps else '')
              + ('; ' + '; '.join(steps) if steps else '; used as it is'), logger='current')
    return frames


__all__ = ['RECIPE_FPS', 'RECIPE_FRAME_SIZE', 'VideoFrames', 'VideoSource', 'check_video',
           'read_video', 'resample_indices']
