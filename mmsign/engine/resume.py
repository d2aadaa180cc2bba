"""Finding a checkpoint that is safe to resume from, before the Runner touches it.

A run killed while it writes a checkpoint, a full disk or an interrupted copy leaves a
truncated file; mmengine's auto-resume reads ``<work_dir>/last_checkpoint`` and would
fail deep inside ``torch.load`` with a pickle or zip traceback. The checks here read the
archive structure and its CRCs (``torch.save`` writes a zip archive), so a truncated or
corrupted checkpoint is found without unpickling it; a complete archive is then loaded
with ``weights_only=True`` (tensors memory-mapped), so that one whose pickle holds
anything else (a crafted file, another program's objects) is refused the same way.
"""
import glob
import logging
import os
import os.path as osp
import zipfile
from typing import List, Optional, Tuple

from mmengine.logging import print_log

from mmsign.utils.torch_load import load_weights_only, not_a_checkpoint

#: The file in which mmengine's CheckpointHook records the newest checkpoint.
LAST_CHECKPOINT = 'last_checkpoint'


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used: missing, truncated, corrupt or not a checkpoint."""


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` is not a complete checkpoint, or None if it is one.

    A zip checkpoint (what ``torch.save`` writes) is checked before it is unpickled: the
    central directory must be readable, every member must match its CRC and the archive
    must hold a ``data.pkl``; then it (or a file in torch's legacy format) must load with
    ``weights_only=True``.

    Args:
        path (str): The checkpoint file.

    Returns:
        str | None: A short reason (``'truncated: ...'``), or None.
    """
    if not osp.isfile(path):
        return 'file not found'
    size = osp.getsize(path)
    if size == 0:
        return 'empty file (0 bytes): the run was killed while writing it'
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                broken = archive.testzip()
                names = archive.namelist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError,
                ValueError) as e:
            return f'unreadable zip archive ({e})'
        if broken is not None:
            return f'corrupt: member {broken} does not match its CRC'
        if not any(name.endswith('data.pkl') for name in names):
            return 'not a torch checkpoint (the zip archive holds no data.pkl)'
        return _load_problem(path, mmap=True)
    with open(path, 'rb') as f:
        head = f.read(4)
    if head.startswith(b'PK'):
        return (f'truncated ({size} bytes): a zip archive without its end, the run was '
                'probably killed while writing it')
    plainly_not = not_a_checkpoint(path)
    if plainly_not is not None:
        return plainly_not
    return _load_problem(path, mmap=False)


def _load_problem(path: str, mmap: bool) -> Optional[str]:
    """Why ``torch.load(weights_only=True)`` refuses ``path`` (a complete archive can
    still hold objects that are not tensors: a crafted pickle, another program's file)."""
    try:
        load_weights_only(path, map_location='cpu', mmap=mmap)
    except Exception as e:  # any failure means the file cannot be resumed from
        # torch's weights-only message buries the cause after its advice.
        lines = [line for line in str(e).split('WeightsUnpickler error:')[-1].splitlines()
                 if line.strip() and 'weights_only' not in line]
        reason = lines[0].strip()[:200] if lines else ''
        return (f'not a loadable checkpoint ({type(e).__name__}: {reason}; only tensors '
                'and what mmengine writes are unpickled)')
    return None


def _read_meta(path: str) -> dict:
    """``meta`` of a complete checkpoint, read without loading its tensors, with a
    ``problem`` entry when it cannot be resumed from."""
    try:
        checkpoint = load_weights_only(path, map_location='cpu',
                                       mmap=zipfile.is_zipfile(path))
    except Exception as e:  # complete archive, but not a checkpoint this run can load
        return dict(problem=f'not loadable ({type(e).__name__}: {str(e)[:200]})')
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        return dict(problem='not an mmengine checkpoint (no state_dict)')
    meta = dict(checkpoint.get('meta') or {})
    if 'optimizer' not in checkpoint:
        # CheckpointHook's best_*.pth: resuming from it would restart the optimiser and
        # the learning-rate schedule.
        meta['problem'] = ('weights only, without optimiser and scheduler state (a '
                           'save_best checkpoint?): fine for load_from, not for --resume')
    return meta


