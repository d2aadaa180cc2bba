"""Checkpoints that are never seen half-written, through mmengine's public extension points.

Two registered pieces, no private method overridden:

- :class:`AtomicLocalBackend`, a file backend (``mmengine.fileio.register_backend``) that
  writes ``<name>.part``, flushes it to disk and renames it over ``<name>`` (a failed
  write, e.g. on a full disk, deletes the ``.part`` file and raises one
  :class:`~mmsign.engine.resume.CheckpointError` naming the folder);
- :class:`SafeCheckpointHook`, mmengine's ``CheckpointHook`` writing through that backend,
  which deletes an expired checkpoint (``max_keep_ckpts``) only after the new one is
  complete, from its public ``after_train_epoch`` / ``after_train_iter``.

What they assume of ``CheckpointHook._save_checkpoint_with_step`` (it saves through
``runner.save_checkpoint(..., backend_args=self.backend_args)``, sets ``last_ckpt`` and
deletes nothing when ``max_keep_ckpts <= 0``) is pinned by
tests/engine/test_upstream_mirrors.py.
"""
import logging
import os
import os.path as osp
from collections import deque
from typing import Any, Optional, Union

from mmaction.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from mmsign.engine.resume import CheckpointError, remove_partial_files

#: Suffix of a checkpoint while it is being written.
PARTIAL_SUFFIX = '.part'
#: Name of :class:`AtomicLocalBackend` in mmengine's file backends.
ATOMIC_BACKEND = 'atomic_local'
#: ``message_hub`` info key of the checkpoints :class:`SafeCheckpointHook` keeps.
KEPT_KEY = 'safe_checkpoint_kept'


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes are atomic.

    ``put`` and ``put_text`` write ``<path>.part``, flush it to disk and rename it to
    ``<path>``: a process killed while writing leaves the previous ``<path>`` (or none)
    and a ``.part`` file, never a truncated ``<path>``. Everything else is
    ``LocalBackend``'s.
    """

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        """Write bytes to ``filepath`` atomically.

        Args:
            obj (bytes): The data.
            filepath (str | PathLike): The destination.
        """
        partial = str(filepath) + PARTIAL_SUFFIX
        try:
            super().put(obj, partial)
            _fsync(partial)
            os.replace(partial, filepath)
        except OSError as e:
            if osp.exists(partial):  # on a full disk the next save must find the space
                os.remove(partial)
            folder = osp.dirname(osp.abspath(filepath))
            raise CheckpointError(
                f'cannot write {osp.basename(str(filepath))} into {folder}: '
                f'{e.strerror or e} (a full disk, a read-only folder or a file-size limit). '
                'The files saved before are intact; free space there or pass another '
                '--work-dir, then resume with --resume') from e

    def put_text(self, obj: str, filepath: Union[str, os.PathLike],
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically.

        Args:
            obj (str): The text.
            filepath (str | PathLike): The destination.
            encoding (str): The encoding.
        """
        self.put(obj.encode(encoding), filepath)


register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` whose checkpoints are never seen half-written.

    Same arguments and files as ``CheckpointHook``; for a local ``out_dir`` (no
    ``backend_args`` / ``file_client_args`` given) three things change:

    - checkpoints are written by :class:`AtomicLocalBackend`: ``<name>.part``, flushed and
      renamed, so a run killed while saving leaves the previous checkpoints and
      ``last_checkpoint`` as they were (the ``.part`` file is deleted by the next run);
    - ``last_checkpoint`` is rewritten by mmengine only after the checkpoint it names is
      complete (should a kill leave it empty, ``--resume`` falls back to the newest
      complete checkpoint);
    - with ``max_keep_ckpts``, the oldest checkpoint is deleted only after the new one
      is complete (mmengine deletes it first, so with ``max_keep_ckpts=1`` a kill while
      saving leaves nothing to resume from).

    Args:
        *args: ``CheckpointHook``'s.
        max_keep_ckpts (int): Checkpoints kept (best checkpoints not counted); -1 keeps
            all.
        backend_args (dict, optional): As ``CheckpointHook``; None uses
            :class:`AtomicLocalBackend` for a local ``out_dir``.
        **kwargs: ``CheckpointHook``'s.
    """

    def __init__(self, *args: Any, max_keep_ckpts: int = -1,
                 backend_args: Optional[dict] = None, **kwargs: Any) -> None:
        out_dir = kwargs.get('out_dir')
        self.atomic = (backend_args is None and kwargs.get('file_client_args') is None
                       and (out_dir is None or '://' not in str(out_dir)))
        if self.atomic:
            backend_args = dict(backend=ATOMIC_BACKEND)
        # Upstream deletes before saving: it keeps everything, this hook deletes after.
        super().__init__(*args, max_keep_ckpts=-1, backend_args=backend_args, **kwargs)
        self.keep_last = max_keep_ckpts
        self.kept: deque = deque()

    def before_train(self, runner) -> None:
        """Set up like ``CheckpointHook``, delete ``.part`` files of a killed run, and
        take over the list of kept checkpoints of a resumed one."""
        super().before_train(runner)
        if self.atomic and is_main_process() and osp.isdir(self.out_dir):
            for path in remove_partial_files(self.out_dir, PARTIAL_SUFFIX):
                print_log(f'removed {path}, a checkpoint whose saving was interrupted',
                          logger='current', level=logging.WARNING)
        kept = list(runner.message_hub.get_info(KEPT_KEY) or [])
        last = runner.message_hub.get_info('last_ckpt')
        if last and last not in kept:  # saved before it entered the list
            kept.append(last)
        # A work dir copied or moved keeps the old paths: never delete outside this one.
        here = osp.realpath(self.out_dir) if self.out_dir else None
        self.kept = deque(path for path in kept if here is None or '://' in str(path)
                          or osp.dirname(osp.realpath(path)) == here)

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:
        """Save like ``CheckpointHook``, then delete what expired."""
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        self._expire(runner)

    def after_train_epoch(self, runner) -> None:
        """Save like ``CheckpointHook``, then delete what expired."""
        super().after_train_epoch(runner)
        self._expire(runner)

    def _expire(self, runner) -> None:
        if self.keep_last <= 0 or self.last_ckpt is None or (
                self.kept and self.kept[-1] == self.last_ckpt):
            return  # nothing kept, or nothing new was saved
        self.kept.append(self.last_ckpt)
        while self.keep_last > 0 and len(self.kept) > self.keep_last:
            old = self.kept.popleft()
            if is_main_process() and old != self.last_ckpt:
                if self.file_backend.isfile(old):
                    self.file_backend.remove(old)
                elif self.file_backend.isdir(old):  # DeepSpeed writes folders
                    self.file_backend.rmtree(old)
        runner.message_hub.update_info(KEPT_KEY, list(self.kept))
