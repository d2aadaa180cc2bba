"""Build a recognizer from a config and a checkpoint; recognise the glosses of a video."""
import copy
import logging
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import CheckpointLoader
from torch import Tensor, nn

from mmsign.apis.long_video import (
    DEFAULT_OVERLAP,
    DEFAULT_WINDOW,
    plan_windows,
    windowed_logits,
)
from mmsign.apis.pipeline import (
    FramePipeline,
    build_test_pipeline,
    inference_steps,
    pipeline_frame_size,
)
from mmsign.apis.result import RecognitionResult
from mmsign.apis.video_input import VideoInput, VideoSource
from mmsign.datasets.vocabulary import GlossVocabulary
from mmsign.engine.checkpoint import (
    CHECKPOINT_HINT,
    check_checkpoint_file,
    check_checkpoint_fits,
)
from mmsign.engine.resume import CheckpointError, checkpoint_problem
from mmsign.models.converters import vocabulary_from_meta
from mmsign.utils.config import load_config
from mmsign.utils.ctc import ctc_forced_alignment, gloss_timestamps
from mmsign.utils.state_dict import first_difference, strip_prefix


def _choose_vocabulary(model_cfg: Config, meta: Optional[Mapping[str, Any]]) -> None:
    """Give the model the checkpoint's vocabulary when it has one (it fixes the classes)."""
    glosses = vocabulary_from_meta(meta)
    if glosses is None:
        return
    configured = model_cfg.get('vocab')
    if isinstance(configured, str):
        try:
            configured = GlossVocabulary.load(configured).glosses
        except FileNotFoundError:
            configured = None  # the dataset is not here; the checkpoint's list suffices
    elif configured is not None:
        configured = list(configured)
    if configured is not None and list(configured) != glosses:
        where = first_difference(configured, glosses, 'in the config', 'in the checkpoint')
        print_log('the config\'s vocabulary differs from the one stored in the checkpoint '
                  f'({where}): using the checkpoint\'s, which its classifier was trained '
                  'with', logger='current',
                  level=logging.WARNING)
    model_cfg.vocab = glosses


def _load_weights(model: nn.Module, state_dict: Mapping[str, Tensor],
                  allowed_missing: Sequence[str] = ()) -> List[str]:
    """Load every tensor of the model from ``state_dict``; only ``allowed_missing`` may be
    absent. Returns the missing keys."""
    result = model.load_state_dict(state_dict, strict=False)
    missing = [k for k in result.missing_keys if k not in set(allowed_missing)]
    if result.unexpected_keys or missing:
        raise RuntimeError(
            f'the checkpoint does not fit the model of the config: missing {missing}, '
            f'unexpected {result.unexpected_keys}; check that config and checkpoint belong '
            'together (released checkpoints: convert them with '
            'tools/model_converters/released_to_mmsign.py)')
    return list(result.missing_keys)


def _load_checkpoint_file(checkpoint: str) -> dict:
    """Load ``checkpoint``; a file that is missing, truncated or not a checkpoint is a
    :class:`CheckpointError` naming it and the reason (checked after a failed load, so a
    good file is read once)."""
    check_checkpoint_file(checkpoint)
    try:
        return CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    except Exception as e:
        if '://' in checkpoint:
            raise
        problem = checkpoint_problem(checkpoint) or f'{type(e).__name__}: {e}'
        raise CheckpointError(f'cannot load {checkpoint}: {problem}. {CHECKPOINT_HINT}') from e