def _candidates(work_dir: str, exclude: Optional[str]) -> List[str]:
    paths = glob.glob(osp.join(work_dir, '*.pth'))
    return [p for p in paths
            if exclude is None or osp.abspath(p) != osp.abspath(exclude)]


def _read_last_checkpoint(work_dir: str) -> Optional[str]:
    path = osp.join(work_dir, LAST_CHECKPOINT)
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8', errors='replace') as f:
        return f.read().strip()


def check_checkpoint(path: str, what: str = 'load') -> None:
    """Raise :class:`CheckpointError` if ``path`` is not a complete checkpoint.

    Only local files are checked; URLs and other backends are left to mmengine.

    Args:
        path (str): The checkpoint given by the user (``load_from`` or ``--resume``).
        what (str): ``'load'`` or ``'resume'``, for the message.
    """
    if '://' in path:
        return
    problem = checkpoint_problem(path)
    if problem is not None:
        raise CheckpointError(
            f'cannot {what} from {path}: {problem}. Pass another checkpoint (the work '
            "dir's epoch_*.pth / iter_*.pth files), or, when resuming, --resume without a "
            'path to take the newest complete checkpoint of the work dir')


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The newest complete checkpoint of ``work_dir``, for ``--resume`` without a path.

    ``last_checkpoint`` is followed when it names a complete checkpoint. Otherwise (the
    file it names is truncated, corrupt or gone, or ``last_checkpoint`` itself is empty)
    a warning says why and the other ``*.pth`` files of the work dir are tried, the one
    with the most training iterations first; files without optimiser state (the
    ``best_*.pth`` of ``save_best``) are passed over, since resuming from them would
    restart the optimiser and the learning-rate schedule.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        str | None: The checkpoint to resume from; None when the work dir holds no
        checkpoint at all (training starts from scratch, as in mmengine).

    Raises:
        CheckpointError: Checkpoints exist but none of them is complete.
    """
    recorded = _read_last_checkpoint(work_dir)
    if recorded:
        problem = checkpoint_problem(recorded)
        if problem is None:
            return recorded
        reason = f'{recorded} (named by {LAST_CHECKPOINT}) is {problem}'
    elif recorded is not None:
        reason = f'{osp.join(work_dir, LAST_CHECKPOINT)} is empty'
    else:
        reason = None
    candidates = _candidates(work_dir, exclude=recorded or None)
    if reason is None and not candidates:
        return None
    rejected = [reason] if reason else []
    valid: List[Tuple[int, float, str]] = []
    for path in candidates:
        problem = checkpoint_problem(path)
        meta = {} if problem else _read_meta(path)
        problem = problem or meta.get('problem')
        if problem is None:
            valid.append((int(meta.get('iter', -1)), osp.getmtime(path), path))
        else:
            rejected.append(f'{path} is {problem}')
    if not valid:
        raise CheckpointError(
            f'--resume found no complete checkpoint in {work_dir}: ' + '; '.join(rejected)
            + '. Start the run again without --resume (after deleting the broken files and '
            f'{LAST_CHECKPOINT}), or pass --resume CHECKPOINT with a complete copy')
    chosen = max(valid)[2]
    print_log(f'--resume: {"; ".join(rejected) or f"{LAST_CHECKPOINT} is missing"}. '
              f'Resuming from {chosen} instead, the newest complete checkpoint',
              logger='current', level=logging.WARNING)
    return chosen


def remove_partial_files(directory: str, suffix: str) -> List[str]:
    """Delete the unfinished ``*<suffix>`` files an interrupted save left behind.

    Args:
        directory (str): The checkpoint folder.
        suffix (str): Suffix of the files being written (e.g. ``'.part'``).

    Returns:
        list[str]: The deleted files.
    """
    removed = sorted(glob.glob(osp.join(directory, f'*{suffix}')))
    for path in removed:
        os.remove(path)
    return removed
