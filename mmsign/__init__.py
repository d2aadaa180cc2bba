"""mmsign: continuous sign language recognition for the OpenMMLab stack.

Importing this package registers every mmsign module into mmaction2's registries, so
configs with ``default_scope='mmaction'`` and
``custom_imports=dict(imports=['mmsign'])`` can build them by type name. The two
subpackages that register nothing, :mod:`mmsign.apis` and :mod:`mmsign.visualization`,
load on first use (``mmsign.apis``, ``from mmsign.apis import ...``): they pull the
Runner and matplotlib, seconds of start-up that training and scoring do not need.

Without torch installed (a deployment of an exported model), nothing is registered and
only the torch-free parts import: ``mmsign.apis.OnnxRecognizer`` and
:mod:`mmsign.utils`.
"""
import importlib
import importlib.util

from mmsign.version import __version__, version_info


def _torch_installed() -> bool:
    try:
        return importlib.util.find_spec('torch') is not None
    except (ImportError, ValueError):  # a finder that refuses torch, or a broken entry
        return False


#: Whether the PyTorch stack is installed (and mmsign's modules are registered).
WITH_TORCH = _torch_installed()

if WITH_TORCH:
    from mmsign import compat

    compat.apply()

    from mmsign import datasets, engine, evaluation, models  # noqa: F401

__all__ = ['WITH_TORCH', '__version__', 'version_info']

_ON_FIRST_USE = ('apis', 'visualization')


def __getattr__(name: str):
    if name in _ON_FIRST_USE:
        return importlib.import_module(f'{__name__}.{name}')
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
