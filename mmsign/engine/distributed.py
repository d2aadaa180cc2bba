"""Running the stock mmengine launcher on machines without CUDA.

mmengine 0.10.7's ``pytorch`` launcher calls ``torch.cuda.set_device`` and wraps the
model with ``device_ids=[LOCAL_RANK]``: both fail on CPU-only machines (laptops, CI). The
two pieces below keep PyTorch's own DDP and gloo process group, and only skip the CUDA
calls when there is no CUDA device.
"""
import os

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel

# mmengine's Runner looks model wrappers up in its own (root) registry.
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class DeviceAwareDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that drops ``device_ids`` for CPU modules.

    PyTorch's DDP requires ``device_ids=None`` for a module on the CPU; mmengine always
    passes the local rank. On GPUs this is exactly ``MMDistributedDataParallel``.
    """

    def __init__(self, module: torch.nn.Module, device_ids=None, **kwargs) -> None:
        first = next(module.parameters(), None)
        if first is not None and first.device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def prepare_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Make ``launcher='pytorch'`` work without CUDA (gloo + CPU DDP).

    Initialises the default process group with gloo from torchrun's environment (so the
    Runner does not call ``torch.cuda.set_device``) and selects
    :class:`DeviceAwareDistributedDataParallel` as the model wrapper.

    Args:
        cfg (Config): The config; modified in place.
        launcher (str): The ``--launcher`` argument.

    Returns:
        bool: True if the CPU path was taken.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return False
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or {}
    wrapper.setdefault('type', 'DeviceAwareDistributedDataParallel')
    cfg.model_wrapper_cfg = wrapper
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                                world_size=int(os.environ['WORLD_SIZE']))
    return True
