"""Converters of checkpoints written by other code into mmsign checkpoints.

Each model's released-checkpoint rules are one module here that registers a
:class:`~mmsign.models.converters.registry.ReleasedLayout` at import;
:func:`convert_released_checkpoint` converts a file of any of them.
"""
from mmsign.models.converters.adaptsign import (
    CLASSIFIER_KEY,
    OFFICIAL_KEY_RULES,
    RELEASED_NUM_CLASSES,
    SHARED_CLASSIFIER_KEYS,
    check_state_dict_fits,
    convert_official_state_dict,
    infer_model_settings,
    official_to_mmsign_key,
    released_model_cfg,
)
from mmsign.models.converters.adaptsign_files import (
    check_vocabulary,
    load_official_checkpoint,
    vocabulary_from_meta,
)
from mmsign.models.converters.corrnet import (
    convert_corrnet_state_dict,
    corrnet_model_cfg,
    infer_corrnet_settings,
    is_corrnet_state_dict,
)
from mmsign.models.converters.corrnet_plus import (
    convert_corrnet_plus_state_dict,
    corrnet_plus_model_cfg,
    is_corrnet_plus_state_dict,
)
from mmsign.models.converters.registry import (
    OfficialCheckpointError,
    ReleasedLayout,
    detect_layout,
    register_released_layout,
    released_layouts,
)
from mmsign.models.converters.released import convert_released_checkpoint
from mmsign.models.converters.sen import (
    convert_sen_state_dict,
    is_sen_state_dict,
    sen_model_cfg,
)
from mmsign.models.converters.signgraph import (
    convert_signgraph_state_dict,
    is_signgraph_state_dict,
    signgraph_model_cfg,
)
from mmsign.models.converters.slowfastsign import (
    convert_slowfastsign_state_dict,
    is_slowfastsign_state_dict,
    slowfastsign_model_cfg,
)
from mmsign.models.converters.vac import (
    convert_frame_wise_state_dict,
    frame_wise_model_cfg,
    is_tlp_checkpoint,
    is_vac_checkpoint,
)

__all__ = [
    'CLASSIFIER_KEY', 'OFFICIAL_KEY_RULES', 'OfficialCheckpointError', 'RELEASED_NUM_CLASSES',
    'ReleasedLayout', 'SHARED_CLASSIFIER_KEYS', 'check_state_dict_fits', 'check_vocabulary',
    'convert_corrnet_state_dict', 'convert_official_state_dict', 'convert_released_checkpoint',
    'corrnet_model_cfg', 'detect_layout', 'infer_corrnet_settings', 'infer_model_settings',
    'is_corrnet_state_dict', 'load_official_checkpoint', 'official_to_mmsign_key',
    'register_released_layout', 'released_layouts', 'released_model_cfg', 'vocabulary_from_meta',
    'convert_frame_wise_state_dict', 'frame_wise_model_cfg', 'is_tlp_checkpoint',
    'is_vac_checkpoint', 'convert_signgraph_state_dict', 'is_signgraph_state_dict',
    'signgraph_model_cfg', 'convert_slowfastsign_state_dict', 'is_slowfastsign_state_dict',
    'slowfastsign_model_cfg',
    'convert_corrnet_plus_state_dict', 'corrnet_plus_model_cfg', 'is_corrnet_plus_state_dict',
    'convert_sen_state_dict', 'is_sen_state_dict', 'sen_model_cfg'
]
