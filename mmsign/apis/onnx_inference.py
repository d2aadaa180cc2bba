"""Recognition with an exported ONNX model: onnxruntime, numpy and a video reader only.

:func:`write_onnx_metadata` stores in the ``.onnx`` file what inference needs besides
the network: the vocabulary, the test pipeline's steps after decoding (frame size,
crop, packing), the decoder config and the head's frame stride. :class:`OnnxRecognizer`
reads them back, so the file alone recognises a video: decoded (decord, or OpenCV for
frame folders), prepared by the config's steps (the frame functions the pipeline's own
transforms call, :mod:`mmsign.utils.frames`), run by onnxruntime, decoded and aligned to
the frames (:mod:`mmsign.utils.ctc`) as :func:`~mmsign.apis.inference_recognizer` does.

Nothing here imports torch or the OpenMMLab stack: a deployment installs onnxruntime,
numpy, OpenCV and decord (``tests/apis/test_onnx_without_torch.py`` runs it with torch
blocked). The one exception is a file whose decoder is a beam search: that decoder is
mmsign's ``CTCBeamSearchDecoder`` and needs the PyTorch install (the greedy decoder, the
quick start's, needs nothing).
"""
import json
import os
import os.path as osp
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from mmsign.apis.result import RecognitionResult
from mmsign.utils.ctc import ctc_forced_alignment, gloss_timestamps, greedy_decode
from mmsign.utils.frames import (
    center_offsets,
    crop_frames,
    pair,
    resample_indices,
    resize_frames,
)

#: Key of mmsign's entry in the ONNX file's metadata.
METADATA_KEY = 'mmsign'
#: Image files of a frame folder.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')


def write_onnx_metadata(path: str, glosses: Sequence[str], steps: Sequence[dict],
                        decoder: Dict[str, Any], frame_stride: int) -> None:
    """Store what inference needs besides the network in an ONNX file.

    Args:
        path (str): The ``.onnx`` file, rewritten in place.
        glosses (Sequence[str]): Vocabulary in class order (class ``i`` is
            ``glosses[i - 1]``).
        steps (Sequence[dict]): Test-pipeline steps after ``SignDecode``.
        decoder (dict): The model's decoder config.
        frame_stride (int): Input frames per output frame (``head.geometry.stride``).
    """
    import onnx

    model = onnx.load(path)
    entry = model.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(dict(glosses=list(glosses), steps=[dict(s) for s in steps],
                                  decoder=dict(decoder), frame_stride=int(frame_stride)))
    onnx.save(model, path)


def read_clip(video: Union[str, np.ndarray], fps: Optional[float] = None,
              source_fps: Optional[float] = None) -> Tuple[np.ndarray, Dict[str, Any]]:
    """Decode a whole video: a file (decord), a folder of frames (OpenCV) or an array.

    Args:
        video (str | np.ndarray): Video file, frame folder, or uint8 RGB ``T x H x W x 3``.
        fps (float, optional): Resample to this frame rate (nearest frames).
        source_fps (float, optional): Frame rate of a frame folder or array.

    Returns:
        tuple[np.ndarray, dict]: ``(T, H, W, 3)`` uint8 RGB frames and what they are
        (``name``, ``kind``, ``source_frames``, ``source_fps``, ``fps``, ``steps``).
    """
    if isinstance(video, str):
        name = osp.basename(osp.normpath(video))
        if osp.isdir(video):
            kind, (read, count) = 'frames', _frame_folder(video)
        elif osp.isfile(video):
            kind, (read, count, file_fps) = 'video', _video_file(video)
            source_fps = file_fps if source_fps is None else source_fps
        else:
            raise FileNotFoundError(f'video not found: {video} is neither a video file nor '
                                    'a folder of frames')
    else:
        array = np.asarray(video)
        if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3 or not len(array):
            raise ValueError('an array video must be uint8 RGB of shape T x H x W x 3 with '
                             f'T >= 1, got {array.dtype} of shape {tuple(array.shape)}')
        name, kind, count = 'array', 'array', len(array)

        def read(inds):
            return array[inds]
    inds, steps = np.arange(count), []
    if fps is not None:
        if source_fps is None:
            raise ValueError(f'fps={fps} asks for resampling, but the frame rate of {name} '
                             'is unknown: pass source_fps')
        inds = resample_indices(count, source_fps, fps)
        steps.append(f'resampled {count} frames at {source_fps:g} fps to {len(inds)} frames '
                     f'at {fps:g} fps (nearest frames)')
    info = dict(name=name, kind=kind, source_frames=count, source_fps=source_fps,
                fps=fps if fps is not None else source_fps, steps=steps)
    return read(inds), info


