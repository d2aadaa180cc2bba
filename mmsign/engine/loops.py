"""Loops: exact resume in the middle of an epoch, evaluation under the chosen autocast.

Both extend mmengine's loops through their public ``run_iter``; what they assume of
upstream's ``run_epoch`` / ``run_iter`` is pinned by tests/engine/test_upstream_mirrors.py.
"""
from typing import Any, Dict, Optional, Sequence

import torch
from mmaction.registry import LOOPS
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, TestLoop, ValLoop
from mmengine.runner.amp import autocast

from mmsign.engine.random_state import set_random_state

#: The ``dtype`` values of :class:`AmpValLoop` and :class:`AmpTestLoop`.
AUTOCAST_DTYPES = {None: None, 'bfloat16': torch.bfloat16, 'float16': torch.float16}


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """mmengine's ``EpochBasedTrainLoop`` that continues an epoch where it stopped.

    Resumed from a checkpoint written in the middle of an epoch (``CheckpointHook`` with
    ``by_epoch=False``), mmengine's loop starts that epoch again from its first batch,
    so the batches before the checkpoint are trained twice and the run ends
    ``iterations done`` batches late. This loop draws the epoch's batches in the same
    order (the sampler is seeded by epoch), skips the ones already trained, and only
    then restores the random state saved with the checkpoint
    (:class:`~mmsign.engine.hooks.TrainRandomStateHook` hands it over in
    ``resume_random_state``), so the rest of the epoch sees the same batches, the same
    augmentations and the same dropout as the uninterrupted run. Skipped batches are
    loaded and dropped (their augmentations draw from the generators before the restore);
    the model does not see them. Without a resume it is ``EpochBasedTrainLoop``.

    Args: as ``mmengine.runner.EpochBasedTrainLoop``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Random state to restore before the first trained batch after a resume.
        self.resume_random_state: Optional[Dict[str, Any]] = None
        self._skip = 0

    def run_epoch(self) -> None:
        """Upstream's epoch, with the batches a resumed checkpoint already trained skipped."""
        num_batches = len(self.dataloader)
        self._skip = min(max(self.iter - self.epoch * num_batches, 0), num_batches)
        if self._skip:
            print_log(f'resuming epoch {self.epoch + 1} after its batch {self._skip} of '
                      f'{num_batches}: loading and skipping the batches already trained',
                      logger='current')
        elif self.resume_random_state is not None:
            self._restore()
        super().run_epoch()

    def run_iter(self, idx: int, data_batch: Sequence[dict]) -> None:
        """Skip a batch already trained; restore the random state after the last one."""
        if idx < self._skip:
            if idx == self._skip - 1:
                self._skip = 0
                self._restore()
            return
        super().run_iter(idx, data_batch)

    def _restore(self) -> None:
        state, self.resume_random_state = self.resume_random_state, None
        if state is not None:
            set_random_state(state)


class _AutocastMixin:
    """``run_iter`` under ``torch.autocast(dtype)``; see :class:`AmpValLoop`."""

    dtype: Optional[torch.dtype] = None

    def _set_dtype(self, dtype: Optional[str], fp16: bool) -> None:
        if dtype not in AUTOCAST_DTYPES:
            raise ValueError(f'dtype={dtype!r}: use one of {list(AUTOCAST_DTYPES)}')
        self.dtype = AUTOCAST_DTYPES[dtype] if dtype or not fp16 else torch.float16
        if self.dtype == torch.float16 and not torch.cuda.is_available():
            raise ValueError(f'{type(self).__name__}: fp16 autocast needs a CUDA GPU (the '
                             "CPU autocasts to bf16 only): set dtype='bfloat16' or None")
        # mmengine's run_iter opens autocast(enabled=self.fp16) with its default dtype:
        # inside the region opened below that default is self.dtype, and enabled=False
        # would switch autocast off again.
        self.fp16 = self.dtype is not None

    def run_iter(self, idx: int, data_batch: Sequence[dict]) -> None:
        """Upstream's ``run_iter`` inside an autocast region of :attr:`dtype`."""
        with autocast(enabled=self.dtype is not None, dtype=self.dtype):
            super().run_iter(idx, data_batch)


@LOOPS.register_module()
class AmpValLoop(_AutocastMixin, ValLoop):
    """mmengine's ``ValLoop`` that autocasts to a given dtype (mmengine's ``fp16=True``
    always means fp16 on GPUs, even when training ran in bf16).

    ``tools/train.py --amp bf16|fp16`` sets ``dtype`` to the training dtype; the recipes
    validate in fp32 (``dtype=None``) otherwise. bf16 works on the CPU too.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The dataloader.
        evaluator (Evaluator | dict | list): The evaluator.
        dtype (str, optional): ``None`` (fp32), ``'bfloat16'`` or ``'float16'``.
        fp16 (bool): mmengine's switch, read when ``dtype`` is None (fp16).
    """

    def __init__(self, runner, dataloader, evaluator, dtype: Optional[str] = None,
                 fp16: bool = False) -> None:
        super().__init__(runner, dataloader, evaluator)
        self._set_dtype(dtype, fp16)


@LOOPS.register_module()
class AmpTestLoop(_AutocastMixin, TestLoop):
    """mmengine's ``TestLoop`` that autocasts to a given dtype (see :class:`AmpValLoop`).

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The dataloader.
        evaluator (Evaluator | dict | list): The evaluator.
        dtype (str, optional): ``None`` (fp32), ``'bfloat16'`` or ``'float16'``.
        fp16 (bool): mmengine's switch, read when ``dtype`` is None (fp16).
    """

    def __init__(self, runner, dataloader, evaluator, dtype: Optional[str] = None,
                 fp16: bool = False) -> None:
        super().__init__(runner, dataloader, evaluator)
        self._set_dtype(dtype, fp16)
