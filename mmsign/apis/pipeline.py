"""The config's test pipeline as inference uses it, for every entry point.

A model is evaluated on frames that went through its config's test pipeline
(``SignInit -> SignDecode -> SignResize -> SignCenterCrop -> PackSignInputs`` in the
recipes). Inference on a user's video runs the same steps after ``SignDecode`` (decoding
is done by :mod:`mmsign.apis.video_input`, which also reads arrays, resamples in time
and reads long videos window by window), so the frame size, the crop and the packing are
the config's: the demo, the web demo, long videos and the ONNX runtime all come here.
"""
import copy
import logging
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmaction.registry import TRANSFORMS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import print_log


def build_test_pipeline(cfg: Config) -> Tuple[list, list]:
    """The config's test pipeline split around ``SignDecode``.

    Args:
        cfg (Config): A recognizer config with ``test_dataloader.dataset.pipeline`` or
            ``test_pipeline``.

    Returns:
        tuple[list, list]: The step configs up to and including ``SignDecode`` (loading)
        and those after it.

    Raises:
        ValueError: The config has no test pipeline, or it has no ``SignDecode`` step.
    """
    pipeline = None
    if cfg.get('test_dataloader'):
        pipeline = cfg.test_dataloader.get('dataset', {}).get('pipeline')
    pipeline = pipeline or cfg.get('test_pipeline')
    if not pipeline:
        raise ValueError('the config has no test pipeline (test_dataloader.dataset.pipeline '
                         'or test_pipeline): inference needs its resize, crop and packing '
                         'steps')
    types = [step['type'] for step in pipeline]
    if 'SignDecode' not in types:
        raise ValueError(f'the test pipeline {types} has no SignDecode step: inference '
                         'replaces the steps up to it with its own video reading')
    split = types.index('SignDecode')
    return list(pipeline[:split + 1]), list(pipeline[split + 1:])


def inference_steps(cfg: Config, frame_size: Optional[Sequence[int]] = None) -> List[dict]:
    """The step configs inference runs on decoded frames.

    Args:
        cfg (Config): The recognizer's config.
        frame_size (Sequence[int], optional): ``(height, width)`` that replaces the size
            of the pipeline's ``SignResize`` (or adds one right after decoding). None
            keeps the config's steps as they are.

    Returns:
        list[dict]: Step configs after ``SignDecode``.
    """
    _, steps = build_test_pipeline(cfg)
    steps = copy.deepcopy(steps)
    types = [step['type'] for step in steps]
    if frame_size is not None:
        size = [int(s) for s in frame_size]
        if 'SignResize' in types:
            steps[types.index('SignResize')]['size'] = size
        else:
            steps.insert(0, dict(type='SignResize', size=size))
    elif 'SignResize' not in types:
        print_log(f'the test pipeline {types} has no SignResize step: the frames enter the '
                  'crop at their own size; add dict(type="SignResize", size=...) with the '
                  'size of the evaluated frames to the test pipeline, or pass frame_size',
                  logger='current', level=logging.WARNING)
    return steps


def pipeline_frame_size(steps: Sequence[dict]) -> Optional[Tuple[int, int]]:
    """``(height, width)`` of the ``SignResize`` among ``steps``; None without one."""
    for step in steps:
        if step['type'] == 'SignResize':
            size = step['size']
            return (int(size), int(size)) if isinstance(size, int) else tuple(
                int(s) for s in size)
    return None


class FramePipeline:
    """Built transforms that turn decoded frames into a model batch of one video.

    Args:
        steps (Sequence[dict]): From :func:`inference_steps`.
    """

    def __init__(self, steps: Sequence[dict]) -> None:
        self.steps = [dict(step) for step in steps]
        self.transforms = [TRANSFORMS.build(step) for step in self.steps]

    def __call__(self, imgs: np.ndarray, name: str = 'video') -> Dict[str, Any]:
        """Run the steps on ``(T, H, W, 3)`` uint8 RGB frames.

        Args:
            imgs (np.ndarray): Decoded frames.
            name (str): Sample id (shown in errors).

        Returns:
            dict: A collated batch (``pseudo_collate``) for the model's data preprocessor.
        """
        results: Dict[str, Any] = dict(
            imgs=imgs, img_shape=imgs.shape[1:3], original_shape=imgs.shape[1:3],
            num_frames=int(imgs.shape[0]), sample_id=name, signer='unknown', gloss_ids=[],
            gloss_text=[])
        for transform in self.transforms:
            results = transform(results)
        return pseudo_collate([results])

    def describe(self, source_size: Tuple[int, int]) -> List[str]:
        """What the steps do to frames of ``source_size`` ``(height, width)``, in words."""
        words = []
        size = pipeline_frame_size(self.steps)
        if size is not None and tuple(size) != tuple(source_size):
            words.append(f'resized {source_size[1]}x{source_size[0]} to {size[1]}x{size[0]} '
                         '(Lanczos, aspect ratio not kept: the config\'s SignResize, as the '
                         'recipes\' preprocess.py)')
        for step in self.steps:
            if step['type'] not in ('SignResize', 'PackSignInputs'):
                args = ', '.join(f'{k}={v}' for k, v in step.items() if k != 'type')
                words.append(f'{step["type"]}({args}) of the config\'s test pipeline')
        return words


__all__ = ['FramePipeline', 'build_test_pipeline', 'inference_steps', 'pipeline_frame_size']
