"""Mixed precision that picks its dtype from the GPU."""
from contextlib import contextmanager
from typing import Union

import torch
from mmaction.registry import OPTIM_WRAPPERS
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper


@OPTIM_WRAPPERS.register_module()
class SignAmpOptimWrapper(AmpOptimWrapper):
    """Autocast training with the best dtype the machine offers.

    * GPUs with bf16 (Ampere and newer): bf16 autocast, no loss scaling (bf16 has fp32's
      range, so a grad scaler only adds work).
    * Other GPUs: fp16 autocast with mmengine's dynamic loss scaling, as the released
      AdaptSign code trains.
    * No GPU: plain fp32 with one log line, so recipes that ask for mixed precision still
      run on a laptop or in CI (mmengine's ``AmpOptimWrapper`` refuses the CPU).

    Args:
        dtype (str): ``'auto'`` (as above), ``'bfloat16'`` or ``'float16'``.
        loss_scale (str | float | dict): Loss scaling for fp16, see
            ``mmengine.optim.AmpOptimWrapper``. Defaults to ``'dynamic'``.
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``clip_grad``, ...).
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'auto',
                 loss_scale: Union[str, float, dict] = 'dynamic', **kwargs) -> None:
        if not torch.cuda.is_available():
            OptimWrapper.__init__(self, **kwargs)
            self.cast_dtype = None
            self.use_loss_scaler = False
            print_log('no CUDA device: mixed precision is off, training in fp32',
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