def _frame_folder(folder: str) -> Tuple[Callable, int]:
    import cv2

    paths = sorted(osp.join(folder, n) for n in os.listdir(folder)
                   if n.lower().endswith(IMAGE_EXTENSIONS))
    if not paths:
        raise ValueError(f'{folder} holds no PNG/JPG frames: give a video file or a folder '
                         'of frames')

    def read(inds):
        frames = []
        for i in inds:
            img = cv2.imread(paths[i], cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f'cannot decode {paths[i]}: replace or remove the frame')
            frames.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        return np.stack(frames)
    return read, len(paths)


def _video_file(path: str) -> Tuple[Callable, int, float]:
    import decord

    try:
        reader = decord.VideoReader(path, num_threads=1)
    except Exception as error:  # decord raises DECORDError (a RuntimeError) and others
        raise ValueError(f'cannot open video {path} ({error}): the file is truncated or not '
                         'a video; re-encode it (ffmpeg -i IN -c:v libx264 OUT.mp4)') from error
    if len(reader) == 0:
        raise ValueError(f'video {path} has no frames')
    return (lambda inds: reader.get_batch(list(inds)).asnumpy(), len(reader),
            float(reader.get_avg_fps()))


def prepare_frames(imgs: np.ndarray, steps: Sequence[dict]) -> Tuple[np.ndarray, List[str]]:
    """The test pipeline's steps after decoding, on ``(T, H, W, 3)`` frames.

    Args:
        imgs (np.ndarray): Decoded uint8 RGB frames.
        steps (Sequence[dict]): The file's steps (``SignResize``, ``SignCenterCrop``,
            ``PackSignInputs``).

    Returns:
        tuple[np.ndarray, list[str]]: ``uint8 [T, 3, H, W]`` packed frames, and what was
        done to them in words.
    """
    words = []
    for step in steps:
        kind = step['type']
        if kind == 'SignResize':
            size = pair(step['size'])
            if tuple(imgs.shape[1:3]) != size:
                words.append(f'resized {imgs.shape[2]}x{imgs.shape[1]} to {size[1]}x{size[0]} '
                             '(Lanczos, aspect ratio not kept: the config\'s SignResize)')
            imgs = resize_frames(imgs, size)
        elif kind == 'SignCenterCrop':
            size = pair(step['size'])
            imgs = crop_frames(imgs, *center_offsets(imgs.shape[1], imgs.shape[2], size), *size)
            words.append(f'SignCenterCrop(size={step["size"]}) of the config\'s test pipeline')
        elif kind != 'PackSignInputs':
            raise ValueError(f'the ONNX file\'s test pipeline has a {kind} step, which '
                             'OnnxRecognizer does not run (it runs SignResize, SignCenterCrop, '
                             'PackSignInputs): use inference_recognizer with the config')
    return np.ascontiguousarray(imgs.transpose(0, 3, 1, 2)), words


