"""Benchmark the data loading pipeline against a plain per-frame ``cv2.imread`` loop.

Measures, in one process (= one DataLoader worker), frames per second of

- ``imread loop``: ``cv2.imread`` of every frame of each video, nothing else;
- ``train pipeline``: SignInit -> SignTemporalRescale -> SignDecode -> SignRandomCrop
  -> SignFlip -> PackSignInputs (the PHOENIX14 training pipeline);
- ``test pipeline``: SignInit -> SignDecode -> SignCenterCrop -> PackSignInputs;

and optionally the train pipeline through a DataLoader with ``--workers`` processes.
Frames per second count the frames handed to the model (``inputs.shape[0]``); the
train pipeline decodes fewer (only the distinct frames the temporal rescale keeps).

By default it writes synthetic 256x256 PNG videos (a signer-like scene with camera
noise, about 95 KB per frame) whose lengths are drawn from the real PHOENIX14 training
split (``--lengths``, a ``*_lengths.csv`` such as those in tools/dev/benchmark/data/).
``--data-root`` benchmarks frame folders of a prepared dataset instead::

    python tools/analysis/benchmark.py loading --num-videos 40
    python tools/analysis/benchmark.py loading --dataset phoenix2014 \
        --data-root data/phoenix2014/phoenix-2014-multisigner --num-videos 200
"""
import argparse
import csv
import os
import os.path as osp
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.dataset.base_dataset import Compose
from torch.utils.data import DataLoader, Dataset

from mmsign.datasets import SIGN_DATASETS
from mmsign.datasets.transforms import (
    PackSignInputs,
    SignCenterCrop,
    SignDecode,
    SignFlip,
    SignInit,
    SignRandomCrop,
    SignTemporalRescale,
)
from mmsign.datasets.transforms.loading import list_frames

DEFAULT_LENGTHS = osp.join(osp.dirname(osp.abspath(__file__)), 'data', 'phoenix2014',
                           'train_lengths.csv')


def train_pipeline(crop: int = 224) -> Compose:
    """The training pipeline of the dataset configs."""
    return Compose([
        SignInit(), SignTemporalRescale(), SignDecode(), SignRandomCrop(crop), SignFlip(),
        PackSignInputs()
    ])


def test_pipeline(crop: int = 224) -> Compose:
    """The evaluation pipeline of the dataset configs."""
    return Compose([SignInit(), SignDecode(), SignCenterCrop(crop), PackSignInputs()])


