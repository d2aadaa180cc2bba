"""mmengine's Runner with a quieter terminal: the config dump and hook table in the log file."""
import logging

from mmaction.registry import RUNNERS
from mmengine.logging import MMLogger
from mmengine.runner import Runner

#: Starts of the Runner's long log records (about 400 lines for a recipe) that go to the
#: log file only, unless the config sets ``verbose_terminal=True``.
FILE_ONLY_RECORDS = ('Config:\n', 'Hooks will be executed in the following order')


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
    """``mmengine.runner.Runner`` whose terminal shows no config dump and hook table.

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
            logger.info(f'config dump and hook order: in {files[0]} (verbose_terminal=True '
                        'prints them here)')
        return logger
