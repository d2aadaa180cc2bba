"""Optimiser wrappers that skip a non-finite step, with mixed precision on any machine.

The one mechanism for a step whose loss is NaN or infinite lives here, in
``update_params``: the model keeps mmengine's ``train_step`` (and so does mmengine's DDP
wrapper, which calls the same ``update_params``). See :class:`NonFiniteSkipMixin`.
"""
from contextlib import contextmanager
from typing import Dict, NamedTuple, Optional, Union

import torch
import torch.distributed as dist
from mmaction.registry import OPTIM_WRAPPERS
from mmengine.dist import is_distributed
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from torch import Tensor, nn

try:
    from torch.amp import GradScaler  # torch >= 2.3
except ImportError:
    from torch.cuda.amp import GradScaler

from mmsign.engine.nonfinite import RunningStatsSnapshot


class StepFlags(NamedTuple):
    """What :meth:`NonFiniteSkipMixin.update_params` decided, as device tensors."""
    #: 1.0 if the step was skipped (on every rank), else 0.0.
    skipped: Tensor
    #: 1.0 if this rank's loss was finite.
    finite_here: Tensor


def skips_on_device(optim_wrapper: OptimWrapper) -> bool:
    """Whether a step with a non-finite loss can be skipped without reading the loss.

    True for fused optimisers (``fused=True``: their update kernel takes a device-side
    ``found_inf`` flag and leaves parameters and state untouched when it is set), unless a
    grad scaler drives them (it sets that flag itself) or gradients are accumulated over
    several batches (the skipped batch's gradients must then be dropped, which needs the
    flag on the host).

    Args:
        optim_wrapper (OptimWrapper): Any mmengine optimiser wrapper.

    Returns:
        bool: True when the decision can stay on the device.
    """
    groups = optim_wrapper.optimizer.param_groups
    scaler = getattr(optim_wrapper, 'use_loss_scaler',
                     isinstance(optim_wrapper, AmpOptimWrapper))
    return (all(group.get('fused') for group in groups) and not scaler
            and getattr(optim_wrapper, '_accumulative_counts', 1) == 1)


