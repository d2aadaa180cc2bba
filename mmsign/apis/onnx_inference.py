"""Recognition with an exported ONNX model and onnxruntime: no torch-side model code.

:func:`write_onnx_metadata` stores in the ``.onnx`` file what inference needs besides
the network: the vocabulary, the test pipeline's steps after decoding (frame size,
crop, packing), the decoder config and the head's frame stride. :class:`OnnxRecognizer`
reads them back, so the file alone recognises a video: decoded and prepared by the
config's steps (:mod:`mmsign.apis.pipeline`), run by onnxruntime, decoded by the same
CTC decoder and aligned to the frames as :func:`~mmsign.apis.inference_recognizer`.
"""
import json
import time
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope

from mmsign.apis.inference import RecognitionResult
from mmsign.apis.pipeline import FramePipeline, pipeline_frame_size
from mmsign.apis.video_input import VideoInput, VideoSource
from mmsign.models.decoders.timestamps import ctc_forced_alignment, gloss_timestamps

#: Key of mmsign's entry in the ONNX file's metadata.
METADATA_KEY = 'mmsign'


def write_onnx_metadata(path: str, glosses: Sequence[str], steps: Sequence[dict],
                        decoder: Dict[str, Any], frame_stride: int) -> None:
    """Store what inference needs besides the network in an ONNX file.

    Args:
        path (str): The ``.onnx`` file, rewritten in place.
        glosses (Sequence[str]): Vocabulary in class order (class ``i`` is
            ``glosses[i - 1]``).
        steps (Sequence[dict]): Test-pipeline steps after ``SignDecode``.
        decoder (dict): The model's decoder config.
        frame_stride (int): Input frames per output frame.
    """
    import onnx

    model = onnx.load(path)
    entry = model.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(dict(glosses=list(glosses), steps=[dict(s) for s in steps],
                                  decoder=dict(decoder), frame_stride=int(frame_stride)))
    onnx.save(model, path)


class OnnxRecognizer:
    """An exported recognizer run by onnxruntime.

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
        self.pipeline = FramePipeline(info['steps'])
        init_default_scope('mmaction')
        self.decoder = MODELS.build(info['decoder'])

    def log_probs(self, frames: np.ndarray) -> Dict[str, np.ndarray]:
        """Run the network on ``uint8 [T, 3, H, W]`` packed frames.

        Returns:
            dict[str, np.ndarray]: ``log_probs`` and ``log_probs_conv``, ``[T', C]``.
        """
        seq, conv = self.session.run(None, {'frames': np.ascontiguousarray(frames)})
        return dict(log_probs=seq, log_probs_conv=conv)

    def _decode(self, log_probs: np.ndarray, num_frames: int, fps: Optional[float]):
        scores = torch.from_numpy(log_probs)
        ids = self.decoder(scores[:, None], [len(scores)])[0]
        glosses = [self.glosses[i - 1] for i in ids]
        segments = ctc_forced_alignment(scores, ids, blank=getattr(self.decoder, 'blank', 0))
        return glosses, gloss_timestamps(segments, glosses, self.frame_stride, num_frames, fps)

    def __call__(self, video: VideoInput, fps: Optional[float] = None,
                 source_fps: Optional[float] = None) -> RecognitionResult:
        """Recognise a video in one pass, as :func:`~mmsign.apis.inference_recognizer`.

        Args:
            video (str | np.ndarray | torch.Tensor): A video file, a folder of frames or
                a uint8 RGB array ``T x H x W x 3``.
            fps (float, optional): Resample to this frame rate first.
            source_fps (float, optional): Frame rate of a frame folder or array.

        Returns:
            RecognitionResult: As from :func:`~mmsign.apis.inference_recognizer`, with
            the log-probabilities as ``logits`` (the softmax of either is the same).
        """
        start = time.perf_counter()
        source = VideoSource(video, fps=fps, source_fps=source_fps)
        imgs = source.read()
        read = time.perf_counter()
        frames = self.pipeline(imgs, source.name)['inputs'][0].numpy()
        prepared = time.perf_counter()
        out = self.log_probs(frames)
        ran = time.perf_counter()
        glosses, stamps = self._decode(out['log_probs'], source.num_frames, source.fps)
        glosses_conv, stamps_conv = self._decode(out['log_probs_conv'], source.num_frames,
                                                 source.fps)
        end = time.perf_counter()
        size = tuple(imgs.shape[1:3])
        return RecognitionResult(
            glosses=glosses, glosses_conv=glosses_conv,
            logits=torch.from_numpy(out['log_probs']),
            logits_conv=torch.from_numpy(out['log_probs_conv']),
            num_frames=source.num_frames,
            video=dict(name=source.name, kind=source.kind, source_frames=source.source_frames,
                       source_size=list(size), source_fps=source.source_fps, fps=source.fps,
                       frames=source.num_frames,
                       size=list(pipeline_frame_size(self.pipeline.steps) or size),
                       steps=source.steps + self.pipeline.describe(size)),
            timing=dict(read=read - start, pipeline=prepared - read, model=ran - prepared,
                        decode=end - ran, total=end - start),
            timestamps=stamps, timestamps_conv=stamps_conv)


__all__ = ['METADATA_KEY', 'OnnxRecognizer', 'write_onnx_metadata']
