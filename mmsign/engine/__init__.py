"""What mmengine's Runner lacks for sign language training, and only that.

Checkpoints never seen half-written (:class:`SafeCheckpointHook`), resume that continues
inside an epoch with the same random state (:class:`ResumableEpochBasedTrainLoop`,
:class:`TrainRandomStateHook`), a step with a NaN loss skipped on every rank
(:class:`SignOptimWrapper`, :class:`NonFiniteStepHook`), mixed precision that also runs on
the CPU (:class:`SignAmpOptimWrapper`, :class:`AmpValLoop`), checkpoints that do not fit
refused with one line. Everything else is mmengine's own, named in the configs.
"""
from mmsign.engine.checkpoint import allow_mmengine_checkpoints
from mmsign.engine.checkpoint_hook import AtomicLocalBackend, SafeCheckpointHook
from mmsign.engine.distributed import DeviceAwareDistributedDataParallel, prepare_cpu_distributed
from mmsign.engine.hooks import (
    BadSampleReportHook,
    CheckpointCompatibilityHook,
    TrainRandomStateHook,
)
from mmsign.engine.loops import AmpTestLoop, AmpValLoop, ResumableEpochBasedTrainLoop
from mmsign.engine.nonfinite import NonFiniteStepHook
from mmsign.engine.optim_wrapper import SignAmpOptimWrapper, SignOptimWrapper
from mmsign.engine.resume import CheckpointError, check_checkpoint, find_resume_checkpoint
from mmsign.engine.runner import SignRunner

allow_mmengine_checkpoints()

__all__ = [
    'AmpTestLoop', 'AmpValLoop', 'AtomicLocalBackend', 'SignRunner', 'allow_mmengine_checkpoints',
    'BadSampleReportHook', 'CheckpointCompatibilityHook',
    'CheckpointError', 'check_checkpoint', 'DeviceAwareDistributedDataParallel',
    'find_resume_checkpoint', 'NonFiniteStepHook', 'prepare_cpu_distributed',
    'ResumableEpochBasedTrainLoop', 'SafeCheckpointHook', 'SignAmpOptimWrapper',
    'SignOptimWrapper', 'TrainRandomStateHook'
]