class NonFiniteSkipMixin:
    """``update_params`` that skips a step whose loss is NaN or infinite on any rank.

    ``optim_context(model)`` (entered by every mmengine ``train_step`` before the forward
    pass) takes a :class:`RunningStatsSnapshot` of the model's BatchNorm statistics.
    ``update_params(loss)`` then always runs the backward pass (under DDP every rank must,
    or the gradient all-reduce would wait for a rank that left), computes a finite flag
    on the loss's device and, under DDP, agrees on it with one all-reduce (MIN) that
    stays on the device. If the flag is 0 the step is skipped on every rank: no parameter
    or optimiser state changes, the gradients are cleared and the BatchNorm statistics
    the bad forward pass moved are put back.

    - Fused optimiser, no grad scaler, no accumulation (:func:`skips_on_device`; e.g.
      ``optimizer=dict(type='Adam', fused=True)`` in bf16 on a GPU): the flag goes to
      the fused kernel as ``found_inf`` and the statistics are restored with
      ``torch.where``; nothing waits for the device, in one process and under DDP.
    - Otherwise the agreed flag is read on the host (one synchronisation per step; free
      on the CPU).

    :attr:`last_step` holds the flags of the latest call; :class:`NonFiniteStepHook`
    logs them (``skipped_step``) and names the samples of a skipped batch.
    """

    last_step: Optional[StepFlags] = None
    _stats: Optional[RunningStatsSnapshot] = None

    @contextmanager
    def optim_context(self, model: nn.Module):
        """The wrapper's context, after a snapshot of the BatchNorm statistics."""
        self._stats = RunningStatsSnapshot(model)
        with super().optim_context(model):
            yield

    def update_params(self, loss: Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """Backward, then an update that every rank skips if any loss is not finite.

        Composed of ``OptimWrapper``'s public steps (``scale_loss``, ``backward``,
        ``should_update``, ``step``, ``zero_grad``) in upstream's order;
        tests/engine/test_upstream_mirrors.py fails when upstream's ``update_params``
        changes.

        Args:
            loss (Tensor): The total loss of the batch.
            step_kwargs (dict, optional): Arguments of ``optimizer.step``.
            zero_kwargs (dict, optional): Arguments of ``optimizer.zero_grad``.
        """
        step_kwargs, zero_kwargs = step_kwargs or {}, zero_kwargs or {}
        stats, self._stats = self._stats, None
        self.backward(self.scale_loss(loss))
        finite_here = torch.isfinite(loss.detach()).reshape(()).float()
        agreed = finite_here.clone()
        if is_distributed():
            dist.all_reduce(agreed, op=dist.ReduceOp.MIN)
        skipped = 1.0 - agreed
        self.last_step = StepFlags(skipped, finite_here)
        if skips_on_device(self):
            optimizer = self.optimizer
            optimizer.found_inf = skipped  # read by the fused update kernel
            try:
                if self.should_update():
                    self.step(**step_kwargs)
                    self.zero_grad(**zero_kwargs)
            finally:
                del optimizer.found_inf
            if stats is not None:
                stats.restore(where=skipped > 0)
        elif bool(agreed):
            if self.should_update():
                self.step(**step_kwargs)
                self.zero_grad(**zero_kwargs)
        else:
            # With accumulation this drops the whole window's gradients, not only this
            # batch's: the NaN ones cannot be told apart once summed.
            self.zero_grad(**zero_kwargs)
            if stats is not None:
                stats.restore()


@OPTIM_WRAPPERS.register_module()
class SignOptimWrapper(NonFiniteSkipMixin, OptimWrapper):
    """mmengine's ``OptimWrapper`` (fp32) that skips non-finite steps.

    mmengine lacks the skip: its wrapper steps on a NaN loss and the weights become NaN.

    Args: as ``mmengine.optim.OptimWrapper``.
    """


@OPTIM_WRAPPERS.register_module()
class SignAmpOptimWrapper(NonFiniteSkipMixin, AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper`` that skips non-finite steps and also runs on the CPU.

    What mmengine's wrapper lacks, and only that:

    * ``dtype='auto'``: bf16 on GPUs that have it (Ampere and newer), else fp16.
    * No grad scaler for bf16 (bf16 has fp32's range; a scaler only adds work and a
      host-device synchronisation per step): a disabled ``GradScaler`` stands in.
    * No GPU: mmengine's wrapper refuses the CPU; this one trains in fp32, or in bf16
      autocast with ``cpu_dtype='bfloat16'`` (what ``--amp bf16`` sets), with one log line,
      so a recipe that asks for mixed precision also runs on a laptop or in CI.

    Args:
        dtype (str): Autocast dtype on GPUs: ``'auto'`` (as above), ``'bfloat16'`` or
            ``'float16'``.
        loss_scale (str | float | dict): Loss scaling for fp16, see
            ``mmengine.optim.AmpOptimWrapper``. Defaults to ``'dynamic'``.
        cpu_dtype (str, optional): Without a GPU: None (fp32, the default) or
            ``'bfloat16'`` (CPU autocast).
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``clip_grad``, ...).
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'auto',
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 cpu_dtype: Optional[str] = None, **kwargs) -> None:
        if cpu_dtype not in (None, 'bfloat16'):
            raise ValueError(f"cpu_dtype={cpu_dtype!r}: CPU autocast supports None (fp32) or "
                             "'bfloat16'")
        if torch.cuda.is_available():
            if dtype == 'auto':
                dtype = 'bfloat16' if torch.cuda.is_bf16_supported() else 'float16'
            super().__init__(loss_scale=loss_scale, dtype=dtype, **kwargs)
        else:
            OptimWrapper.__init__(self, **kwargs)
            self._scale_update_param = None
            self.cast_dtype = None if cpu_dtype is None else torch.bfloat16
            print_log('no CUDA device: training in '
                      + ('fp32' if cpu_dtype is None else 'bf16 autocast on the CPU'),
                      logger='current')
        self.use_loss_scaler = self.cast_dtype == torch.float16
        if not self.use_loss_scaler:
            self.loss_scaler = GradScaler(enabled=False)

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state; a grad scaler's state is dropped when this run has no scaler,
        and an empty one (written by a run without a scaler) is ignored.

        Args:
            state_dict (dict): As ``AmpOptimWrapper.load_state_dict``.
        """
        if not self.use_loss_scaler or not state_dict.get('loss_scaler', True):
            state_dict.pop('loss_scaler', None)
        super().load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model: nn.Module):
        """The BatchNorm snapshot, then autocast in :attr:`cast_dtype` (none for fp32:
        mmengine's autocast would pick the CPU's bf16)."""
        self._stats = RunningStatsSnapshot(model)
        context = (OptimWrapper.optim_context if self.cast_dtype is None
                   else AmpOptimWrapper.optim_context)
        with context(self, model):
            yield
