"""Runner-side helpers: checkpoint loading, visualisation, distributed launch, reliability."""
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
from mmsign.engine.visualization import TensorboardIfInstalledVisBackend

allow_mmengine_checkpoints()

__all__ = [
    'AmpTestLoop', 'AmpValLoop', 'AtomicLocalBackend', 'SignRunner', 'allow_mmengine_checkpoints',
    'BadSampleReportHook', 'CheckpointCompatibilityHook',
    'CheckpointError', 'check_checkpoint', 'DeviceAwareDistributedDataParallel',
    'find_resume_checkpoint', 'NonFiniteStepHook', 'prepare_cpu_distributed',
    'ResumableEpochBasedTrainLoop', 'SafeCheckpointHook', 'SignAmpOptimWrapper',
    'SignOptimWrapper', 'TensorboardIfInstalledVisBackend',
    'TrainRandomStateHook'
]
