"""Mixed precision that picks its dtype from the machine, with a fused optimiser on GPUs."""
from contextlib import contextmanager
from typing import Optional, Tuple, Union

import torch
from mmaction.registry import OPTIM_WRAPPERS
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from torch.optim import Optimizer

#: Optimisers whose ``fused=True`` implementation (one kernel for the whole update, and a
#: device-side ``found_inf`` that skips a step without a host-device synchronisation) is
#: used on GPUs when the config does not choose.
FUSABLE_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW)


def with_fused_update(optimizer: Optimizer,
                      device_types: Tuple[str, ...] = ('cuda', )) -> Optimizer:
    """The same optimiser with its fused implementation, when that is a safe swap.

    Swapped: a freshly built (no state yet) :data:`FUSABLE_OPTIMIZERS` instance whose
    ``fused`` and ``foreach`` were left unset, with all parameters on one device of
    ``device_types``. Anything else is returned as it is.

    Args:
        optimizer (Optimizer): The optimiser the config built.
        device_types (tuple[str]): Devices to swap on. Defaults to CUDA only (on the
            CPU, fp32 training keeps the update it always had).

    Returns:
        Optimizer: A new optimiser with ``fused=True`` and the same parameter groups and
        settings, or ``optimizer`` itself.
    """
    if type(optimizer) not in FUSABLE_OPTIMIZERS or optimizer.state:
        return optimizer
    groups = optimizer.param_groups
    if any(group.get('fused') is not None or group.get('foreach') is not None
           or group.get('differentiable') or group.get('capturable') for group in groups):
        return optimizer
    devices = {p.device for group in groups for p in group['params']}
    if len(devices) != 1 or next(iter(devices)).type not in device_types:
        return optimizer
    defaults = dict(optimizer.defaults, fused=True, foreach=None)
    return type(optimizer)([dict(group, fused=True, foreach=None) for group in groups],
                           **defaults)


@OPTIM_WRAPPERS.register_module()
class SignAmpOptimWrapper(AmpOptimWrapper):
    """Autocast training with the best dtype the machine offers.

    * GPUs with bf16 (Ampere and newer): bf16 autocast, no loss scaling (bf16 has fp32's
      range, so a grad scaler only adds work).
    * Other GPUs: fp16 autocast with mmengine's dynamic loss scaling, as the released
      AdaptSign code trains.
    * No GPU: plain fp32 with one log line, so recipes that ask for mixed precision still
      run on a laptop or in CI (mmengine's ``AmpOptimWrapper`` refuses the CPU); or bf16
      autocast on the CPU with ``cpu_dtype='bfloat16'`` (used to test bf16 numerics
      without a GPU).

    On a GPU, an Adam or AdamW optimiser that the config left without ``fused`` /
    ``foreach`` is rebuilt with ``fused=True`` (``fused='auto'``): one kernel updates all
    parameters, and :meth:`SignRecognizer.train_step` can skip a step with a non-finite
    loss on the device instead of reading the loss on the host.

    Args:
        dtype (str): Autocast dtype on GPUs: ``'auto'`` (as above), ``'bfloat16'`` or
            ``'float16'``.
        loss_scale (str | float | dict): Loss scaling for fp16, see
            ``mmengine.optim.AmpOptimWrapper``. Defaults to ``'dynamic'``.
        cpu_dtype (str, optional): Without a GPU: None (fp32, the default) or
            ``'bfloat16'`` (CPU autocast).
        fused (str | bool): ``'auto'`` (fused Adam / AdamW when the parameters are on a
            GPU), or False to keep the optimiser as the config built it. Defaults to
            ``'auto'``.
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``clip_grad``, ...).
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'auto',
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 cpu_dtype: Optional[str] = None,
                 fused: Union[str, bool] = 'auto', **kwargs) -> None:
        if not (fused == 'auto' or fused is False):
            raise ValueError(f"fused={fused!r}: use 'auto' or False")
        if cpu_dtype not in (None, 'bfloat16'):
            raise ValueError(f"cpu_dtype={cpu_dtype!r}: CPU autocast supports None (fp32) or "
                             "'bfloat16'")
        if fused and 'optimizer' in kwargs:
            kwargs['optimizer'] = with_fused_update(kwargs['optimizer'])
        if not torch.cuda.is_available():
            OptimWrapper.__init__(self, **kwargs)
            self.cast_dtype = None if cpu_dtype is None else torch.bfloat16
            self.use_loss_scaler = False
            print_log('no CUDA device: training in '
                      + ('fp32' if cpu_dtype is None else 'bf16 autocast on the CPU'),
                      logger='current')
            return
        if dtype == 'auto':
            dtype = 'bfloat16' if torch.cuda.is_bf16_supported() else 'float16'
        super().__init__(loss_scale=loss_scale, dtype=dtype, **kwargs)
        self.use_loss_scaler = self.cast_dtype == torch.float16

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self.use_loss_scaler:
            super().backward(loss, **kwargs)
        else:
            OptimWrapper.backward(self, loss, **kwargs)

    def step(self, **kwargs) -> None:
        if self.use_loss_scaler:
            super().step(**kwargs)
        else:
            OptimWrapper.step(self, **kwargs)

    def state_dict(self) -> dict:
        if self.use_loss_scaler:
            return super().state_dict()
        return OptimWrapper.state_dict(self)

    def load_state_dict(self, state_dict: dict) -> None:
        if self.use_loss_scaler:
            super().load_state_dict(state_dict)
            return
        state_dict.pop('loss_scaler', None)  # a checkpoint written on an fp16 machine
        OptimWrapper.load_state_dict(self, state_dict)

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        if self.cast_dtype is None:
            with OptimWrapper.optim_context(self, model):
                yield
        else:
            with super().optim_context(model):
                yield
