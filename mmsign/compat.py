"""The one place where mmsign works around upstream packaging problems.

Two problems in the pinned OpenMMLab stack break ``import mmaction.models``:

* mmaction2 1.2.0's wheel lacks ``mmaction/models/localizers/drn`` (upstream issue
  2714), which ``mmaction.models.localizers`` imports. An empty stand-in module is
  registered in ``sys.modules`` so the import succeeds; DRN itself stays unavailable.
* With ``transformers>=5`` installed, mmaction2 tries to import its multimodal models,
  which need ``transformers.modeling_utils.apply_chunking_to_forward`` (removed in 5.x).
  mmaction2's ``WITH_MULTIMODAL`` switch is turned off in that case.

Nothing else in mmsign knows about these fixes. :func:`apply` must run before
``mmaction.models`` is imported; ``import mmsign`` does that.
"""
import importlib
import importlib.util
import os
import sys
import types
import warnings

DRN_MODULE = 'mmaction.models.localizers.drn'
DRN_SUBMODULE = DRN_MODULE + '.drn'

_MMCV_HINT = ('mmsign needs mmcv>=2.0.0rc4,<2.2.0 (the range mmaction2 1.2.0 accepts). '
              'Install the pure-Python build with `pip install "mmcv-lite>=2.0.0rc4,<2.2.0"` '
              'or keep a full mmcv from `mim install "mmcv>=2.0.0rc4,<2.2.0"`.')


def check_mmcv() -> None:
    """Raise a clear error when neither ``mmcv`` nor ``mmcv-lite`` is installed."""
    if _module_missing('mmcv'):
        raise ImportError(_MMCV_HINT)


def _module_missing(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except ModuleNotFoundError:
        return True


def _drn_in_wheel() -> bool:
    """Whether mmaction2's files include ``models/localizers/drn``.

    Looked up on disk: ``find_spec`` of the dotted name would import its parents,
    ``mmaction.models`` among them (seconds of start-up, and the failure being fixed).
    """
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return False
    return any(
        os.path.isfile(os.path.join(location, 'models', 'localizers', 'drn', '__init__.py'))
        for location in spec.submodule_search_locations)


def install_drn_stand_in() -> bool:
    """Register an empty ``mmaction.models.localizers.drn`` when the wheel lacks it.

    Returns:
        bool: True if a stand-in was installed.
    """
    if DRN_MODULE in sys.modules or _drn_in_wheel():
        return False
    package = types.ModuleType(DRN_MODULE)
    package.__path__ = []
    package.__doc__ = 'Stand-in installed by mmsign.compat: missing from mmaction2 1.2.0.'
    submodule = types.ModuleType(DRN_SUBMODULE)
    submodule.__doc__ = package.__doc__
    # ``localizers/__init__.py`` does ``from .drn.drn import DRN``.
    submodule.DRN = None
    package.drn = submodule
    sys.modules[DRN_MODULE] = package
    sys.modules[DRN_SUBMODULE] = submodule
    return True


def transformers_lacks_chunking() -> bool:
    """True when an installed ``transformers`` lacks what mmaction's VindLU needs."""
    if importlib.util.find_spec('transformers') is None:
        return False
    try:
        modeling_utils = importlib.import_module('transformers.modeling_utils')
    except Exception:  # a broken transformers install: keep mmaction away from it
        return True
    return not hasattr(modeling_utils, 'apply_chunking_to_forward')


def disable_multimodal_if_incompatible() -> bool:
    """Turn off mmaction's multimodal models when ``transformers`` is too new.

    Returns:
        bool: True if ``WITH_MULTIMODAL`` was switched off.
    """
    dependency = importlib.import_module('mmaction.utils.dependency')
    if getattr(dependency, 'WITH_MULTIMODAL', False) and transformers_lacks_chunking():
        dependency.WITH_MULTIMODAL = False
        return True
    return False


def quiet_mmcv_lite_warning() -> None:
    """mmcv-lite has no compiled ops; mmsign needs none, so its warning is noise."""
    warnings.filterwarnings(
        'ignore', message='Fail to import ``MultiScaleDeformableAttention``')


def apply() -> None:
    """Apply every workaround; safe to call more than once."""
    check_mmcv()
    quiet_mmcv_lite_warning()
    install_drn_stand_in()
    disable_multimodal_if_incompatible()
