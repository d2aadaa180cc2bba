"""Converters of checkpoints written by other code into mmsign checkpoints."""
from mmsign.models.converters.adaptsign import (
    CLASSIFIER_KEY,
    OFFICIAL_KEY_RULES,
    RELEASED_NUM_CLASSES,
    SHARED_CLASSIFIER_KEYS,
    OfficialCheckpointError,
    check_state_dict_fits,
    convert_official_state_dict,
    infer_model_settings,
    official_to_mmsign_key,
    released_model_cfg,
)
from mmsign.models.converters.adaptsign_files import (
    check_vocabulary,
    convert_official_checkpoint,
    load_official_checkpoint,
    vocabulary_from_meta,
)
from mmsign.models.converters.corrnet import (
    convert_corrnet_checkpoint,
    convert_corrnet_state_dict,
    corrnet_model_cfg,
    infer_corrnet_settings,
    is_corrnet_state_dict,
)
from mmsign.models.converters.slowfastsign import (
    convert_slowfastsign_state_dict,
    is_slowfastsign_state_dict,
    slowfastsign_model_cfg,
)

__all__ = [
    'CLASSIFIER_KEY', 'OFFICIAL_KEY_RULES', 'convert_corrnet_checkpoint',
    'convert_corrnet_state_dict', 'corrnet_model_cfg', 'infer_corrnet_settings',
    'is_corrnet_state_dict', 'OfficialCheckpointError', 'RELEASED_NUM_CLASSES',
    'SHARED_CLASSIFIER_KEYS', 'check_state_dict_fits', 'check_vocabulary',
    'convert_official_checkpoint', 'convert_official_state_dict', 'infer_model_settings',
    'load_official_checkpoint', 'official_to_mmsign_key', 'released_model_cfg',
    'vocabulary_from_meta', 'convert_slowfastsign_state_dict', 'is_slowfastsign_state_dict',
    'slowfastsign_model_cfg'
]
