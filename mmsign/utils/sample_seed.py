"""Random numbers of a training sample that depend on the run, the epoch and the sample only.

Data augmentation draws from the global generators of the process that loads the sample
(Python's ``random`` and numpy's, in the transforms). With persistent DataLoader workers
(every shipped recipe) those generators carry on from epoch to epoch inside the workers,
and a resumed run, whose workers start afresh, would draw other numbers. A training
sampler wrapped by :func:`mmsign.engine.random_state.seed_samples_per_epoch` hands out
:class:`SeededIndex` values instead of plain indices, and :func:`sample_seed` seeds the
generators with the index's seed while that one sample is loaded, then puts them back: the
augmentation of sample ``i`` in epoch ``e`` is the same in an uninterrupted run, a resumed
one and one with another number of workers.

Here in :mod:`mmsign.utils` (imports no other mmsign package): the datasets use it.
"""
import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch


class SeededIndex(int):
    """A dataset index carrying the seed of the sample's random numbers.

    Args:
        index (int): The index.
        seed (int): The seed (0 to 2**32 - 1).
    """

    seed: int

    def __new__(cls, index: int, seed: int) -> 'SeededIndex':
        value = super().__new__(cls, index)
        value.seed = seed
        return value

    def __reduce__(self):
        # sent to DataLoader workers through a pipe: keep the seed
        return SeededIndex, (int(self), self.seed)


@contextmanager
def sample_seed(index: int) -> Iterator[None]:
    """Seed Python's, numpy's and torch's generators with ``index.seed`` (when ``index``
    is a :class:`SeededIndex`) for the duration, then restore their states.

    Args:
        index (int): The dataset index being loaded.
    """
    seed = getattr(index, 'seed', None)
    if seed is None:
        yield
        return
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


__all__ = ['SeededIndex', 'sample_seed']
