"""One-command preparation of a dataset release: resize frames, write the vocabulary,
check the frames against the annotations.

Used by ``tools/data/<dataset>/preprocess.py``; each of those scripts only sets the
defaults of its release.
"""
import argparse
import os
import os.path as osp
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Type

import cv2
from mmengine.utils import track_parallel_progress

from mmsign.datasets.base import BaseSignDataset
from mmsign.datasets.errors import SignDataError
from mmsign.datasets.transforms.loading import list_frames

#: Problems printed per kind; all of them go to the report file.
_MAX_PRINTED = 20


@dataclass
class FolderJob:
    """Resize (or only check) the frame folder of one sample.

    Attributes:
        sample_id (str): The sample.
        src (str): Folder of the frames as released.
        dst (str): Folder of the resized frames.
        expected (int, optional): Frame count given by the annotations.
    """

    sample_id: str
    src: str
    dst: str
    expected: Optional[int] = None


@dataclass
class FolderResult:
    """What happened to one folder.

    Attributes:
        sample_id (str): The sample.
        frames (int): Frames of the resized folder (0 if none).
        written (int): Frames written now.
        problems (list[tuple[str, str]]): ``(kind, message)`` pairs.
    """

    sample_id: str
    frames: int
    written: int
    problems: List[Tuple[str, str]]


def _count(folder: str) -> Optional[int]:
    return len(list_frames(folder)) if osp.isdir(folder) else None


def resize_folder(job: FolderJob, size: Tuple[int, int], check_only: bool = False,
                  overwrite: bool = False) -> FolderResult:
    """Resize every frame of ``job.src`` into ``job.dst`` (same file names), then check.

    A destination folder that already holds as many frames as the source is skipped
    (so an interrupted run resumes) unless ``overwrite``. Frames are resized with
    Lanczos interpolation, as the released models' preprocessing did.

    Args:
        job (FolderJob): The folder.
        size (tuple[int, int]): Output ``(width, height)``.
        check_only (bool): Only check ``job.dst`` (and ``job.src`` if present).
        overwrite (bool): Rewrite folders that look complete.

    Returns:
        FolderResult: Counts and problems.
    """
    problems: List[Tuple[str, str]] = []
    written = 0
    src_count = _count(job.src)
    if not check_only:
        if src_count is None:
            problems.append(('missing', f'{job.sample_id}: frame folder {job.src} not found'))
        elif src_count == 0:
            problems.append(('empty', f'{job.sample_id}: {job.src} holds no frames'))
        elif overwrite or _count(job.dst) != src_count:
            os.makedirs(job.dst, exist_ok=True)
            for path in list_frames(job.src):
                img = cv2.imread(path, cv2.IMREAD_COLOR)
                if img is None:
                    problems.append(('unreadable', f'{job.sample_id}: cannot decode {path}'))
                    continue
                img = cv2.resize(img, size, interpolation=cv2.INTER_LANCZOS4)
                if not cv2.imwrite(osp.join(job.dst, osp.basename(path)), img):
                    problems.append(('unwritable', f'{job.sample_id}: cannot write into '
                                     f'{job.dst}'))
                    break
                written += 1
    dst_count = _count(job.dst)
    if dst_count is None or dst_count == 0:
        if check_only or not problems:
            problems.append(('missing', f'{job.sample_id}: no resized frames in {job.dst}'))
    elif src_count is not None and src_count != dst_count:
        problems.append(('count', f'{job.sample_id}: {job.src} has {src_count} frames, '
                         f'{job.dst} has {dst_count}'))
    if dst_count and job.expected is not None and job.expected != dst_count:
        problems.append(('count', f'{job.sample_id}: the annotations say {job.expected} '
                         f'frames, {job.dst} has {dst_count}'))
    return FolderResult(job.sample_id, dst_count or 0, written, problems)


def _run_job(args: Tuple[FolderJob, Tuple[int, int], bool, bool]) -> FolderResult:
    return resize_folder(*args)


def collect_jobs(dataset: Type[BaseSignDataset], root: str, src_prefix: str,
                 dst_prefix: str, splits: Sequence[str]) -> List[FolderJob]:
    """One job per annotated sample of ``splits`` with a frame folder.

    Args:
        dataset (type): The dataset class (reads the annotations).
        root (str): The release's root folder (the dataset's ``data_root``).
        src_prefix (str): Frames as released, relative to ``root``.
        dst_prefix (str): Resized frames, relative to ``root``.
        splits (Sequence[str]): Splits to prepare.

    Returns:
        list[FolderJob]: The jobs.
    """
    src_root, dst_root = osp.join(root, src_prefix), osp.join(root, dst_prefix)
    if _overlap(src_root, dst_root):
        raise SignDataError(
            f'the resized frames would be written into the original frames: {dst_root} and '
            f'{src_root} are the same folder or one holds the other. Pass another --dst')
    jobs = []
    for split in splits:
        for record in dataset.read_annotations(root, split):
            rel = record['frame_dir']
            where = record.get('source') or f'{split} annotations, {record["sample_id"]}'
            parts = rel.replace('\\', '/').split('/')
            if osp.isabs(rel) or rel.startswith(('/', '\\')) or '..' in parts or (
                    len(rel) > 1 and rel[1] == ':'):
                raise SignDataError(
                    f'{where}: the frame folder {rel!r} is an absolute path or climbs out '
                    'with "..": frame folders must lie inside the release. Fix the line',
                    sample_id=record['sample_id'])
            job = FolderJob(record['sample_id'], osp.join(src_root, rel),
                            osp.join(dst_root, rel), record.get('num_frames'))
            if not _inside(job.dst, dst_root) or _overlap(job.src, job.dst):
                raise SignDataError(
                    f'{where}: the frame folder {rel!r} would write to {osp.realpath(job.dst)}'
                    f' (a link?), outside {dst_root} or into the original frames. Fix the '
                    'line or the link', sample_id=record['sample_id'])
            jobs.append(job)
    return jobs


