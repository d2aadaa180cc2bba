"""Released checkpoint files of the lineage: reading and checking them.

Reading a released file safely (:func:`load_official_checkpoint`) and checking its
classifier against a vocabulary and a dataset (:func:`check_vocabulary`), for every model
(:func:`mmsign.models.converters.released.convert_released_checkpoint` writes the mmsign
checkpoint; each model's key mapping is its own module).
"""
import logging
import os.path as osp
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor

from mmsign.datasets.vocabulary import GlossVocabulary
from mmsign.models.converters.adaptsign import (
    RELEASED_NUM_CLASSES,
    OfficialCheckpointError,
)
from mmsign.utils.torch_load import allow_mmengine_checkpoints


def owned_tensor(tensor: Tensor) -> Tensor:
    """The tensor alone in its storage, so that saving it saves nothing else."""
    if tensor.untyped_storage().nbytes() == tensor.nbytes and tensor.is_contiguous():
        return tensor
    return tensor.clone(memory_format=torch.contiguous_format)


def load_official_checkpoint(path: str, unsafe_load: bool = False) -> Dict[str, Any]:
    """Read a released checkpoint file onto the CPU.

    The file also holds the optimiser, scheduler and RNG states (tensors, a
    ``collections.Counter``, NumPy's RNG state). ``torch.load(weights_only=True)`` reads
    them once NumPy's array classes are allowlisted, as mmsign does for mmengine's own
    checkpoints; nothing in the file can run code. ``unsafe_load=True`` falls back to full
    unpickling, for files from a source you trust that hold other objects.

    Args:
        path (str): The ``.pt`` / ``.pth`` file.
        unsafe_load (bool): Unpickle everything (``weights_only=False``). Defaults to False.

    Returns:
        dict: The saved dict; a bare state dict is returned as ``{'model_state_dict': ...}``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        OfficialCheckpointError: The file holds objects that safe loading refuses, or no
            state dict.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'released checkpoint not found: {path}')
    allow_mmengine_checkpoints()
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=not unsafe_load)
    except Exception as e:  # torch.load raises many types for a broken file
        refused = re.search(r'Unsupported global: GLOBAL (\S+)', str(e))
        if refused:
            raise OfficialCheckpointError(
                f'{path} holds objects that torch.load(weights_only=True) refuses to '
                f'unpickle ({refused.group(1)}). If the file comes from a source you trust, '
                'convert it with --unsafe-load (full unpickling can run code hidden in a '
                'file)') from e
        # torch's weights-only message buries the cause after "WeightsUnpickler error:".
        lines = [line for line in str(e).split('WeightsUnpickler error:')[-1].splitlines()
                 if line.strip()]
        reason = lines[0].strip() if lines else ''
        raise OfficialCheckpointError(f'cannot read {path} ({type(e).__name__}: {reason}): is '
                                      'it a complete torch.save file?') from e
    if isinstance(checkpoint, Mapping) and 'model_state_dict' in checkpoint:
        return dict(checkpoint)
    if isinstance(checkpoint, Mapping) and checkpoint and all(
            isinstance(v, Tensor) for v in checkpoint.values()):
        return {'model_state_dict': checkpoint}
    found = list(checkpoint)[:10] if isinstance(checkpoint, Mapping) else type(checkpoint)
    raise OfficialCheckpointError(
        f'{path} is not a released AdaptSign checkpoint: expected a dict with '
        f'"model_state_dict", found {found}')


def check_vocabulary(num_classes: int, vocab: Optional[GlossVocabulary],
                     dataset: Optional[str] = None) -> List[str]:
    """Compare a released classifier with a vocabulary and a dataset.

    Class ``i`` (1-based) of a released model is ``glosses[i - 1]`` of the vocabulary its
    training built: the sorted set of the raw glosses of all three splits. A vocabulary
    that is not sorted that way was built differently and maps classes to wrong glosses.

    Args:
        num_classes (int): Classifier outputs of the checkpoint, blank included.
        vocab (GlossVocabulary, optional): The vocabulary meant for it.
        dataset (str, optional): The dataset it was trained on (a key of
            :data:`RELEASED_NUM_CLASSES`).

    Returns:
        list[str]: Problems found, each a full sentence; empty when all agree.
    """
    problems = []
    guesses = [name for name, count in RELEASED_NUM_CLASSES.items() if count == num_classes]
    if dataset is not None:
        if dataset not in RELEASED_NUM_CLASSES:
            problems.append(f'unknown dataset {dataset!r}: use one of '
                            f'{sorted(RELEASED_NUM_CLASSES)}')
        elif RELEASED_NUM_CLASSES[dataset] != num_classes:
            problems.append(
                f'the checkpoint has {num_classes} classes but {dataset} has '
                f'{RELEASED_NUM_CLASSES[dataset]} (glosses + blank)'
                + (f'; the count is that of {", ".join(guesses)}' if guesses else ''))
    if vocab is not None:
        if vocab.num_classes != num_classes:
            problems.append(
                f'the checkpoint has {num_classes} classes ({num_classes - 1} glosses + '
                f'blank) but the vocabulary has {len(vocab)} glosses + blank = '
                f'{vocab.num_classes}' + (f'; the count is that of {", ".join(guesses)}'
                                          if guesses else ''))
        if vocab.glosses != sorted(vocab.glosses):
            first = next(i for i, (a, b) in enumerate(zip(vocab.glosses, sorted(vocab.glosses)))
                         if a != b)
            problems.append(
                'the vocabulary is not in the released class order (the sorted set of the '
                f'glosses): class {first + 1} is {vocab.glosses[first]!r} but would be '
                f'{sorted(vocab.glosses)[first]!r}; rebuild it with tools/data/build_vocab.py')
    return problems


def checked_vocabulary(src: str, num_classes: int, vocab: Optional[str],
                       dataset: Optional[str],
                       allow_mismatch: bool) -> Tuple[Optional[GlossVocabulary], List[str]]:
    """Load ``vocab`` and check it and ``dataset`` against a released checkpoint.

    Returns:
        tuple: The vocabulary (None without ``vocab``) and the problems found, each logged.

    Raises:
        OfficialCheckpointError: Problems were found and ``allow_mismatch`` is False.
    """
    vocabulary = GlossVocabulary.load(vocab) if vocab is not None else None
    problems = check_vocabulary(num_classes, vocabulary, dataset)
    if problems and not allow_mismatch:
        raise OfficialCheckpointError(
            f'{src} does not match the vocabulary / dataset given:\n  - '
            + '\n  - '.join(problems)
            + '\nGive the vocabulary, dataset or config of the dataset the checkpoint was '
            'trained on (or --allow-mismatch to convert anyway)')
    for problem in problems:
        print_log(f'vocabulary mismatch, converted anyway: {problem}', logger='current',
                  level=logging.WARNING)
    return vocabulary, problems


def model_cfg_for_checkpoint(model_cfg: dict, num_classes: int) -> dict:
    """A recipe's model config shaped to a released checkpoint's weights (no vocabulary or
    pretrained backbone to load, the checkpoint's class count)."""
    return dict(model_cfg, vocab=None, backbone=dict(model_cfg['backbone'], pretrained=None),
                head=dict(model_cfg['head'], num_classes=num_classes))


def vocabulary_from_meta(meta: Optional[Mapping[str, Any]]) -> Optional[List[str]]:
    """The glosses stored in an mmsign checkpoint's meta (class order), if any."""
    if not meta:
        return None
    glosses = meta.get('vocab')
    if glosses is None and isinstance(meta.get('dataset_meta'), Mapping):
        glosses = meta['dataset_meta'].get('glosses')
    return list(glosses) if glosses else None



__all__ = ['check_vocabulary', 'checked_vocabulary', 'load_official_checkpoint',
           'model_cfg_for_checkpoint', 'owned_tensor', 'vocabulary_from_meta']
