"""mmsign: continuous sign language recognition for the OpenMMLab stack.

Importing this package registers every mmsign module into mmaction2's registries, so
configs with ``default_scope='mmaction'`` and
``custom_imports=dict(imports=['mmsign'])`` can build them by type name.
"""
from mmsign import compat

compat.apply()

from mmsign import apis, datasets, engine, evaluation, models, visualization  # noqa: E402,F401
from mmsign.version import __version__, version_info  # noqa: E402

__all__ = ['__version__', 'version_info']
