"""The global random number generators as one checkpointable value.

A training step draws from Python's ``random``, numpy's legacy global generator (data
augmentation in the main process) and torch's CPU and CUDA generators (dropout, the
DataLoader's base seed). Restoring all four after a resume makes the continued run draw
exactly what the uninterrupted run drew. The state is kept in plain Python values and
uint8 tensors, so ``torch.load(weights_only=True)`` reads it without allowlisting.
"""
import random
from typing import Any, Dict

import numpy as np
import torch


def get_random_state() -> Dict[str, Any]:
    """Capture the state of every global random number generator.

    Returns:
        dict: ``python``, ``numpy``, ``torch`` and, when CUDA is initialised,
        ``cuda`` (one state per device).
    """
    version, internal, gauss = random.getstate()
    kind, key, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=dict(version=version, internal=list(internal), gauss=gauss),
        numpy=dict(kind=kind, key=key.tolist(), pos=int(pos), has_gauss=int(has_gauss),
                   cached=float(cached)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: Dict[str, Any]) -> None:
    """Restore what :func:`get_random_state` captured.

    Args:
        state (dict): A captured state. A CUDA state is restored only when the machine
            has as many CUDA devices as the one that captured it.
    """
    py = state['python']
    random.setstate((py['version'], tuple(py['internal']), py['gauss']))
    npy = state['numpy']
    np.random.set_state((npy['kind'], np.asarray(npy['key'], dtype=np.uint32), npy['pos'],
                         npy['has_gauss'], npy['cached']))
    torch.set_rng_state(state['torch'])
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
