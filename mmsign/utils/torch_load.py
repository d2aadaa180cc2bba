"""Safe loading of mmengine checkpoints under ``torch.load(weights_only=True)``.

Here in :mod:`mmsign.utils` (imports no other mmsign package) so that every loader can
use it: the engine, the models' checkpoint converter and the inference API.

Since torch 2.6 ``torch.load`` only unpickles allowlisted globals. mmengine 0.10.7
stores its ``message_hub`` (``HistoryBuffer`` objects holding numpy arrays) in every
checkpoint, so ``Runner(resume=True)`` and ``load_checkpoint`` fail on checkpoints the
same Runner just wrote. Allowlisting exactly the classes mmengine writes keeps loading
safe: a blanket ``weights_only=False`` would let a downloaded checkpoint run code.
"""
import os.path as osp
import pickle
import zipfile
from typing import List, Optional

import numpy as np
import torch


def _numpy_globals() -> List[object]:
    """numpy's array reconstruction helpers and dtype classes."""
    core = getattr(np, '_core', None) or np.core
    found: List[object] = [np.ndarray, np.dtype, core.multiarray._reconstruct,
                           core.multiarray.scalar]
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found.extend(getattr(dtypes, name) for name in dir(dtypes)
                     if name.endswith('DType'))
    return found


def history_buffer_getattr(obj: object, name: str) -> object:
    """The only ``getattr`` a checkpoint may call: a HistoryBuffer statistic method.

    ``HistoryBuffer`` pickles its ``_statistics_methods`` dict as
    ``getattr(HistoryBuffer, 'mean')`` and so on. Allowlisting the builtin ``getattr``
    would let a crafted file walk from any allowed object to ``eval``; this stand-in
    resolves exactly those method lookups and refuses everything else.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    owner = obj if isinstance(obj, type) else type(obj)
    if owner is HistoryBuffer and name in STATISTIC_METHODS:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({owner.__name__}, {name!r}): refused, only '
        'HistoryBuffer statistic methods may be looked up')


STATISTIC_METHODS = ('min', 'max', 'current', 'mean')


def allow_mmengine_checkpoints() -> None:
    """Allowlist what mmengine puts into checkpoints (idempotent)."""
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:  # torch < 2.4 has no weights_only default to satisfy
        return
    from mmengine.logging.history_buffer import HistoryBuffer
    add_safe_globals([HistoryBuffer, *_numpy_globals(),
                      (history_buffer_getattr, 'builtins.getattr'),
                      (history_buffer_getattr, '__builtin__.getattr')])


def not_a_checkpoint(path: str) -> Optional[str]:
    """Why ``path`` is plainly not a checkpoint, judged from its first bytes.

    ``torch.save`` writes a zip archive (``PK``) or, in torch's legacy format, a pickle
    (protocol 2+: byte ``0x80``). Anything else is no checkpoint at all, and
    ``torch.load`` would fail with advice about ``weights_only`` that does not apply.

    Args:
        path (str): A local file.

    Returns:
        str | None: The reason, or None when the file may be a checkpoint.
    """
    if not osp.isfile(path) or osp.getsize(path) == 0:
        return None  # missing and empty files have their own messages
    with open(path, 'rb') as f:
        head = f.read(8)
    if head.startswith(b'PK') or head.startswith(b'\x80') or zipfile.is_zipfile(path):
        return None
    return (f'not a loadable checkpoint (not a checkpoint at all: neither a zip archive, '
            f'what torch.save writes, nor a pickle, torch\'s legacy format; the file starts '
            f'with bytes {head.hex()})')


__all__ = ['STATISTIC_METHODS', 'allow_mmengine_checkpoints', 'history_buffer_getattr',
           'not_a_checkpoint']