def synthetic_frame(t: int, rng: np.random.Generator, noise: float, size: int = 256):
    """A signer-like frame: background gradient, torso, face, two moving hands, noise."""
    y = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    x = np.linspace(0, 1, size, dtype=np.float32)[None, :, None]
    img = np.array([90, 100, 110], np.float32) * (0.7 + 0.3 * y) + 20 * x
    img = np.broadcast_to(img, (size, size, 3)).copy()
    c = size // 2
    cv2.ellipse(img, (c, size * 9 // 10), (size * 5 // 16, size * 7 // 16), 0, 0, 360,
                (30, 30, 60), -1)
    cv2.circle(img, (c, size * 5 // 16), size // 8, (180, 150, 130), -1)
    for k in (0, 1):
        hand = (int(c + (-1)**k * 60 * np.cos(t / 7 + k)), int(size * 5 // 8 + 40 *
                                                                np.sin(t / 5 + k)))
        cv2.circle(img, hand, size // 18, (190, 160, 140), -1)
    img = cv2.GaussianBlur(img, (0, 0), 1.5)
    img += rng.normal(0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def read_lengths(path: Optional[str], count: int, seed: int) -> List[int]:
    """``count`` frame counts drawn from a ``*_lengths.csv`` (or 141, PHOENIX14's mean)."""
    if path and osp.isfile(path):
        with open(path, encoding='utf-8') as f:
            lengths = [int(row['num_frames']) for row in csv.DictReader(f)]
        rng = np.random.default_rng(seed)
        return [int(n) for n in rng.choice(lengths, size=count, replace=False)]
    return [141] * count


def write_synthetic(root: str, lengths: Sequence[int], noise: float, seed: int) -> List[dict]:
    """Write one PNG folder per video; returns their data infos."""
    rng = np.random.default_rng(seed)
    infos = []
    for v, length in enumerate(lengths):
        folder = osp.join(root, f'video{v:04d}', '1')
        os.makedirs(folder, exist_ok=True)
        for t in range(length):
            cv2.imwrite(osp.join(folder, f'video{v:04d}.avi_pid0_fn{t:06d}-0.png'),
                        synthetic_frame(t + 17 * v, rng, noise))
        infos.append(dict(sample_id=f'video{v:04d}', signer='Signer01', frame_dir=folder,
                          gloss_text=['A'], gloss_ids=[1]))
    return infos


def dataset_infos(dataset: str, data_root: str, split: str, count: int) -> List[dict]:
    """The first ``count`` data infos of a prepared dataset."""
    ds = SIGN_DATASETS[dataset](data_root, split, test_mode=True)
    return [ds.get_data_info(i) for i in range(min(count, len(ds)))]


def time_imread(infos: List[dict]) -> Dict[str, float]:
    """A plain ``cv2.imread`` of every frame (the baseline)."""
    frames = 0
    start = time.perf_counter()
    for info in infos:
        for path in list_frames(info['frame_dir']):
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            assert img is not None, path
            frames += 1
    seconds = time.perf_counter() - start
    return dict(frames=frames, decoded=frames, seconds=seconds)


def time_pipeline(pipeline: Compose, infos: List[dict]) -> Dict[str, float]:
    """Run ``pipeline`` on every video; count the frames handed out and those decoded."""
    frames = decoded = 0
    start = time.perf_counter()
    for info in infos:
        results = dict(info)
        for transform in pipeline.transforms:
            if isinstance(transform, SignDecode):
                inds = results.get('frame_inds')
                decoded += results['num_frames'] if inds is None else len(np.unique(inds))
            results = transform(results)
        frames += results['inputs'].shape[0]
    seconds = time.perf_counter() - start
    return dict(frames=frames, decoded=decoded, seconds=seconds)


def _single_thread(worker_id: int) -> None:
    cv2.setNumThreads(1)


class _Infos(Dataset):

    def __init__(self, infos: List[dict], pipeline: Compose) -> None:
        self.infos, self.pipeline = infos, pipeline

    def __len__(self) -> int:
        return len(self.infos)

    def __getitem__(self, idx: int) -> dict:
        return self.pipeline(dict(self.infos[idx]))


def time_dataloader(infos: List[dict], workers: int, batch_size: int) -> Dict[str, float]:
    """The train pipeline through a DataLoader with ``workers`` processes."""
    loader = DataLoader(_Infos(infos, train_pipeline()), batch_size=batch_size,
                        num_workers=workers, collate_fn=pseudo_collate,
                        worker_init_fn=_single_thread)
    frames = 0
    start = time.perf_counter()
    for batch in loader:
        frames += sum(x.shape[0] for x in batch['inputs'])
    seconds = time.perf_counter() - start
    return dict(frames=frames, decoded=None, seconds=seconds)


def report(name: str, result: Dict[str, float]) -> str:
    """One Markdown table row."""
    fps = result['frames'] / result['seconds']
    decoded = '' if result['decoded'] is None else result['decoded']
    return f'| {name} | {result["frames"]} | {decoded} | {result["seconds"]:.2f} | {fps:,.0f} |'



def parse_args(argv: Optional[Sequence[str]] = None,
               prog: Optional[str] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument('--num-videos', type=int, default=40)
    parser.add_argument('--lengths', default=DEFAULT_LENGTHS,
                        help='*_lengths.csv to draw synthetic video lengths from')
    parser.add_argument('--noise', type=float, default=2.0,
                        help='camera noise of the synthetic frames (sets the PNG size)')
    parser.add_argument('--dataset', choices=list(SIGN_DATASETS), default=None)
    parser.add_argument('--data-root', default=None,
                        help='benchmark this prepared dataset instead of synthetic frames')
    parser.add_argument('--split', default='train')
    parser.add_argument('--workers', type=int, default=0,
                        help='also time a DataLoader with this many workers')
    parser.add_argument('--repeat', type=int, default=2,
                        help='passes over the videos per measurement (best one reported)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> List[str]:
    """Run the benchmark; prints and returns the Markdown table rows."""
    args = parse_args(argv, prog)
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    np.random.seed(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        if args.data_root:
            infos = dataset_infos(args.dataset or 'phoenix2014', args.data_root, args.split,
                                  args.num_videos)
            source = f'{args.data_root} ({args.split})'
        else:
            lengths = read_lengths(args.lengths, args.num_videos, args.seed)
            infos = write_synthetic(tmp, lengths, args.noise, args.seed)
            source = f'synthetic 256x256 PNG, lengths from {args.lengths}'
        paths = [p for info in infos for p in list_frames(info['frame_dir'])]
        size_kb = np.mean([osp.getsize(p) for p in paths[:500]]) / 1024
        print(f'{len(infos)} videos, {len(paths)} frames, {size_kb:.0f} KB per frame: '
              f'{source}')
        for info in infos:  # warm the page cache: the first epoch reads from disk anyway
            for path in list_frames(info['frame_dir']):
                with open(path, 'rb') as f:
                    f.read()

        def best(fn, *fn_args):
            runs = [fn(*fn_args) for _ in range(args.repeat)]
            return max(runs, key=lambda r: r['frames'] / r['seconds'])

        rows = [
            '| measurement (one process) | frames out | frames decoded | seconds | frames/s |',
            '|---|---|---|---|---|',
            report('plain cv2.imread loop, every frame', best(time_imread, infos)),
            report('train pipeline (rescale, crop 224, flip, pack)',
                   best(time_pipeline, train_pipeline(), infos)),
            report('test pipeline (centre crop 224, pack)',
                   best(time_pipeline, test_pipeline(), infos)),
        ]
        if args.workers:
            rows.append(report(f'train pipeline, DataLoader with {args.workers} workers',
                               best(time_dataloader, infos, args.workers, 2)))
    print('\n'.join(rows))
    return rows

