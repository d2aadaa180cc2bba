"""Pieces shared by the training steps that skip a batch with a non-finite loss.

A skipped step must leave the model exactly as it was. Not calling the optimiser keeps
the parameters and the optimiser state, but the forward pass of the bad batch has
already moved the running statistics of the BatchNorm layers (NaN features make them
NaN, which would poison every later evaluation): :class:`RunningStatsSnapshot` takes
them before the forward pass and puts them back.
"""
import logging
from typing import Any, Dict, List, Optional, Sequence

import torch
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
    """``loss=nan, loss_ctc_seq=12.3, ...`` for a log message."""
    return ', '.join(f'{key}={float(value.detach()):.4g}' for key, value in log_vars.items())


def log_skipped_step(log_vars: Dict[str, Tensor], bad_ids: Sequence[str],
                     note: str = '') -> None:
    """Warn that an optimiser step was skipped, naming the samples of the bad batch.

    Args:
        log_vars (dict[str, Tensor]): The parsed losses of the batch.
        bad_ids (Sequence[str]): Sample ids of the batch(es) whose loss is not finite.
        note (str): Appended to the message (e.g. which ranks were affected).
    """
    print_log(f'non-finite loss ({describe_losses(log_vars)}): optimiser step skipped, '
              f'no parameter changed; samples {list(bad_ids)}{note}',
              logger='current', level=logging.WARNING)
