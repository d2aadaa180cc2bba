"""Checkpoints for the engine: safe loading and refusing what does not fit.

Safe loading is :mod:`mmsign.utils.torch_load` (re-exported here). This module adds the
checks that refuse, with one clear :class:`~mmsign.engine.resume.CheckpointError`, a
file that is not a checkpoint and a checkpoint that does not fit the model, whatever
the cause: tensors of other shapes, trained tensors the checkpoint lacks (they would
keep their random initial values), tensors the model has no place for, a checkpoint of
another backbone. :class:`~mmsign.engine.hooks.CheckpointCompatibilityHook` and
:func:`mmsign.apis.init_recognizer` call them.
"""
from typing import Any, Collection, Mapping, Optional, Sequence

from torch import nn

from mmsign.engine.resume import CheckpointError
from mmsign.utils.state_dict import diff_state_dicts, first_difference, strip_prefix
from mmsign.utils.torch_load import (
    STATISTIC_METHODS,
    allow_mmengine_checkpoints,
    history_buffer_getattr,
    not_a_checkpoint,
)

#: What to pass instead of a file that is not a usable checkpoint.
CHECKPOINT_HINT = ('Pass a checkpoint written by mmsign (tools/train.py, '
                   'work_dirs/*/epoch_*.pth) or by tools/model_converters/')
#: Names listed in a message; the rest are counted.
_LISTED = 5


def check_checkpoint_file(path: Optional[str]) -> None:
    """Raise :class:`CheckpointError` if the local file ``path`` is plainly not a
    checkpoint (see :func:`not_a_checkpoint`); URLs and None pass."""
    if not path or '://' in str(path):
        return
    problem = not_a_checkpoint(str(path))
    if problem is not None:
        raise CheckpointError(f'cannot load {path}: {problem}. {CHECKPOINT_HINT}')


def _listed(names: Sequence[str]) -> str:
    shown = ', '.join(names[:_LISTED])
    return shown + (f' and {len(names) - _LISTED} more' if len(names) > _LISTED else '')


def _classes_hint(mismatched: Sequence[tuple], vocab: Any) -> str:
    if vocab is None:
        return ''
    classes = vocab.num_classes
    for _, theirs, ours in mismatched:
        for dim, size in enumerate(ours):
            if size == classes and len(theirs) == len(ours) and theirs[dim] != classes:
                return (f'. The checkpoint has {theirs[dim]} classes ({theirs[dim] - 1} '
                        f'glosses + blank), the model {classes} ({len(vocab)} glosses + '
                        'blank, from model.vocab): it was trained with another vocabulary. '
                        'Use the config and vocab_file it was trained with (to fine-tune on '
                        'another vocabulary, drop the classifier weights from the checkpoint '
                        'first)')
    return ''


def _backbone_parts(keys: Collection[str]) -> set:
    return {key.split('.')[1] for key in keys if key.startswith('backbone.') and
            key.count('.') >= 2}


def check_checkpoint_fits(model: nn.Module, checkpoint: Mapping[str, Any], source: str,
                          frozen_from_pretrained: bool = False,
                          strict_keys: bool = True) -> None:
    """Refuse a checkpoint that does not fit ``model``, with one clear message.

    Always refused: tensors of another shape than the model's (for the classifier: the
    checkpoint's class count against the model's vocabulary), a checkpoint of another
    backbone (its backbone's parts are not the model's), and a training vocabulary
    (``meta.dataset_meta.glosses``) other than ``model.vocab``. With ``strict_keys`` also
    refused: tensors the model has no place for, and tensors of the model the checkpoint
    lacks, except the frozen ViT's when ``frozen_from_pretrained`` (a checkpoint of the
    trainable parameters only, the ViT coming from ``model.backbone.pretrained``).

    Args:
        model (nn.Module): The model the checkpoint is for (unwrapped).
        checkpoint (Mapping): The loaded checkpoint (``state_dict`` and ``meta``) or a bare
            state dict.
        source (str): The checkpoint's path, for the message.
        frozen_from_pretrained (bool): The frozen ViT's weights come from the backbone's
            ``pretrained`` file. Defaults to False.
        strict_keys (bool): Refuse missing and unexpected keys (evaluation, inference);
            fine-tuning from ``load_from`` passes False. Defaults to True.

    Raises:
        CheckpointError: What does not fit and what to do.
    """
    state = checkpoint.get('state_dict', checkpoint)
    state = strip_prefix(state)
    own = model.state_dict()
    diff = diff_state_dicts(state, own)
    vocab = getattr(model, 'vocab', None)
    problems = []
    if diff.mismatched:
        problems.append('; '.join(f'{name} is {theirs} in the checkpoint but {ours} in the '
                                  'model' for name, theirs, ours in diff.mismatched[:_LISTED])
                        + (f' (and {len(diff.mismatched) - _LISTED} more)'
                           if len(diff.mismatched) > _LISTED else '')
                        + _classes_hint(diff.mismatched, vocab))
    theirs, ours = _backbone_parts(state), _backbone_parts(own)
    backbone = type(getattr(model, 'backbone', model)).__name__
    if theirs - ours and ours - theirs:
        problems.append(
            f'it holds another backbone than the model\'s {backbone}: its backbone has '
            f'{_listed(sorted(theirs - ours))}, the model\'s has '
            f'{_listed(sorted(ours - theirs))} instead. Use the config it was trained with')
    elif strict_keys:
        frozen = set()
        names = getattr(getattr(model, 'backbone', None), 'pretrained_parameter_names', None)
        if frozen_from_pretrained and names is not None:
            # Only the frozen ones: ln_post and proj are trained from their pretrained
            # values, and a checkpoint without them would lose the training.
            trainable = {name for name, p in model.named_parameters() if p.requires_grad}
            frozen = {'backbone.' + name for name in names()} - trainable
        absent = set(diff.missing) - frozen
        missing = [key for key in own if key in absent]  # model order: the stem first
        if missing:
            from_pretrained = [key for key in missing if key.startswith('backbone.')]
            problems.append(
                f'it lacks {len(missing)} of the model\'s tensors ({_listed(missing)}): they '
                'would keep their random initial values and the scores would be those of '
                'an untrained model'
                + ('. A checkpoint of the trainable parameters only needs the frozen ViT '
                   'from model.backbone.pretrained' if from_pretrained and not frozen else ''))
        if diff.unexpected:
            problems.append(f'it holds {len(diff.unexpected)} tensors the model has no place '
                            f'for ({_listed(diff.unexpected)})')
    if problems:
        raise CheckpointError(f'{source} does not fit the model: ' + '; '.join(problems)
                              + ('' if diff.mismatched or theirs - ours and ours - theirs
                                 else '. Check that config and checkpoint belong together'))
    trained = (checkpoint.get('meta') or {}).get('dataset_meta') or {}
    glosses = trained.get('glosses')
    if vocab is not None and glosses is not None and list(glosses) != list(vocab.glosses):
        raise CheckpointError(
            f'{source} was trained with another vocabulary than the model\'s '
            f'(checkpoint against model.vocab: {first_difference(glosses, vocab.glosses)}): '
            'its class ids would be decoded to the wrong glosses. Set model.vocab to the '
            'vocab_file the checkpoint was trained with')


__all__ = ['CHECKPOINT_HINT', 'STATISTIC_METHODS', 'allow_mmengine_checkpoints',
           'check_checkpoint_file', 'check_checkpoint_fits', 'history_buffer_getattr',
           'not_a_checkpoint']
