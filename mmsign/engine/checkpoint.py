"""Checkpoints for the engine: safe loading (:mod:`mmsign.utils.torch_load`)."""
from mmsign.utils.torch_load import (
    STATISTIC_METHODS,
    allow_mmengine_checkpoints,
    history_buffer_getattr,
)

__all__ = ['STATISTIC_METHODS', 'allow_mmengine_checkpoints', 'history_buffer_getattr']
