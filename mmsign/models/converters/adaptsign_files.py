"""Released AdaptSign checkpoint files -> mmsign checkpoint files.

Reading a released file safely (:func:`load_official_checkpoint`), checking its
classifier against a vocabulary and a dataset (:func:`check_vocabulary`) and writing the
converted mmsign checkpoint (:func:`convert_official_checkpoint`); the key and shape
mapping is :mod:`mmsign.models.converters.adaptsign`.
"""
import json
import logging
import os.path as osp
import re
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor

from mmsign.datasets.vocabulary import GlossVocabulary
from mmsign.models.converters.adaptsign import (
    RELEASED_NUM_CLASSES,
    OfficialCheckpointError,
    check_state_dict_fits,
    convert_official_state_dict,
    infer_model_settings,
    released_model_cfg,
)
from mmsign.utils.torch_load import allow_mmengine_checkpoints
from mmsign.version import __version__


def _owned(tensor: Tensor) -> Tensor:
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


def convert_official_checkpoint(src: str,
                                dst: str,
                                vocab: Optional[str] = None,
                                dataset: Optional[str] = None,
                                model_cfg: Optional[dict] = None,
                                unsafe_load: bool = False,
                                allow_mismatch: bool = False) -> Dict[str, Any]:
    """Convert a released checkpoint file into an mmsign checkpoint file.

    Writes ``{'state_dict': ..., 'meta': ...}`` (mmengine's layout, readable by
    ``tools/test.py``, ``load_from`` and :func:`mmsign.apis.init_recognizer`). The meta
    holds the vocabulary (``meta['vocab']``, the glosses in class order) when one is given,
    the dataset, the released epoch and where the weights came from. Only the model's
    weights are kept (the optimiser, scheduler and RNG states are dropped).

    Args:
        src (str): The released checkpoint.
        dst (str): The mmsign checkpoint to write.
        vocab (str, optional): ``gloss_vocab.json`` of the dataset the checkpoint was
            trained on; checked against the classifier (count and order).
        dataset (str, optional): That dataset (a key of :data:`RELEASED_NUM_CLASSES`);
            checked against the class count.
        model_cfg (dict, optional): The ``SignRecognizer`` config whose layout the weights
            must fit exactly. Defaults to the released architecture read from the shapes.
        unsafe_load (bool): See :func:`load_official_checkpoint`. Defaults to False.
        allow_mismatch (bool): Convert although the vocabulary or dataset disagrees with
            the checkpoint (the problems are still logged and recorded in the meta).
            Defaults to False.

    Returns:
        dict: The meta written.

    Raises:
        OfficialCheckpointError: The file is not a released checkpoint, does not fit the
            model, or disagrees with ``vocab`` / ``dataset`` (without ``allow_mismatch``).
    """
    checkpoint = load_official_checkpoint(src, unsafe_load)
    state_dict = convert_official_state_dict(checkpoint['model_state_dict'])
    settings = infer_model_settings(state_dict)
    num_classes = settings['num_classes']
    vocabulary, problems = checked_vocabulary(src, num_classes, vocab, dataset,
                                              allow_mismatch)
    model_cfg = (released_model_cfg(settings) if model_cfg is None else
                 model_cfg_for_checkpoint(model_cfg, num_classes))
    check_state_dict_fits(state_dict, model_cfg)

    guesses = [n for n, c in RELEASED_NUM_CLASSES.items() if c == num_classes]
    arch = settings['backbone']['arch']
    meta = dict(
        mmsign_version=__version__,
        converted_from=osp.basename(src),
        source='AdaptSign released checkpoint (model_state_dict)',
        epoch=checkpoint.get('epoch') if isinstance(checkpoint.get('epoch'), int) else None,
        arch=arch if isinstance(arch, str) else json.dumps(arch),
        num_classes=num_classes,
        dataset=dataset or (guesses[0] if len(guesses) == 1 else None),
        vocab=None if vocabulary is None else list(vocabulary.glosses),
        vocab_problems=problems,
        # The released code pads frames before the backbone; mmsign's parity mode does too.
        parity_cfg_options={'model.padding_mode': 'frames'},
    )
    torch.save({'state_dict': OrderedDict((k, _owned(v)) for k, v in state_dict.items()),
                'meta': meta}, dst)
    print_log(f'{src} -> {dst}: {len(state_dict)} tensors ({num_classes} classes, '
              f'vocabulary {"from " + vocab if vocab else "not given"}, dataset '
              f'{meta["dataset"]}); for the released model\'s logits evaluate with '
              '--cfg-options model.padding_mode=frames', logger='current')
    return meta


def vocabulary_from_meta(meta: Optional[Mapping[str, Any]]) -> Optional[List[str]]:
    """The glosses stored in an mmsign checkpoint's meta (class order), if any."""
    if not meta:
        return None
    glosses = meta.get('vocab')
    if glosses is None and isinstance(meta.get('dataset_meta'), Mapping):
        glosses = meta['dataset_meta'].get('glosses')
    return list(glosses) if glosses else None



__all__ = ['check_vocabulary', 'convert_official_checkpoint', 'load_official_checkpoint',
           'vocabulary_from_meta']
