"""Command lines that speak plainly: a known failure is one line and an exit status.

``tools/train.py``, ``tools/test.py`` and the demo run their work through
:func:`run_cli`: a missing file, an unreadable sample (``SignLoadError``), a checkpoint
that cannot be used (``CheckpointError``), a config value mmsign refuses (an unknown
CLIP arch, a vocabulary mismatch: ``ValueError``) end with ``<prog>: error: <message>``
and exit status 1, without a traceback; ``--debug`` or ``MMSIGN_DEBUG=1`` shows it.
Ctrl-C ends with the line the tool prepared (:class:`Interrupted`) and status 130.
"""
import os
import os.path as osp
import sys
from typing import Callable, Optional, Sequence, Tuple, Type, TypeVar

from mmsign.datasets.errors import SignDataError
from mmsign.engine.resume import LAST_CHECKPOINT, CheckpointError, checkpoint_problem

#: Environment variable that shows the traceback of a known failure.
DEBUG_ENV = 'MMSIGN_DEBUG'
#: Failures whose message says what is wrong and how to fix it.
KNOWN_ERRORS: Tuple[Type[BaseException], ...] = (
    SignDataError, CheckpointError, FileNotFoundError, ValueError)

T = TypeVar('T')


class Interrupted(Exception):
    """Ctrl-C, with the one line that says how to go on.

    Args:
        message (str): The line.
    """


def debug_wanted(argv: Optional[Sequence[str]] = None) -> bool:
    """Whether ``--debug`` is on the command line or ``MMSIGN_DEBUG=1`` is set.

    Args:
        argv (Sequence[str], optional): The arguments. Defaults to ``sys.argv``.

    Returns:
        bool: True to show tracebacks.
    """
    argv = sys.argv if argv is None else argv
    return '--debug' in argv or os.environ.get(DEBUG_ENV, '') not in ('', '0')


def run_cli(work: Callable[[], T], prog: str, debug: Optional[bool] = None) -> T:
    """Run a tool's work; known failures become one message and a non-zero exit.

    Args:
        work (Callable): The tool's work, without arguments.
        prog (str): The tool's name for the message, e.g. ``'tools/train.py'``.
        debug (bool, optional): Re-raise with the traceback. Defaults to
            :func:`debug_wanted`.

    Returns:
        The work's result.

    Raises:
        SystemExit: 1 after a known failure, 130 after Ctrl-C.
    """
    debug = debug_wanted() if debug is None else debug
    try:
        return work()
    except Interrupted as e:
        if debug:
            raise
        print(f'{prog}: {e}', file=sys.stderr, flush=True)
        raise SystemExit(130) from None
    except BaseException as e:
        if debug:
            raise
        if caused_by_ctrl_c(e):
            print(f'{prog}: interrupted', file=sys.stderr, flush=True)
            raise SystemExit(130) from None
        if not isinstance(e, KNOWN_ERRORS):
            raise
        print(f'{prog}: error: {describe(e)} (--debug or {DEBUG_ENV}=1 shows the traceback)',
              file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def caused_by_ctrl_c(error: BaseException) -> bool:
    """Whether ``error`` is Ctrl-C, or was raised while handling it.

    Some libraries turn any exception into one of their own: mmengine's
    ``Config.pretty_text``, which every checkpoint save calls, reports a Ctrl-C that
    lands inside yapf as ``SyntaxError: Failed to format the config file``.

    Args:
        error (BaseException): The exception that ended the work.

    Returns:
        bool: True when a ``KeyboardInterrupt`` is in its cause / context chain.
    """
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def require_paths(**paths: str) -> None:
    """Refuse missing inputs before any model is built (which takes seconds).

    Args:
        **paths (str): What each path is (``config=...``, ``video=...``) and the path.

    Raises:
        FileNotFoundError: ``<what> not found: <path>``, the first one missing.
    """
    for what, path in paths.items():
        if not osp.exists(path):
            hint = ' (give a video file or a folder of PNG/JPG frames)' if what == 'video' else ''
            raise FileNotFoundError(f'{what} not found: {path}{hint}')


def describe(error: BaseException) -> str:
    """The message of a known failure, with its type when that says something.

    Args:
        error (BaseException): The failure.

    Returns:
        str: ``Type: message`` (the message alone for a plain ``ValueError``).
    """
    message = str(error) or type(error).__name__
    if isinstance(error, FileNotFoundError) and error.filename and not error.args[1:2]:
        return message
    if type(error) is ValueError:
        return message
    return f'{type(error).__name__}: {message}'


def last_complete_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` would continue from, read without loading it.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        str | None: ``last_checkpoint``'s file when it is complete, else None.
    """
    path = osp.join(work_dir, LAST_CHECKPOINT)
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8', errors='replace') as f:
        recorded = f.read().strip()
    return recorded if recorded and checkpoint_problem(recorded) is None else None


def interrupted_training(work_dir: str, resume_command: str) -> Interrupted:
    """The Ctrl-C line of a training run: the last complete checkpoint, how to go on.

    Args:
        work_dir (str): The run's work dir.
        resume_command (str): The command that resumes it.

    Returns:
        Interrupted: To raise.
    """
    found = last_complete_checkpoint(work_dir)
    if found is None:
        return Interrupted(f'interrupted before the first complete checkpoint in {work_dir}; '
                           f'{resume_command} starts from scratch')
    return Interrupted(f'interrupted; the last complete checkpoint is {found}: continue '
                       f'with {resume_command}')
