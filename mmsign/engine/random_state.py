"""The global random number generators as one checkpointable value.

A training step draws from Python's ``random``, numpy's legacy global generator (data
augmentation in the main process) and torch's CPU and CUDA generators (dropout, the
DataLoader's base seed). Restoring all four after a resume makes the continued run draw
exactly what the uninterrupted run drew. The state is kept in plain Python values and
uint8 tensors, so ``torch.load(weights_only=True)`` reads it without allowlisting.

DataLoader workers have generators of their own, which persistent workers carry from
epoch to epoch: :func:`seed_samples_per_epoch` makes every training sample's random
numbers a function of the run's seed, the epoch and the sample
(:mod:`mmsign.utils.sample_seed`), so that they need no state at all.
"""
import random
from typing import Any, Dict, Iterator, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader

from mmsign.utils.sample_seed import SeededIndex


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


class EpochSeededSampler:
    """Wraps a sampler with an ``epoch`` (mmengine's ``DefaultSampler``): the same indices,
    as :class:`~mmsign.utils.sample_seed.SeededIndex` values seeded by (run seed, epoch,
    index).

    Args:
        sampler: The wrapped sampler; ``set_epoch`` is still called on it.
        seed (int): The run's seed.
    """

    def __init__(self, sampler: Any, seed: int) -> None:
        self.sampler = sampler
        self.seed = seed

    def __iter__(self) -> Iterator[SeededIndex]:
        epoch = int(self.sampler.epoch)
        for index in self.sampler:
            sequence = np.random.SeedSequence([self.seed, epoch, int(index)])
            yield SeededIndex(int(index), int(sequence.generate_state(1)[0]))

    def __len__(self) -> int:
        return len(self.sampler)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sampler, name)


def seed_samples_per_epoch(loader: DataLoader, seed: Optional[int]) -> bool:
    """Make the training samples' random numbers depend on (seed, epoch, sample) only.

    Wraps the sampler inside ``loader``'s batch sampler with :class:`EpochSeededSampler`
    (idempotent) and gives the loader a generator of its own, so that creating its
    iterator draws nothing from torch's global generator. Loaders without a batch
    sampler over a sampler with an ``epoch`` (iteration-based samplers) are left alone.

    Args:
        loader (DataLoader): The training loader, before its first iteration.
        seed (int, optional): The run's seed; None leaves the loader alone.

    Returns:
        bool: Whether the loader's samples are seeded now.
    """
    batch_sampler = getattr(loader, 'batch_sampler', None)
    inner = getattr(batch_sampler, 'sampler', None)
    if isinstance(inner, EpochSeededSampler):
        return True
    if seed is None or inner is None or not hasattr(inner, 'epoch'):
        return False
    batch_sampler.sampler = EpochSeededSampler(inner, int(seed))
    # Each new iterator draws its workers' base seed from the loader's generator, else
    # from torch's global one: persistent workers create one iterator per run, a resumed
    # run one more, which would shift the model's random numbers (dropout).
    loader.generator = torch.Generator().manual_seed(int(seed))
    return True
