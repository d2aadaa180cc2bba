"""Read the image tower's weights out of a local CLIP checkpoint file.

Formats:

* OpenAI's released ``.pt`` files: TorchScript archives, read with ``torch.jit.load``
  (TorchScript holds code, not pickled Python objects, so no ``weights_only`` applies).
* A plain state dict (OpenAI naming, ``visual.*`` keys, any dtype) saved with
  ``torch.save``, read with ``torch.load(weights_only=True)``.
* An open_clip checkpoint: its training checkpoints (``{'state_dict': ...}``, keys
  possibly prefixed ``module.``) and its hub files (``.bin`` or ``.safetensors``).
* An image tower on its own (keys ``conv1.weight``, ``transformer.resblocks.0...``).
"""
import warnings
import zipfile
from typing import Dict, NamedTuple, Tuple

import torch
from torch import Tensor

from mmsign.utils.state_dict import submodule_state_dict, tensors_of

_TOWER = 'visual.'


class CLIPImageTowerWeights(NamedTuple):
    """What :func:`read_clip_image_tower` found.

    Attributes:
        state_dict (dict[str, Tensor]): Image-tower tensors, keys relative to the tower
            (``conv1.weight``, ``transformer.resblocks.0.ln_1.weight``, ``proj`` ...).
        source (str): The file and its format, for logs and errors.
        num_ignored (int): Tensors of the file outside the image tower (text tower,
            ``logit_scale`` ...).
    """
    state_dict: Dict[str, Tensor]
    source: str
    num_ignored: int


def is_torchscript_archive(path: str) -> bool:
    """TorchScript archives are zip files with a ``code/`` folder; ``torch.save`` zips have
    none."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split('/', 1)[-1].startswith('code/') for name in archive.namelist())


def _read_state_dict(path: str) -> Tuple[Dict[str, Tensor], str]:
    if is_torchscript_archive(path):
        with warnings.catch_warnings():
            # torch deprecates TorchScript, but OpenAI's weights exist only in this format.
            warnings.simplefilter('ignore', FutureWarning)
            archive = torch.jit.load(path, map_location='cpu')
        return archive.state_dict(), 'TorchScript archive'
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path), 'safetensors state dict'
    loaded = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(loaded, dict) and isinstance(loaded.get('state_dict'), dict):
        return loaded['state_dict'], "checkpoint with 'state_dict'"
    if not isinstance(loaded, dict):
        raise TypeError(f'{path} holds a {type(loaded).__name__}, not a CLIP state dict')
    return loaded, 'state dict'


def read_clip_image_tower(path: str) -> CLIPImageTowerWeights:
    """Read the CLIP image tower's tensors from a local file (see the module docstring).

    Args:
        path (str): The checkpoint file.

    Returns:
        CLIPImageTowerWeights: The tower's state dict, a description of the file, and the
        number of other tensors it held.
    """
    state, kind = _read_state_dict(path)
    state = tensors_of(state)
    tower = submodule_state_dict(state, _TOWER)
    if not tower and 'conv1.weight' in state:
        tower = state
    if not tower:
        raise KeyError(f'{path} ({kind}) has no CLIP image tower: expected keys '
                       f"'visual.conv1.weight', ... or 'conv1.weight', ...; "
                       f'its first keys are {sorted(state)[:5]}')
    return CLIPImageTowerWeights(tower, f'{path} ({kind})', len(state) - len(tower))
