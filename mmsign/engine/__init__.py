"""Runner-side helpers: hooks and checkpoint loading."""
from mmsign.engine.checkpoint import allow_mmengine_checkpoints

allow_mmengine_checkpoints()

__all__ = ['allow_mmengine_checkpoints']
