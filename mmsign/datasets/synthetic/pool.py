"""Rendering and writing the videos of a dataset, in this process or in a pool.

Every video draws its random numbers from its own generator seeded by
``(seed, split, index)``, so the bytes written do not depend on the order of work or on
the number of processes. The language travels to the workers inside the job (a small
object), not through a module global.
"""
import multiprocessing
import os
import os.path as osp
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

import cv2
import numpy as np

from mmsign.datasets.synthetic.language import SyntheticSignLanguage
from mmsign.datasets.synthetic.options import SyntheticOptions

PHOENIX_DIR = 'phoenix-2014-multisigner'
FRAME_DIR = osp.join('features', 'fullFrame-210x260px')
VIDEO_DIR = 'videos'
SPLIT_CODES = {'train': 1, 'dev': 2, 'test': 3}
_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 3]


def frame_name(video_id: str, t: int) -> str:
    """The PHOENIX14 file name of frame ``t`` of a video."""
    stem = video_id.rsplit('_default-', 1)[0]
    return f'{stem}.avi_pid0_fn{t:06d}-0.png'


def render_and_write(lang: SyntheticSignLanguage, plan: Dict[str, Any], out_root: str,
                     options: SyntheticOptions) -> int:
    """Render one planned video and write its PNG frames (and its mp4).

    Args:
        lang (SyntheticSignLanguage): The language.
        plan (dict): ``split``, ``index``, ``id``, ``signer`` and ``glosses`` of the video.
        out_root (str): The dataset folder being written.
        options (SyntheticOptions): The generation options (seed, videos, fps).

    Returns:
        int: The number of frames written.
    """
    rng = np.random.default_rng([options.seed, SPLIT_CODES[plan['split']], plan['index'], 1])
    frames, _ = lang.render(plan['glosses'], plan['signer'], rng)
    folder = osp.join(out_root, PHOENIX_DIR, FRAME_DIR, plan['split'], plan['id'], '1')
    os.makedirs(folder)
    bgr = frames[..., ::-1]
    for t, frame in enumerate(bgr):
        path = osp.join(folder, frame_name(plan['id'], t))
        if not cv2.imwrite(path, np.ascontiguousarray(frame), _PNG_PARAMS):
            raise OSError(f'could not write {path}')
    if options.write_videos:
        path = osp.join(out_root, VIDEO_DIR, plan['split'], plan['id'] + '.mp4')
        size = (frames.shape[2], frames.shape[1])
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), float(options.fps),
                                 size)
        if not writer.isOpened():
            raise OSError(f'could not open a video writer for {path}')
        for frame in bgr:
            writer.write(np.ascontiguousarray(frame))
        writer.release()
    return len(frames)


@dataclass(frozen=True)
class RenderJob:
    """``render_and_write`` with everything but the plan bound, picklable for a pool."""
    lang: SyntheticSignLanguage
    out_root: str
    options: SyntheticOptions

    def __call__(self, plan: Dict[str, Any]) -> int:
        return render_and_write(self.lang, plan, self.out_root, self.options)


def _quiet_worker() -> None:
    cv2.setNumThreads(1)  # the pool's processes share the cores already


def render_all(job: RenderJob, plans: Sequence[Dict[str, Any]], num_workers: int = 1
               ) -> List[int]:
    """Run ``job`` on every plan, in ``num_workers`` processes.

    Args:
        job (RenderJob): What to do with each plan.
        plans (Sequence[dict]): The videos, in any order.
        num_workers (int): Processes; 1 renders here. Defaults to 1.

    Returns:
        list[int]: Frames of each video, in the order of ``plans``.
    """
    if num_workers <= 1:
        return [job(plan) for plan in plans]
    ctx = multiprocessing.get_context(
        'fork' if 'fork' in multiprocessing.get_all_start_methods() else 'spawn')
    with ctx.Pool(num_workers, initializer=_quiet_worker) as pool:
        return pool.map(job, plans, chunksize=8)


__all__ = ['FRAME_DIR', 'PHOENIX_DIR', 'RenderJob', 'VIDEO_DIR', 'frame_name', 'render_all',
           'render_and_write']