def init_recognizer(config: Union[str, Config],
                    checkpoint: Optional[str] = None,
                    device: Union[str, torch.device] = 'cpu',
                    cfg_options: Optional[dict] = None) -> nn.Module:
    """Build a recognizer from a config and load a checkpoint into it.

    With a checkpoint, every weight comes from it: the config's CLIP weights
    (``model.backbone.pretrained``) are not downloaded unless the checkpoint lacks the
    frozen CLIP tensors (a checkpoint of trainable parameters only), in which case they
    come from ``pretrained`` and the log says so. The vocabulary stored in the checkpoint
    (converted released checkpoints and mmsign-trained ones carry it) replaces the
    config's, so the dataset need not be on this machine.

    Args:
        config (str | Config): Config file or object (e.g. ``configs/adaptsign_phoenix14.py``).
        checkpoint (str, optional): mmsign checkpoint (``{'state_dict', 'meta'}``). None
            keeps the config's initialisation.
        device (str | torch.device): Where the model runs. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into the config, as
            ``--cfg-options`` does (e.g. ``{'model.padding_mode': 'frames'}``).

    Returns:
        nn.Module: The recognizer in eval mode on ``device``, with the config as ``.cfg``.
    """
    if isinstance(config, str):
        cfg = load_config(config, cfg_options)
    else:
        cfg = copy.deepcopy(config)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model_cfg = copy.deepcopy(cfg.model)
    state_dict = meta = None
    if checkpoint is not None:
        loaded = _load_checkpoint_file(checkpoint)
        state_dict = loaded.get('state_dict', loaded)
        state_dict = strip_prefix(state_dict)
        meta = loaded.get('meta')
        _choose_vocabulary(model_cfg, meta)
    pretrained = model_cfg.get('backbone', {}).get('pretrained')
    if state_dict is not None and pretrained is not None:
        model_cfg.backbone.pretrained = None  # the checkpoint holds them (checked below)
    model = MODELS.build(model_cfg)
    if state_dict is not None:
        check_checkpoint_fits(model, loaded, checkpoint,
                              frozen_from_pretrained=pretrained is not None)
        clip_names = []
        # The frozen ViT's tensors (open_clip or mmpretrain), which a trainable-only
        # checkpoint leaves to model.backbone.pretrained.
        if hasattr(model.backbone, 'pretrained_parameter_names'):
            clip_names = ['backbone.' + n for n in model.backbone.pretrained_parameter_names()]
        missing = _load_weights(model, state_dict,
                                allowed_missing=clip_names if pretrained is not None else ())
        if missing:
            print_log(f'{checkpoint} holds no CLIP weights ({len(missing)} tensors): they '
                      f'come from model.backbone.pretrained={pretrained!r}', logger='current')
            model_cfg.backbone.pretrained = pretrained
            model = MODELS.build(model_cfg)
            _load_weights(model, state_dict, allowed_missing=missing)
        print_log(f'loaded {checkpoint}', logger='current')
        if meta and meta.get('parity_cfg_options') and model.padding_mode != 'frames':
            print_log('this checkpoint was converted from the released AdaptSign code; for '
                      'its exact logits use cfg_options={"model.padding_mode": "frames"}',
                      logger='current')
    model.cfg = cfg
    return model.to(device).eval()


def _decode(model: nn.Module, logits: Tensor, num_frames: int, fps: Optional[float],
            timestamps: bool) -> Tuple[List[str], List[Dict[str, Any]]]:
    """Decode one branch and, if asked, align its glosses to the frames."""
    log_probs = logits.log_softmax(-1)
    ids = model.decoder(log_probs[:, None], [len(logits)])[0]
    glosses = model.vocab.decode(ids)
    if not timestamps:
        return glosses, []
    segments = ctc_forced_alignment(log_probs, ids, blank=getattr(model.decoder, 'blank', 0))
    return glosses, gloss_timestamps(segments, glosses, model.head.geometry.stride,
                                     num_frames, fps)


