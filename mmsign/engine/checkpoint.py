"""Safe loading of mmengine checkpoints under ``torch.load(weights_only=True)``.

Since torch 2.6 ``torch.load`` only unpickles allowlisted globals. mmengine 0.10.7
stores its ``message_hub`` (``HistoryBuffer`` objects holding numpy arrays) in every
checkpoint, so ``Runner(resume=True)`` and ``load_checkpoint`` fail on checkpoints the
same Runner just wrote. Allowlisting exactly the classes mmengine writes keeps loading
safe: a blanket ``weights_only=False`` would let a downloaded checkpoint run code.
"""
from typing import List

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


def allow_mmengine_checkpoints() -> None:
    """Allowlist what mmengine puts into checkpoints (idempotent)."""
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:  # torch < 2.4 has no weights_only default to satisfy
        return
    from mmengine.logging.history_buffer import HistoryBuffer
    add_safe_globals([HistoryBuffer, *_numpy_globals()])
