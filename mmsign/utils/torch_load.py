"""Safe loading of mmengine checkpoints under ``torch.load(weights_only=True)``.

Here in :mod:`mmsign.utils` (imports no other mmsign package) so that every loader can
use it: the engine, the models' checkpoint converter and the inference API.

Since torch 2.6 ``torch.load`` only unpickles allowlisted globals. mmengine 0.10.7
stores its ``message_hub`` (``HistoryBuffer`` objects holding numpy arrays) in every
checkpoint, so ``Runner(resume=True)`` and ``load_checkpoint`` fail on checkpoints the
same Runner just wrote. Allowlisting exactly the classes mmengine writes keeps loading
safe: a blanket ``weights_only=False`` would let a downloaded checkpoint run code.

mmengine's own loaders (``CheckpointLoader``, used by ``Runner`` for ``load_from`` and
``resume``, by ``load_checkpoint`` and by backbones' ``pretrained``) call ``torch.load``
without ``weights_only`` (local files, s3/petrel) or with ``weights_only=False`` (URLs,
through ``torch.hub``): with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` in the environment, or
from a URL always, a crafted pickle would run code. :func:`allow_mmengine_checkpoints`
therefore also registers, through ``CheckpointLoader.register_scheme`` (mmengine's public
extension point), loaders for the same schemes that pass ``weights_only=True`` explicitly.
"""
import io
import os
import os.path as osp
import pickle
import zipfile
from typing import Any, List, Optional

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
    """Allowlist what mmengine puts into checkpoints and make mmengine's
    ``CheckpointLoader`` load with ``weights_only=True`` (idempotent)."""
    register_weights_only_loaders()
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:  # torch < 2.4 has no weights_only default to satisfy
        return
    from mmengine.logging.history_buffer import HistoryBuffer
    add_safe_globals([HistoryBuffer, *_numpy_globals(),
                      (history_buffer_getattr, 'builtins.getattr'),
                      (history_buffer_getattr, '__builtin__.getattr')])


def load_weights_only(source: Any, map_location: Any = None, mmap: bool = False) -> Any:
    """``torch.load(source, weights_only=True)`` with mmengine's classes allowlisted.

    Args:
        source (str | file-like): A checkpoint file or buffer.
        map_location: As ``torch.load``.
        mmap (bool): Map the tensors of a zip file instead of reading them.

    Returns:
        The loaded object (tensors, containers, allowlisted classes only).
    """
    allow_mmengine_checkpoints()
    return torch.load(source, map_location=map_location, weights_only=True,
                      **(dict(mmap=True) if mmap else {}))


def load_from_local_file(filename: str, map_location: Any = None) -> Any:
    """mmengine's local-file scheme (``''``), with ``weights_only=True``."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return load_weights_only(filename, map_location)


def load_from_url(url: str, map_location: Any = None,
                          model_dir: Optional[str] = None) -> Any:
    """mmengine's ``http(s)://`` scheme (rank 0 downloads first), with
    ``weights_only=True``."""
    from mmengine.dist import get_dist_info
    rank, world_size = get_dist_info()

    def load() -> Any:
        allow_mmengine_checkpoints()
        return torch.hub.load_state_dict_from_url(url, model_dir=model_dir,
                                                  map_location=map_location,
                                                  progress=False, weights_only=True)

    checkpoint = load() if rank == 0 else None
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = load()
    return checkpoint


def load_from_named_model(filename: str, map_location: Any = None) -> Any:
    """mmengine's named-model schemes (``torchvision://``, ``open-mmlab://``,
    ``mmcls://`` ...), resolved by mmengine's tables, with ``weights_only=True``."""
    from mmengine.runner import checkpoint as upstream
    scheme, name = filename.split('://', 1)
    if scheme in ('torchvision', 'modelzoo'):
        url = upstream.get_torchvision_models()[name]
    elif scheme == 'mmcls':
        url = upstream.get_mmcls_models()[name]
    else:
        name = upstream.get_deprecated_model_names().get(name, name)
        url = upstream.get_external_models()[name]
    if url.startswith(('http://', 'https://')):
        return load_from_url(url, map_location)
    return load_from_local_file(osp.join(_mmengine_home(), url), map_location)


def _mmengine_home() -> str:
    return osp.expanduser(os.getenv('MMENGINE_HOME', osp.join(
        os.getenv('XDG_CACHE_HOME', '~/.cache'), 'mmengine')))


def load_from_object_storage(filename: str, map_location: Any = None) -> Any:
    """mmengine's ``s3://`` / ``petrel://`` schemes, with ``weights_only=True``."""
    from mmengine.fileio import get
    return load_weights_only(io.BytesIO(get(filename, backend_args=dict(backend='petrel'))),
                             map_location)


def load_from_pavi(filename: str, map_location: Any = None) -> Any:
    """``pavi://``: mmengine loads its files without ``weights_only``; not supported."""
    raise ValueError(f'{filename}: pavi:// checkpoints are not read by mmsign (they would be '
                     'unpickled unchecked); download the file and pass its local path')


def register_weights_only_loaders() -> None:
    """Register :func:`load_weights_only`-based loaders for each of mmengine's schemes
    (named ``load_from_*``: mmengine logs the name after that prefix)."""
    if getattr(register_weights_only_loaders, 'done', False):
        return
    from mmengine.runner import CheckpointLoader
    CheckpointLoader.register_scheme('', load_from_local_file, force=True)
    CheckpointLoader.register_scheme(['http://', 'https://'],
                                     lambda f, map_location=None, model_dir=None, **_:
                                     load_from_url(f, map_location, model_dir),
                                     force=True)
    CheckpointLoader.register_scheme(['torchvision://', 'modelzoo://', 'open-mmlab://',
                                      'openmmlab://', 'mmcls://'], load_from_named_model,
                                     force=True)
    CheckpointLoader.register_scheme([r'(\S+\:)?s3://', r'(\S+\:)?petrel://'],
                                     load_from_object_storage, force=True)
    CheckpointLoader.register_scheme('pavi://', load_from_pavi, force=True)
    register_weights_only_loaders.done = True


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
           'load_weights_only', 'not_a_checkpoint', 'register_weights_only_loaders']
