"""Runner-side helpers: checkpoint loading, visualisation, distributed launch."""
from mmsign.engine.checkpoint import allow_mmengine_checkpoints
from mmsign.engine.distributed import DeviceAwareDistributedDataParallel, prepare_cpu_distributed
from mmsign.engine.optim_wrapper import SignAmpOptimWrapper
from mmsign.engine.visualization import TensorboardIfInstalledVisBackend

allow_mmengine_checkpoints()

__all__ = [
    'allow_mmengine_checkpoints', 'DeviceAwareDistributedDataParallel',
    'prepare_cpu_distributed', 'SignAmpOptimWrapper',
    'TensorboardIfInstalledVisBackend'
]
