"""A TensorBoard visualiser backend that degrades gracefully."""
import importlib.util
from typing import Any

from mmaction.registry import VISBACKENDS
from mmengine.logging import print_log
from mmengine.visualization import TensorboardVisBackend


def tensorboard_available() -> bool:
    """True when ``torch.utils.tensorboard`` can write event files."""
    return importlib.util.find_spec('tensorboard') is not None


@VISBACKENDS.register_module()
class TensorboardIfInstalledVisBackend(TensorboardVisBackend):
    """mmengine's TensorBoard backend, or nothing when tensorboard is not installed.

    mmsign's runtime config lists it next to ``LocalVisBackend``, so scalars always go to
    the work dir's JSON logs and, when ``pip install tensorboard`` has been run, also to
    TensorBoard event files under ``<work_dir>/<timestamp>/vis_data``.

    Args:
        save_dir (str): Where the event files go.
    """

    def __init__(self, save_dir: str) -> None:
        super().__init__(save_dir)
        self._enabled = tensorboard_available()
        if not self._enabled:
            print_log('tensorboard is not installed: TensorBoard logging is off '
                      '(pip install tensorboard to enable it)', logger='current')

    def _init_env(self) -> None:
        if self._enabled:
            super()._init_env()

    def __getattribute__(self, name: str) -> Any:
        # Every public add_* method becomes a no-op when tensorboard is missing.
        if name.startswith('add_') and not object.__getattribute__(self, '_enabled'):
            return _ignore
        return object.__getattribute__(self, name)

    def close(self) -> None:
        if self._enabled:
            super().close()


def _ignore(*args: Any, **kwargs: Any) -> None:
    return None
