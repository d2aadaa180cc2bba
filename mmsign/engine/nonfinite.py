"""What a skipped non-finite step needs besides the optimiser wrapper that skips it.

:class:`~mmsign.engine.optim_wrapper.NonFiniteSkipMixin` decides and skips;
:class:`NonFiniteStepHook` logs ``skipped_step`` and names the samples of a skipped batch.
A skipped step must leave the model exactly as it was. Not calling the optimiser keeps
the parameters and the optimiser state, but the forward pass of the bad batch has
already moved the running statistics of the BatchNorm layers (NaN features make them
NaN, which would poison every later evaluation): :class:`RunningStatsSnapshot` takes
them before the forward pass and puts them back.
"""
import logging
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmaction.registry import HOOKS
from mmengine.dist import all_gather_object, get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log
from torch import Tensor, nn


class RunningStatsSnapshot:
    """A copy of the running statistics of a module's normalisation layers.

    Covers every submodule with ``track_running_stats`` (BatchNorm, InstanceNorm):
    ``running_mean``, ``running_var`` and ``num_batches_tracked``. For AdaptSign these
    are the two BatchNorm layers of the temporal convolution, a few kilobytes, copied on
    the device without synchronising it.

    Args:
        module (nn.Module): The model, before the forward pass.
    """

    def __init__(self, module: nn.Module) -> None:
        self.buffers: List[Tensor] = [
            buffer for sub in module.modules() if getattr(sub, 'track_running_stats', False)
            for buffer in sub.buffers(recurse=False)
        ]
        self.saved = [buffer.detach().clone() for buffer in self.buffers]

    def restore(self, where: Optional[Tensor] = None) -> None:
        """Put the statistics back as they were when the snapshot was taken.

        Args:
            where (Tensor, optional): A boolean scalar on the device: restore only where
                it is true, without reading it on the host (for steps skipped on the
                device). None restores unconditionally.
        """
        with torch.no_grad():
            for buffer, saved in zip(self.buffers, self.saved):
                buffer.copy_(saved if where is None else torch.where(where, saved, buffer))


def batch_sample_ids(data: Any) -> List[str]:
    """The ``sample_id`` of each data sample of a (preprocessed) batch.

    Args:
        data (dict | Any): A batch; ids are read from ``data['data_samples']``.

    Returns:
        list[str]: The ids, ``'?'`` for samples without one.
    """
    samples = data.get('data_samples') if isinstance(data, dict) else None
    return [str(getattr(sample, 'metainfo', {}).get('sample_id', '?'))
            for sample in samples or []]


def describe_losses(log_vars: Dict[str, Tensor]) -> str:
    """``loss=nan, loss_ctc_seq=12.3, ...`` for a log message.

    Args:
        log_vars (dict[str, Tensor]): Scalars (tensors or numbers).

    Returns:
        str: The values, comma-separated.
    """
    return ', '.join(f'{key}={float(value.detach()):.4g}' for key, value in log_vars.items())


def log_skipped_step(losses: str, bad_ids: Sequence[str], note: str = '') -> None:
    """Warn that an optimiser step was skipped, naming the samples of the bad batch.

    Args:
        losses (str): The batch's losses (:func:`describe_losses`).
        bad_ids (Sequence[str]): Sample ids of the batch(es) whose loss is not finite.
        note (str): Appended to the message (e.g. which ranks were affected).
    """
    print_log(f'non-finite loss ({losses}): optimiser step skipped, '
              f'no parameter changed; samples {list(bad_ids)}{note}',
              logger='current', level=logging.WARNING)


@HOOKS.register_module()
class NonFiniteStepHook(Hook):
    """Log ``skipped_step`` and name the samples of a step skipped for a non-finite loss.

    mmengine lacks it: its logger shows a NaN loss but not which samples caused it, nor
    that the step was skipped.

    The optimiser wrapper (``SignOptimWrapper``, ``SignAmpOptimWrapper``) decides and
    skips on the device; this hook reads its flag after the iteration (mmengine's
    ``RuntimeInfoHook``, which runs first, has already read the losses on the host, so
    this adds no synchronisation), logs ``skipped_step`` (1 or 0) with the iteration's
    scalars and, for a skipped step, warns with the losses and the sample ids of the
    batch; under DDP the ids of every rank whose loss was not finite are gathered. With
    an optimiser wrapper that cannot skip, it warns once before training.
    """

    priority = 'HIGH'  # before LoggerHook writes the iteration's scalars

    def before_train(self, runner) -> None:
        """Warn when the optimiser wrapper does not skip non-finite steps."""
        if not hasattr(runner.optim_wrapper, 'last_step'):
            print_log(f'{type(runner.optim_wrapper).__name__} does not skip steps with a '
                      'non-finite loss: use SignOptimWrapper or SignAmpOptimWrapper',
                      logger='current', level=logging.WARNING)

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
                         outputs: Optional[Dict[str, Tensor]] = None) -> None:
        """Log the skip flag of the step, and the samples of a skipped one."""
        flags = getattr(runner.optim_wrapper, 'last_step', None)
        if flags is None:
            return
        runner.optim_wrapper.last_step = None
        skipped = float(flags.skipped)
        runner.message_hub.update_scalar('train/skipped_step', skipped)
        if not skipped:
            return
        reports = all_gather_object((get_rank(), bool(flags.finite_here),
                                     batch_sample_ids(data_batch),
                                     describe_losses(outputs or {})))
        bad = [report for report in reports if not report[1]] or reports
        note = '' if len(reports) == 1 else (
            f' (non-finite on rank {", ".join(str(report[0]) for report in bad)} of '
            f'{len(reports)}; every rank skipped the step)')
        log_skipped_step(bad[0][3], [i for report in bad for i in report[2]], note)