def _inside(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or below it, links followed."""
    path, folder = osp.realpath(path), osp.realpath(folder)
    return osp.commonpath([path, folder]) == folder


def _overlap(first: str, second: str) -> bool:
    """One of the folders is the other or holds it, links followed."""
    return _inside(first, second) or _inside(second, first)


def build_parser(dataset: Type[BaseSignDataset], src_prefix: str,
                 description: str) -> argparse.ArgumentParser:
    """The command line of ``tools/data/<dataset>/preprocess.py``.

    Args:
        dataset (type): The dataset class.
        src_prefix (str): Default folder of the released frames, relative to the root.
        description (str): Help text.

    Returns:
        argparse.ArgumentParser: The parser.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--root', required=True,
                        help='the release folder (the data_root of the dataset config)')
    parser.add_argument('--src', default=src_prefix,
                        help='frames as released, relative to --root (default: %(default)s)')
    parser.add_argument('--dst', default=dataset.DEFAULT_DATA_PREFIX['frames'],
                        help='resized frames, relative to --root (default: %(default)s)')
    parser.add_argument('--size', type=int, nargs=2, default=(256, 256),
                        metavar=('WIDTH', 'HEIGHT'), help='output size (default: 256 256)')
    parser.add_argument('--splits', nargs='+', default=list(dataset.SPLITS),
                        choices=list(dataset.SPLITS))
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                        help='parallel processes (default: all cores)')
    parser.add_argument('--vocab-out', default=None,
                        help='vocabulary JSON (default: ROOT/gloss_vocab.json), built from '
                        'the annotations of all splits as the released models were')
    parser.add_argument('--check-only', action='store_true',
                        help='resize nothing; check the resized frames against the '
                        'annotations')
    parser.add_argument('--overwrite', action='store_true',
                        help='rewrite folders that already hold every frame')
    parser.add_argument('--report', default=None,
                        help='write every problem found to this file')
    return parser


def run(dataset: Type[BaseSignDataset], args: argparse.Namespace) -> int:
    """Prepare a release as parsed by :func:`build_parser`.

    Args:
        dataset (type): The dataset class.
        args (argparse.Namespace): The parsed command line.

    Returns:
        int: The exit status: 0 when every sample has all its frames, else 1.
    """
    name = dataset.DATASET_NAME
    try:
        vocab = dataset.build_vocabulary(args.root)
        jobs = collect_jobs(dataset, args.root, args.src, args.dst, args.splits)
    except SignDataError as e:
        print(f'error: {e}')
        return 1
    vocab_out = args.vocab_out or osp.join(args.root, 'gloss_vocab.json')
    vocab.save(vocab_out)
    print(f'{name}: wrote the vocabulary ({len(vocab)} glosses, blank = 0) to {vocab_out}')

    action = 'checking' if args.check_only else f'resizing to {args.size[0]}x{args.size[1]}'
    print(f'{name}: {action} {len(jobs)} frame folders ({", ".join(args.splits)}) '
          f'with {args.workers} processes')
    tasks = [(job, tuple(args.size), args.check_only, args.overwrite) for job in jobs]
    if args.workers > 1:
        results = track_parallel_progress(_run_job, tasks, args.workers)
    else:
        results = [_run_job(task) for task in tasks]

    problems: Dict[str, List[str]] = defaultdict(list)
    for result in results:
        for kind, message in result.problems:
            problems[kind].append(message)
    print(f'\n{name}: {sum(r.frames for r in results)} frames in {args.dst} '
          f'({sum(r.written for r in results)} written now)')
    if not problems:
        print(f'{name}: every annotated sample has all its frames')
        return 0
    for kind, messages in sorted(problems.items()):
        print(f'{name}: {len(messages)} samples with problem "{kind}":')
        for message in messages[:_MAX_PRINTED]:
            print(f'  {message}')
        if len(messages) > _MAX_PRINTED:
            print(f'  ... and {len(messages) - _MAX_PRINTED} more')
    if args.report:
        with open(args.report, 'w', encoding='utf-8') as f:
            for kind, messages in sorted(problems.items()):
                f.writelines(f'{kind}\t{m}\n' for m in messages)
        print(f'{name}: all problems written to {args.report}')
    return 1


def main(dataset: Type[BaseSignDataset], src_prefix: str, description: str,
         argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` and prepare the release.

    Args:
        dataset (type): The dataset class.
        src_prefix (str): Default folder of the released frames, relative to the root.
        description (str): Help text.
        argv (Sequence[str], optional): Arguments (default: ``sys.argv[1:]``).

    Returns:
        int: The exit status.
    """
    return run(dataset, build_parser(dataset, src_prefix, description).parse_args(argv))
