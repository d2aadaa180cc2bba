"""Build a recognizer from a config and a checkpoint; recognise the glosses of a video."""
import copy
import logging
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from mmaction.registry import MODELS, TRANSFORMS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import CheckpointLoader
from torch import Tensor, nn

from mmsign.apis.video_input import RECIPE_FRAME_SIZE, VideoFrames, VideoInput, read_video
from mmsign.datasets.vocabulary import GlossVocabulary
from mmsign.engine.checkpoint import check_checkpoint_file, check_checkpoint_fits
from mmsign.models.converters import vocabulary_from_meta
from mmsign.utils.runtime import load_config
from mmsign.utils.state_dict import first_difference, strip_prefix


@dataclass
class RecognitionResult:
    """The glosses recognised in one video.

    Attributes:
        glosses (list[str]): Glosses of the sequence (BiLSTM) branch: the model's answer.
        glosses_conv (list[str]): Glosses of the convolution branch.
        logits (Tensor): ``(T', C)`` float32 class scores of the sequence branch before
            the softmax, on the CPU; class 0 is the blank, class ``i`` is
            ``vocab.glosses[i - 1]``. One row per 4 input frames (``T' = ceil(T / 4)``).
        logits_conv (Tensor): ``(T', C)`` of the convolution branch.
        num_frames (int): Frames given to the model (after resampling).
        video (dict): The input and what was done to it (:meth:`VideoFrames.describe`).
        timing (dict[str, float]): Seconds spent reading (``read``), in the pipeline
            (``pipeline``), in the model (``model``), decoding (``decode``) and in all
            (``total``).
    """
    glosses: List[str]
    glosses_conv: List[str]
    logits: Tensor
    logits_conv: Tensor
    num_frames: int
    video: Dict[str, Any]
    timing: Dict[str, float]

    def to_dict(self, with_logits: bool = False) -> Dict[str, Any]:
        """A JSON-friendly dict; ``with_logits`` adds both logit matrices as lists."""
        out = dict(glosses=self.glosses, glosses_conv=self.glosses_conv,
                   num_frames=self.num_frames, output_frames=int(self.logits.shape[0]),
                   video=self.video, timing=self.timing)
        if with_logits:
            out['logits'] = self.logits.tolist()
            out['logits_conv'] = self.logits_conv.tolist()
        return out


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
            'tools/model_converters/adaptsign_official_to_mmsign.py)')
    return list(result.missing_keys)


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
        check_checkpoint_file(checkpoint)
        loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
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


def build_test_pipeline(cfg: Config) -> Tuple[list, list]:
    """The config's test pipeline split around ``SignDecode``: (loading, after decoding)."""
    pipeline = None
    if cfg.get('test_dataloader'):
        pipeline = cfg.test_dataloader.get('dataset', {}).get('pipeline')
    pipeline = pipeline or cfg.get('test_pipeline')
    if not pipeline:
        raise ValueError('the config has no test pipeline (test_dataloader.dataset.pipeline '
                         'or test_pipeline): inference needs its crop and packing steps')
    types = [step['type'] for step in pipeline]
    if 'SignDecode' not in types:
        raise ValueError(f'the test pipeline {types} has no SignDecode step: inference '
                         'replaces the steps up to it with its own video reading')
    split = types.index('SignDecode')
    return list(pipeline[:split + 1]), list(pipeline[split + 1:])


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def inference_recognizer(model: nn.Module,
                         video: VideoInput,
                         fps: Optional[float] = None,
                         source_fps: Optional[float] = None,
                         frame_size: Optional[Sequence[int]] = RECIPE_FRAME_SIZE
                         ) -> RecognitionResult:
    """Recognise the glosses signed in one video.

    The video is decoded, resampled to ``fps`` if asked, resized to ``frame_size`` (the
    recipes' datasets are prepared at 256x256) and passed through the steps of the
    config's test pipeline after ``SignDecode`` (the recipes: centre crop 224, packing).
    Both branches are decoded with the model's decoder.

    Args:
        model (nn.Module): From :func:`init_recognizer`.
        video (str | np.ndarray | torch.Tensor): A video file, a folder of PNG/JPG frames,
            or a uint8 RGB array ``T x H x W x 3``.
        fps (float, optional): Resample to this frame rate first (the recipes were
            trained at 25 fps). Defaults to None (every frame).
        source_fps (float, optional): Frame rate of a frame folder or array.
        frame_size (Sequence[int], optional): ``(height, width)`` before the pipeline;
            None keeps the input size. Defaults to 256x256.

    Returns:
        RecognitionResult: glosses of both branches, logits and timing.
    """
    if getattr(model, 'cfg', None) is None:
        raise ValueError('the model has no .cfg (its config, whose test pipeline inference '
                         'uses): build it with init_recognizer')
    if getattr(model, 'vocab', None) is None:
        raise ValueError('the model has no vocabulary: set model.vocab in the config or use '
                         'a checkpoint that stores one')
    device = next(model.parameters()).device
    start = time.perf_counter()
    frames: VideoFrames = read_video(video, frame_size=frame_size, fps=fps,
                                     source_fps=source_fps)
    read_done = time.perf_counter()

    _, after_decode = build_test_pipeline(model.cfg)
    results: Dict[str, Any] = dict(
        imgs=frames.imgs, img_shape=frames.imgs.shape[1:3],
        original_shape=frames.imgs.shape[1:3], num_frames=int(frames.imgs.shape[0]),
        sample_id=frames.name, signer='unknown', gloss_ids=[], gloss_text=[])
    for step in after_decode:
        results = TRANSFORMS.build(step)(results)
    data = pseudo_collate([results])
    pipeline_done = time.perf_counter()

    with torch.no_grad():
        data = model.data_preprocessor(data, False)
        outputs = model(data['inputs'], data['lengths'], mode='tensor')
        length = outputs.lengths[0]
        logits = outputs.seq_logits[:length, 0].float()
        logits_conv = outputs.conv_logits[:length, 0].float()
        _sync(device)
        model_done = time.perf_counter()
        seq_ids = model.decoder(logits.log_softmax(-1)[:, None], [length])[0]
        conv_ids = model.decoder(logits_conv.log_softmax(-1)[:, None], [length])[0]
    end = time.perf_counter()
    timing = dict(read=read_done - start, pipeline=pipeline_done - read_done,
                  model=model_done - pipeline_done, decode=end - model_done, total=end - start)
    return RecognitionResult(
        glosses=model.vocab.decode(seq_ids), glosses_conv=model.vocab.decode(conv_ids),
        logits=logits.cpu(), logits_conv=logits_conv.cpu(),
        num_frames=int(data['lengths'][0]), video=frames.describe(),
        timing={k: round(v, 6) for k, v in timing.items()})


__all__ = ['RecognitionResult', 'build_test_pipeline', 'inference_recognizer',
           'init_recognizer']