def inference_recognizer(model: nn.Module,
                         video: VideoInput,
                         fps: Optional[float] = None,
                         source_fps: Optional[float] = None,
                         frame_size: Optional[Sequence[int]] = None,
                         window: Optional[int] = DEFAULT_WINDOW,
                         overlap: int = DEFAULT_OVERLAP,
                         stitch: str = 'features',
                         progress: bool = False,
                         timestamps: bool = True) -> RecognitionResult:
    """Recognise the glosses signed in a video of any length, with their times.

    The video is decoded (lazily, ``window`` frames at a time), resampled to ``fps`` if
    asked, and passed through the steps of the config's test pipeline after
    ``SignDecode``: the frame size (``SignResize``), the crop and the packing the model
    was evaluated with (:mod:`mmsign.apis.pipeline`). A video longer than ``window``
    frames is run in overlapping windows stitched before one decode
    (:mod:`mmsign.apis.long_video`). Both branches are decoded with the model's decoder
    and their glosses aligned to the frames (:mod:`mmsign.utils.ctc`).

    Args:
        model (nn.Module): From :func:`init_recognizer`.
        video (str | np.ndarray | torch.Tensor): A video file, a folder of PNG/JPG frames,
            or a uint8 RGB array ``T x H x W x 3``.
        fps (float, optional): Resample to this frame rate first (the recipes were
            trained at 25 fps). Defaults to None (every frame).
        source_fps (float, optional): Frame rate of a frame folder or array.
        frame_size (Sequence[int], optional): ``(height, width)`` that overrides the size
            of the test pipeline's ``SignResize``. Defaults to None: the config's.
        window (int, optional): Frames run at once; None runs the whole video in one
            pass. Defaults to :data:`~mmsign.apis.long_video.DEFAULT_WINDOW`.
        overlap (int): Frames shared by neighbouring windows. Defaults to
            :data:`~mmsign.apis.long_video.DEFAULT_OVERLAP`.
        stitch (str): ``'features'`` (exact) or ``'posteriors'``; see
            :mod:`mmsign.apis.long_video`.
        progress (bool): Show a progress bar over the windows.
        timestamps (bool): Align the glosses to the frames (a Viterbi pass per branch).
            Defaults to True; False leaves ``timestamps`` empty.

    Returns:
        RecognitionResult: glosses of both branches with timestamps, logits and timing.
    """
    if getattr(model, 'cfg', None) is None:
        raise ValueError('the model has no .cfg (its config, whose test pipeline inference '
                         'uses): build it with init_recognizer')
    if getattr(model, 'vocab', None) is None:
        raise ValueError('the model has no vocabulary: set model.vocab in the config or use '
                         'a checkpoint that stores one')
    start = time.perf_counter()
    source = VideoSource(video, fps=fps, source_fps=source_fps)
    pipeline = FramePipeline(inference_steps(model.cfg, frame_size))
    timing: Dict[str, float] = dict(read=time.perf_counter() - start)
    one_pass = window is None or source.num_frames <= window
    logits, logits_conv, num_frames = windowed_logits(
        model, source, pipeline, window=None if one_pass else window, overlap=overlap,
        stitch=stitch, progress=progress,
        timing=timing)
    decode_start = time.perf_counter()
    with torch.no_grad():
        glosses, stamps = _decode(model, logits, num_frames, source.fps, timestamps)
        glosses_conv, stamps_conv = _decode(model, logits_conv, num_frames, source.fps,
                                            timestamps)
    end = time.perf_counter()
    timing.update(decode=end - decode_start, total=end - start)
    first = source.read(0, 1)
    source_size = (int(first.shape[1]), int(first.shape[2]))
    size = pipeline_frame_size(pipeline.steps) or source_size
    steps = source.steps + pipeline.describe(source_size)
    print_log(f'{source.name}: {source.kind}, {source.source_frames} frames of '
              f'{source_size[1]}x{source_size[0]}'
              + (f' at {source.source_fps:g} fps' if source.source_fps else '')
              + '; ' + '; '.join(steps), logger='current')
    windows = 1 if one_pass else len(plan_windows(num_frames, window, overlap))
    return RecognitionResult(
        glosses=glosses, glosses_conv=glosses_conv, logits=logits, logits_conv=logits_conv,
        num_frames=num_frames,
        video=dict(name=source.name, kind=source.kind, source_frames=source.source_frames,
                   source_size=list(source_size), source_fps=source.source_fps,
                   fps=source.fps, frames=num_frames, size=list(size), steps=steps),
        timing={k: round(v, 6) for k, v in timing.items()}, timestamps=stamps,
        timestamps_conv=stamps_conv, windows=windows)


__all__ = ['RecognitionResult', 'build_test_pipeline', 'inference_recognizer',
           'init_recognizer']
