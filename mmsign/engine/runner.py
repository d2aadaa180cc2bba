"""mmengine's Runner with a quieter terminal: the config dump, hook table and PyTorch's
build details in the log file."""
import logging
from collections import OrderedDict

from mmaction.registry import RUNNERS
from mmengine.logging import MMLogger
from mmengine.runner import Runner
from mmengine.utils.dl_utils import collect_env

#: Key of ``collect_env()`` that holds PyTorch's build configuration (about 20 long lines).
TORCH_BUILD_KEY = 'PyTorch compiling details'
#: Starts of the log records that go to the log file only, unless the config sets
#: ``verbose_terminal=True``: the Runner's long ones (about 400 lines for a recipe), and
#: mmengine's own deprecation notices about the file client its hooks still create.
FILE_ONLY_RECORDS = ('Config:\n', 'Hooks will be executed in the following order',
                     TORCH_BUILD_KEY, '"FileClient" will be deprecated',
                     '"HardDiskBackend" is the alias of "LocalBackend"')


class FileOnlyFilter(logging.Filter):
    """Drops the records of :data:`FILE_ONLY_RECORDS` (for terminal handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but the long ones.

        Args:
            record (logging.LogRecord): A log record.

        Returns:
            bool: False for a config dump or hook table.
        """
        return not (isinstance(record.msg, str) and record.msg.startswith(FILE_ONLY_RECORDS))


@RUNNERS.register_module()
class SignRunner(Runner):
    """``mmengine.runner.Runner`` whose terminal shows no config dump, hook table and
    PyTorch build details.

    Both stay in the run's log file (``<work_dir>/<timestamp>/<timestamp>.log``), which
    the terminal names instead. ``verbose_terminal=True`` in the config (``tools/train.py
    --verbose``) prints them as mmengine does. Built by ``Runner.from_cfg``, so mmaction2's
    own tools, which build ``RUNNERS.build(cfg)`` for a ``runner_type``, get it too.
    """

    def build_logger(self, *args, **kwargs) -> MMLogger:
        """mmengine's logger, with :class:`FileOnlyFilter` on its terminal handlers.

        Args:
            *args: As ``Runner.build_logger``.
            **kwargs: As ``Runner.build_logger``.

        Returns:
            MMLogger: The logger.
        """
        logger = super().build_logger(*args, **kwargs)
        if self.cfg.get('verbose_terminal', False):
            return logger
        files = [h.baseFilename for h in logger.handlers if isinstance(h, logging.FileHandler)]
        for handler in logger.handlers:
            if not isinstance(handler, logging.FileHandler) and not any(
                    isinstance(f, FileOnlyFilter) for f in handler.filters):
                handler.addFilter(FileOnlyFilter())
        if files:
            logger.info(f'config dump, hook order and PyTorch build details: in {files[0]} '
                        '(verbose_terminal=True prints them here)')
        return logger

    def _log_env(self, env_cfg: dict) -> None:
        """mmengine's environment report, with PyTorch's build details as a record of
        their own (in the log file; on the terminal with ``verbose_terminal=True``).

        Args:
            env_cfg (dict): The environment config of the runner.
        """
        env = collect_env()
        torch_build = env.pop(TORCH_BUILD_KEY, None)
        runtime_env = OrderedDict(env_cfg)
        runtime_env.update(self._randomness_cfg)
        runtime_env['seed'] = self._seed
        runtime_env['Distributed launcher'] = self._launcher
        runtime_env['Distributed training'] = self._distributed
        runtime_env['GPU number'] = self._world_size
        dash_line = '-' * 60
        self.logger.info('\n' + dash_line + '\nSystem environment:\n    '
                         + '\n    '.join(f'{k}: {v}' for k, v in env.items())
                         + '\n\nRuntime environment:\n    '
                         + '\n    '.join(f'{k}: {v}' for k, v in runtime_env.items())
                         + '\n' + dash_line + '\n')
        if torch_build is not None:
            self.logger.info(f'{TORCH_BUILD_KEY}: {torch_build}')
        if self.cfg._cfg_dict:
            self.logger.info(f'Config:\n{self.cfg.pretty_text}')