class OnnxRecognizer:
    """An exported recognizer run by onnxruntime (no torch).

    Args:
        path (str): ``.onnx`` file from ``tools/deployment/export_onnx.py``.
        providers (Sequence[str], optional): onnxruntime execution providers. Defaults
            to ``['CPUExecutionProvider']``.
        num_threads (int, optional): Intra-op threads (onnxruntime's default: all cores).
        log_severity_level (int, optional): onnxruntime's log level (0 verbose .. 4 fatal);
            None keeps its default (2, warnings).
    """

    def __init__(self, path: str, providers: Optional[Sequence[str]] = None,
                 num_threads: Optional[int] = None,
                 log_severity_level: Optional[int] = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        if log_severity_level is not None:
            options.log_severity_level = log_severity_level
        self.session = onnxruntime.InferenceSession(
            path, options, providers=list(providers or ['CPUExecutionProvider']))
        meta = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise ValueError(f'{path} has no mmsign metadata (vocabulary, pipeline): export '
                             'it with tools/deployment/export_onnx.py')
        info = json.loads(meta[METADATA_KEY])
        self.path = path
        self.glosses = info['glosses']
        self.frame_stride = info['frame_stride']
        self.steps = info['steps']
        self.decoder_cfg = dict(info['decoder'])
        self.blank = self.decoder_cfg.get('blank', 0)
        self._decoder = None if self.decoder_cfg['type'] == 'CTCGreedyDecoder' else (
            _torch_decoder(self.decoder_cfg))

    def log_probs(self, frames: np.ndarray) -> Dict[str, np.ndarray]:
        """Run the network on ``uint8 [T, 3, H, W]`` packed frames.

        Returns:
            dict[str, np.ndarray]: ``log_probs`` and ``log_probs_conv``, ``[T', C]``.
        """
        seq, conv = self.session.run(None, {'frames': np.ascontiguousarray(frames)})
        return dict(log_probs=seq, log_probs_conv=conv)

    def decode(self, log_probs: np.ndarray) -> List[int]:
        """Class ids of one video's ``[T', C]`` log-probabilities, by the file's decoder."""
        if self._decoder is None:
            return greedy_decode(log_probs, self.blank,
                                 self.decoder_cfg.get('merge_repeated_glosses', True))
        import torch
        return self._decoder(torch.from_numpy(log_probs)[:, None], [len(log_probs)])[0]

    def _decode(self, log_probs: np.ndarray, num_frames: int, fps: Optional[float]):
        ids = self.decode(log_probs)
        glosses = [self.glosses[i - 1] for i in ids]
        segments = ctc_forced_alignment(log_probs, ids, blank=self.blank)
        return glosses, gloss_timestamps(segments, glosses, self.frame_stride, num_frames, fps)

    def __call__(self, video: Union[str, np.ndarray], fps: Optional[float] = None,
                 source_fps: Optional[float] = None) -> RecognitionResult:
        """Recognise a video in one pass, as :func:`~mmsign.apis.inference_recognizer`.

        Args:
            video (str | np.ndarray): A video file, a folder of frames or a uint8 RGB
                array ``T x H x W x 3``.
            fps (float, optional): Resample to this frame rate first.
            source_fps (float, optional): Frame rate of a frame folder or array.

        Returns:
            RecognitionResult: As from :func:`~mmsign.apis.inference_recognizer`, with
            numpy log-probabilities as ``logits`` (the softmax of either is the same).
        """
        start = time.perf_counter()
        imgs, info = read_clip(video, fps=fps, source_fps=source_fps)
        read = time.perf_counter()
        frames, words = prepare_frames(imgs, self.steps)
        prepared = time.perf_counter()
        out = self.log_probs(frames)
        ran = time.perf_counter()
        num_frames = len(imgs)
        glosses, stamps = self._decode(out['log_probs'], num_frames, info['fps'])
        glosses_conv, stamps_conv = self._decode(out['log_probs_conv'], num_frames,
                                                 info['fps'])
        end = time.perf_counter()
        resize = [pair(s['size']) for s in self.steps if s['type'] == 'SignResize']
        size = list(resize[0] if resize else imgs.shape[1:3])
        return RecognitionResult(
            glosses=glosses, glosses_conv=glosses_conv,
            logits=out['log_probs'], logits_conv=out['log_probs_conv'],
            num_frames=num_frames,
            video=dict(name=info['name'], kind=info['kind'],
                       source_frames=info['source_frames'],
                       source_size=[int(s) for s in imgs.shape[1:3]],
                       source_fps=info['source_fps'], fps=info['fps'], frames=num_frames,
                       size=size, steps=info['steps'] + words),
            timing=dict(read=read - start, pipeline=prepared - read, model=ran - prepared,
                        decode=end - ran, total=end - start),
            timestamps=stamps, timestamps_conv=stamps_conv)


def _torch_decoder(cfg: Dict[str, Any]):
    """mmsign's decoder of ``cfg`` (a beam search), which needs the PyTorch install."""
    try:
        from mmaction.registry import MODELS
        from mmengine.registry import init_default_scope

        import mmsign.models  # noqa: F401  (registers the decoders)
    except ModuleNotFoundError as error:
        raise ValueError(f'this ONNX file decodes with {cfg["type"]}, which needs mmsign\'s '
                         f'PyTorch install ({error}); export it with --cfg-options '
                         'model.decoder.type=CTCGreedyDecoder to run it without') from error
    init_default_scope('mmaction')
    return MODELS.build(cfg)


__all__ = ['METADATA_KEY', 'OnnxRecognizer', 'prepare_frames', 'read_clip',
           'write_onnx_metadata']
