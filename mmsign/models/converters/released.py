"""One conversion for the released checkpoints of every registered model."""
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, Optional

import torch
from mmengine.logging import print_log

from mmsign.models.converters.adaptsign import RELEASED_NUM_CLASSES, check_state_dict_fits
from mmsign.models.converters.adaptsign_files import (
    checked_vocabulary,
    load_official_checkpoint,
    model_cfg_for_checkpoint,
    owned_tensor,
)
from mmsign.models.converters.registry import (
    OfficialCheckpointError,
    detect_layout,
    released_layouts,
    strip_module_prefix,
)
from mmsign.version import __version__


def convert_released_checkpoint(src: str,
                                dst: str,
                                model: str = 'auto',
                                vocab: Optional[str] = None,
                                dataset: Optional[str] = None,
                                model_cfg: Optional[dict] = None,
                                unsafe_load: bool = False,
                                allow_mismatch: bool = False) -> Dict[str, Any]:
    """Convert a released checkpoint file of any registered model into an mmsign one.

    Writes ``{'state_dict': ..., 'meta': ...}`` (mmengine's layout, readable by
    ``tools/test.py``, ``load_from`` and :func:`mmsign.apis.init_recognizer`). The meta
    holds the model detected, the vocabulary (``meta['vocab']``, the glosses in class
    order) when one is given, the dataset, the released epoch, the keys dropped and the
    config options that give the released model's outputs. The optimiser, scheduler and
    RNG states are dropped.

    Args:
        src (str): The released checkpoint (read with ``weights_only=True``).
        dst (str): The mmsign checkpoint to write.
        model (str): A registered layout name, or ``'auto'`` to tell it from the keys.
        vocab (str, optional): ``gloss_vocab.json`` of the dataset the checkpoint was
            trained on; checked against the classifier (count and order).
        dataset (str, optional): That dataset (a key of :data:`RELEASED_NUM_CLASSES`).
        model_cfg (dict, optional): The ``SignRecognizer`` config whose layout the weights
            must fit exactly. Defaults to the released architecture read from the keys.
        unsafe_load (bool): Unpickle the file fully (only for trusted files that safe
            loading refuses). Defaults to False.
        allow_mismatch (bool): Convert although the vocabulary or dataset disagrees.

    Returns:
        dict: The meta written.

    Raises:
        OfficialCheckpointError: The file is no released checkpoint of a known model, does
            not fit the model, or disagrees with ``vocab`` / ``dataset``.
    """
    layouts = released_layouts()
    checkpoint = load_official_checkpoint(src, unsafe_load)
    released = strip_module_prefix(checkpoint['model_state_dict'])
    if model == 'auto':
        layout = detect_layout(released)
    elif model in layouts:
        layout = layouts[model]
    else:
        raise OfficialCheckpointError(f'unknown model {model!r}: use one of '
                                      f'{", ".join(sorted(layouts))} or auto')
    dropped = sorted(layout.dropped(set(released)))
    state_dict = layout.convert({k: v for k, v in released.items() if k not in dropped})
    released_cfg = layout.model_cfg(state_dict)
    num_classes = released_cfg['head']['num_classes']
    vocabulary, problems = checked_vocabulary(src, num_classes, vocab, dataset,
                                              allow_mismatch)
    model_cfg = (released_cfg if model_cfg is None else
                 model_cfg_for_checkpoint(model_cfg, num_classes))
    check_state_dict_fits(state_dict, model_cfg)

    guesses = [n for n, c in RELEASED_NUM_CLASSES.items() if c == num_classes]
    epoch = checkpoint.get('epoch')
    meta = dict(
        mmsign_version=__version__,
        converted_from=osp.basename(src),
        model=layout.name,
        source=f'{layout.description} released checkpoint (model_state_dict)',
        epoch=epoch if isinstance(epoch, int) else None,
        arch=layout.arch(released_cfg),
        num_classes=num_classes,
        dataset=dataset or (guesses[0] if len(guesses) == 1 else None),
        vocab=None if vocabulary is None else list(vocabulary.glosses),
        vocab_problems=problems,
        dropped_keys=dropped,
        parity_cfg_options=dict(layout.parity_cfg_options),
    )
    torch.save({'state_dict': OrderedDict((k, owned_tensor(v)) for k, v in state_dict.items()),
                'meta': meta}, dst)
    options = ' '.join(f'{k}={v}' for k, v in layout.parity_cfg_options.items())
    print_log(f'{src} -> {dst}: {len(state_dict)} tensors ({layout.description}, '
              f'{num_classes} classes, dataset {meta["dataset"]}, vocabulary '
              f'{"from " + vocab if vocab else "not given"})'
              + (f'; for the released model\'s logits evaluate with --cfg-options {options}'
                 if options else ''), logger='current')
    return meta


__all__ = ['convert_released_checkpoint']
