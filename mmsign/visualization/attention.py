"""Where an AdaptSign recognizer looks in a video, and when it emits each gloss.

:func:`video_attention` runs a recognizer on a video with
:func:`~mmsign.visualization.recording.record_attention`'s hooks on its backbone and maps
everything back onto the video's own frames: the aggregation query's attention over the
patches, the temporal correlation's gates towards the neighbouring frames and the frames
at which the CTC output emits each recognised gloss.
"""
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmaction.registry import TRANSFORMS
from mmengine.config import Config
from torch import Tensor, nn

from mmsign.apis import build_test_pipeline, inference_recognizer, inference_steps, read_video
from mmsign.apis.video_input import VideoInput
from mmsign.models.heads import RELEASED_GEOMETRY, PaddingGeometry
from mmsign.visualization.recording import record_attention

#: Input frames behind one output step of the recipes' temporal conv (two pools of 2);
#: a model's own is its head's ``geometry.stride`` (:attr:`VideoAttention.frames_per_step`).
FRAMES_PER_STEP = RELEASED_GEOMETRY.stride


@dataclass
class GlossEmission:
    """A gloss of the best CTC path and where it appears.

    Attributes:
        step (int): The output step of the head where the gloss's run starts.
        frames (range): The input frames that step covers (``frames_per_step`` of them,
            fewer at the video's end).
        gloss (str): The gloss.
    """
    step: int
    frames: range
    gloss: str

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-friendly dict."""
        return dict(step=self.step, first_frame=self.frames.start,
                    last_frame=self.frames.stop - 1, gloss=self.gloss)


def ctc_emissions(logits: Tensor, glosses: Sequence[str], num_frames: int,
                  blank: int = 0, merge_repeated_glosses: bool = True,
                  frames_per_step: int = FRAMES_PER_STEP) -> List[GlossEmission]:
    """The glosses of the best (greedy) CTC path with the steps that emit them.

    A gloss is emitted at the first step of each run of a non-blank class, which is where
    the CTC collapse reads it; with ``merge_repeated_glosses`` a gloss equal to the one
    emitted before is left out, as the decoders do.

    Args:
        logits (Tensor): ``(T', C)`` class scores of one video, class 0 the blank.
        glosses (Sequence[str]): Class ``i`` is ``glosses[i - 1]``.
        num_frames (int): Input frames T of the video.
        blank (int): Blank id. Defaults to 0.
        merge_repeated_glosses (bool): Merge neighbouring equal glosses. Defaults to True.
        frames_per_step (int): Input frames per output step (the head's
            ``geometry.stride``). Defaults to 4, the recipes'.

    Returns:
        list[GlossEmission]: In time order.
    """
    emissions = []
    previous, last_gloss = blank, None
    for step, label in enumerate(logits.argmax(-1).tolist()):
        if label != blank and label != previous:
            if not (merge_repeated_glosses and label == last_gloss):
                first = step * frames_per_step
                emissions.append(GlossEmission(
                    step, range(first, min(first + frames_per_step, num_frames)),
                    glosses[label - 1]))
            last_gloss = label
        previous = label
    return emissions


def model_input_box(cfg: Config,
                    frame_size: Tuple[int, int]) -> Tuple[float, float, float, float]:
    """The part of a frame the config's test pipeline hands to the model.

    Args:
        cfg (Config): A recognizer config (its test pipeline after ``SignDecode``).
        frame_size (tuple[int, int]): ``(height, width)`` of the frames entering it.

    Returns:
        tuple[float, float, float, float]: ``(x1, y1, x2, y2)`` in the frame's pixels; it extends
        beyond the frame where the crop zero-pads a smaller frame.
    """
    height, width = frame_size
    _, after_decode = build_test_pipeline(cfg)
    results: Dict[str, Any] = dict(
        imgs=np.zeros((1, height, width, 3), dtype=np.uint8), img_shape=(height, width),
        original_shape=(height, width), num_frames=1, sample_id='box', signer='unknown',
        gloss_ids=[], gloss_text=[])
    # Frame pixel = offset + current pixel * scale; a resize scales, a crop shifts.
    left, top, scale_x, scale_y = 0.0, 0.0, 1.0, 1.0
    box_h, box_w = height, width
    for step in after_decode:
        transform = TRANSFORMS.build(step)
        crop_before = results.get('crop_bbox')
        results = transform(results)
        if 'imgs' not in results:  # packed: the frames are final
            break
        new_h, new_w = results['imgs'].shape[1:3]
        if (new_h, new_w) == (box_h, box_w):
            continue
        crop = results.get('crop_bbox')
        if step['type'] == 'SignResize':
            scale_x, scale_y = scale_x * box_w / new_w, scale_y * box_h / new_h
        elif crop is None or crop is crop_before:
            raise ValueError(f'{transform!r} of the test pipeline turns {box_w}x{box_h} '
                             f'frames into {new_w}x{new_h} without a crop: cannot place the '
                             'patches on the frames')
        else:
            x1, y1 = int(crop[0]), int(crop[1])
            # A crop larger than the frames pads them, centred, first.
            left += (x1 - max(new_w - box_w, 0) // 2) * scale_x
            top += (y1 - max(new_h - box_h, 0) // 2) * scale_y
        box_h, box_w = new_h, new_w
    return left, top, left + box_w * scale_x, top + box_h * scale_y


@dataclass
class VideoAttention:
    """Attention maps of one video, on its own frames.

    ``T`` frames, a ``gh x gw`` patch grid, a temporal window of ``W`` frames.

    Attributes:
        frames (np.ndarray): ``(T, H, W, 3)`` uint8 RGB frames as read (original size,
            resampled in time when asked).
        patch_attention (np.ndarray): ``(T, gh, gw)`` float32: the aggregation query's
            attention over the patches (``layer``), summing to 1 per frame.
        cls_share (np.ndarray): ``(T,)`` the query's weight on the class token, which
            the patch maps leave out.
        temporal_gates (np.ndarray, optional): ``(T, W, gh, gw)`` the gates
            ``sigmoid(c_t . U / sqrt(D)) - 0.5`` of frame t against each patch of the frame
            at window offset ``j - W // 2``; None without temporal correlation.
        temporal_sources (np.ndarray, optional): ``(T, W)`` the frame each window
            position sees, -1 where it sees zeros beyond the video.
        temporal_weight (float): The learned scale ``w_t`` of the correlation feature.
        model_box (tuple[float, float, float, float]): ``(x1, y1, x2, y2)``, the region of
            the original frames the model saw (after resizing and cropping).
        layer (int | str): The aggregation layer of ``patch_attention`` or ``'mean'``.
        glosses (list[str]): The recognised glosses (the model's decoder).
        emissions (list[GlossEmission]): The greedy CTC path's glosses and their frames.
        num_steps (int): Output steps T' of the head.
        video (dict): What was read and done to it (:meth:`VideoFrames.describe`).
        frames_per_step (int): Input frames behind one output step (the head's stride).
    """
    frames: np.ndarray
    patch_attention: np.ndarray
    cls_share: np.ndarray
    temporal_gates: Optional[np.ndarray]
    temporal_sources: Optional[np.ndarray]
    temporal_weight: float
    model_box: Tuple[float, float, float, float]
    layer: Union[int, str]
    glosses: List[str]
    emissions: List[GlossEmission]
    num_steps: int
    video: Dict[str, Any]
    frames_per_step: int = FRAMES_PER_STEP

    @property
    def num_frames(self) -> int:
        """T."""
        return int(self.frames.shape[0])

    def mean_temporal_gates(self) -> Optional[np.ndarray]:
        """``(T, W)``: each window position's gates averaged over its patches."""
        if self.temporal_gates is None:
            return None
        return self.temporal_gates.mean(axis=(2, 3))

    def emission_at(self, frame: int) -> Optional[GlossEmission]:
        """The emission whose step covers ``frame``, if any."""
        return next((e for e in self.emissions if frame in e.frames), None)

    def summary(self) -> Dict[str, Any]:
        """A JSON-friendly summary (the per-patch maps go to the ``.npz``)."""
        gates = self.mean_temporal_gates()
        return dict(
            video=self.video, num_frames=self.num_frames, num_steps=self.num_steps,
            frames_per_step=self.frames_per_step, layer=self.layer,
            patch_grid=list(self.patch_attention.shape[1:]),
            model_box=[round(float(v), 2) for v in self.model_box],
            glosses=self.glosses, emissions=[e.to_dict() for e in self.emissions],
            temporal_weight=self.temporal_weight,
            cls_share=[round(float(v), 4) for v in self.cls_share],
            mean_temporal_gates=None if gates is None else np.round(gates, 4).tolist())


def video_attention(model: nn.Module,
                    video: VideoInput,
                    layer: Union[int, str] = 'mean',
                    fps: Optional[float] = None,
                    source_fps: Optional[float] = None,
                    frame_size: Optional[Sequence[int]] = None
                    ) -> VideoAttention:
    """Recognise a video and record where the backbone looks in every frame.

    The video is read once at its own size; :func:`~mmsign.apis.inference_recognizer`
    runs the config's test pipeline (its ``SignResize`` and crop), with the backbone
    recording (:func:`~mmsign.visualization.recording.record_attention`).

    Args:
        model (nn.Module): From :func:`~mmsign.apis.init_recognizer`, with an AdaptSign
            backbone.
        video (str | np.ndarray | torch.Tensor): A video file, a folder of frames or a
            uint8 RGB array ``T x H x W x 3``.
        layer (int | str): Aggregation layer to show (negative counts from the last) or
            ``'mean'`` over the layers. Defaults to ``'mean'``.
        fps (float, optional): Resample to this frame rate first.
        source_fps (float, optional): Frame rate of a frame folder or array.
        frame_size (Sequence[int], optional): ``(height, width)`` overriding the test
            pipeline's ``SignResize``, as in :func:`~mmsign.apis.inference_recognizer`.
            Defaults to None: the config's.

    Returns:
        VideoAttention: The maps on the original frames, the glosses and their frames.
    """
    geometry: PaddingGeometry = getattr(model.head, 'geometry', RELEASED_GEOMETRY)
    original = read_video(video, frame_size=None, fps=fps, source_fps=source_fps)
    frames = original.imgs
    num_frames, height, width = frames.shape[:3]
    with record_attention(model.backbone) as records:
        result = inference_recognizer(model, frames, frame_size=frame_size, window=None)
    record = records[-1].to('cpu')

    # padding_mode='frames' runs the backbone on the edge-padded video.
    first = geometry.left_pad if getattr(model, 'padding_mode', 'features') == 'frames' else 0
    rows = slice(first, first + num_frames)
    grid = record.patch_grid()
    maps = record.patch_attention(layer)[rows].reshape(num_frames, *grid)
    gates = sources = None
    if record.temporal_gates is not None:
        gates = record.temporal_gates[rows].reshape(num_frames, -1, *grid).numpy()
        seen = record.temporal_sources[rows]
        sources = torch.where(seen >= 0, (seen - first).clamp(0, num_frames - 1),
                              seen).numpy()

    cfg = model.cfg
    if frame_size is not None:
        cfg = cfg.copy()
        cfg.test_pipeline = [dict(type='SignDecode'), *inference_steps(cfg, frame_size)]
        cfg.pop('test_dataloader', None)
    x1, y1, x2, y2 = model_input_box(cfg, (height, width))
    decoder = model.decoder
    emissions = ctc_emissions(result.logits, model.vocab.glosses, num_frames,
                              blank=getattr(decoder, 'blank', 0),
                              merge_repeated_glosses=getattr(decoder, 'merge_repeated_glosses',
                                                             True),
                              frames_per_step=geometry.stride)
    return VideoAttention(
        frames=frames, patch_attention=maps.numpy(),
        cls_share=record.cls_share(layer)[rows].numpy(), temporal_gates=gates,
        temporal_sources=sources, temporal_weight=record.temporal_weight,
        model_box=(x1, y1, x2, y2), layer=layer,
        glosses=result.glosses, emissions=emissions, num_steps=int(result.logits.shape[0]),
        video=original.describe(), frames_per_step=geometry.stride)


__all__ = ['FRAMES_PER_STEP', 'GlossEmission', 'VideoAttention', 'ctc_emissions',
           'model_input_box', 'video_attention']
