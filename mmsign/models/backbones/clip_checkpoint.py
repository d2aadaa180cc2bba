"""Read the image tower's weights out of a local CLIP checkpoint file.

Formats:

* OpenAI's released ``.pt`` files: TorchScript archives. ``torch.jit.load`` would run the
  TorchScript code stored in the file (a scripted ``__setstate__`` runs on load), so they
  are never loaded: :func:`read_torchscript_tensors` reads the tensors of the archive's
  ``data.pkl`` with an unpickler that only rebuilds tensors and containers; the scripted
  objects become inert placeholders and none of the archive's code is compiled or run.
* A plain state dict (OpenAI naming, ``visual.*`` keys, any dtype) saved with
  ``torch.save``, read with ``torch.load(weights_only=True)``.
* An open_clip checkpoint: its training checkpoints (``{'state_dict': ...}``, keys
  possibly prefixed ``module.``) and its hub files (``.bin`` or ``.safetensors``).
* An image tower on its own (keys ``conv1.weight``, ``transformer.resblocks.0...``).
"""
import pickle
import zipfile
from typing import Any, Dict, NamedTuple, Tuple

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


#: Storage classes of torch's pickles, by name.
_STORAGE_DTYPES = dict(
    FloatStorage=torch.float32, HalfStorage=torch.float16, BFloat16Storage=torch.bfloat16,
    DoubleStorage=torch.float64, LongStorage=torch.int64, IntStorage=torch.int32,
    ShortStorage=torch.int16, CharStorage=torch.int8, ByteStorage=torch.uint8,
    BoolStorage=torch.bool)


class _Inert:
    """What a scripted object of the archive becomes: its pickled state, nothing run."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _StorageType(NamedTuple):
    dtype: torch.dtype


def _rebuild_tensor(storage: Tensor, offset: int, size: Tuple[int, ...],
                    stride: Tuple[int, ...], *unused: Any) -> Tensor:
    return torch.as_strided(storage, size, stride, offset)


def _same(value: Any, *unused: Any) -> Any:
    return value


#: The only functions and classes an archive's pickle may name, besides storages and
#: ``__torch__`` classes (which become :class:`_Inert`).
_ALLOWED = {('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
            ('torch._utils', '_rebuild_tensor'): _rebuild_tensor,
            ('torch._utils', '_rebuild_parameter'): _same,
            ('collections', 'OrderedDict'): dict,
            ('torch.jit._pickle', 'restore_type_tag'): _same,
            **{('torch.jit._pickle', f'build_{kind}list'): list
               for kind in ('int', 'double', 'bool', 'tensor')}}


class _TensorsOnlyUnpickler(pickle.Unpickler):
    """Unpickles a TorchScript ``data.pkl``: tensors from the archive's ``data/`` folder,
    containers, inert placeholders; any other global is refused."""

    def __init__(self, archive: zipfile.ZipFile, prefix: str, path: str) -> None:
        super().__init__(archive.open(prefix + 'data.pkl'))
        self.archive, self.prefix, self.path = archive, prefix, path

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith('__torch__'):
            return type(name, (_Inert,), {})
        if module == 'torch' and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise pickle.UnpicklingError(
            f'{self.path}: the TorchScript archive names {module}.{name}, which is no '
            'tensor: refused (only tensors are read from TorchScript files)')

    def persistent_load(self, pid: Any) -> Tensor:
        kind, storage_type, key = pid[:3]
        if kind != 'storage' or not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f'{self.path}: unknown persistent id {pid[:2]}')
        data = bytearray(self.archive.read(f'{self.prefix}data/{key}'))
        if not data:
            return torch.empty(0, dtype=storage_type.dtype)
        return torch.frombuffer(data, dtype=storage_type.dtype)


def _collect(value: Any, name: str, found: Dict[str, Tensor], depth: int = 0) -> None:
    if isinstance(value, Tensor):
        found.setdefault(name, value.clone())
    elif isinstance(value, _Inert) and depth < 64:
        _collect(getattr(value, 'state', None), name, found, depth + 1)
    elif isinstance(value, dict) and depth < 64:
        for key, item in value.items():
            if isinstance(key, str):
                _collect(item, f'{name}.{key}' if name else key, found, depth + 1)


def read_torchscript_tensors(path: str) -> Dict[str, Tensor]:
    """The named tensors of a TorchScript archive, without running any of its code.

    Module attributes (parameters, buffers and plain tensor attributes) are named by their
    path from the root module, as ``ScriptModule.state_dict()`` names them.

    Args:
        path (str): A TorchScript ``.pt`` file (zip with ``code/`` and ``data.pkl``).

    Returns:
        dict[str, Tensor]: Tensors by dotted name.
    """
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith('data.pkl') and n.count('/') == 1]
        if not pickles:
            raise pickle.UnpicklingError(f'{path}: the TorchScript archive has no data.pkl')
        prefix = pickles[0][:-len('data.pkl')]
        root = _TensorsOnlyUnpickler(archive, prefix, path).load()
        found: Dict[str, Tensor] = {}
        _collect(root, '', found)
    return found


def _read_state_dict(path: str) -> Tuple[Dict[str, Tensor], str]:
    if is_torchscript_archive(path):
        return read_torchscript_tensors(path), 'TorchScript archive, tensors only'
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
