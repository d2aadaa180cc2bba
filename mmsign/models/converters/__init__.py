"""Converters of released checkpoints into mmsign checkpoints."""
from .corrnet import (  # noqa: F401
    convert_corrnet_checkpoint,
    convert_corrnet_state_dict,
    corrnet_model_cfg,
    infer_corrnet_settings,
    is_corrnet_state_dict,
)
