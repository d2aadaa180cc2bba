"""Videos of any length in bounded memory: overlapping windows, stitched before decoding.

Memory of a recognizer grows with the frames it sees at once (a ViT-B/16 keeps about
``197 x 3072`` floats per frame in its MLPs). A long video is therefore read and run in
windows of ``window`` frames that share ``overlap`` frames with their neighbours; each
window's outputs near its inner edges (``overlap // 2`` frames on each side) are dropped,
where they would see the window's edge instead of the video, and the rest is stitched.

Two places to stitch (``stitch``):

- ``'features'`` (default): the backbone runs window by window and its per-frame
  features are stitched; the head (temporal conv and BiLSTM, a few kilobytes per frame)
  then runs once over the whole video. The result equals the one-pass result wherever
  ``overlap // 2`` covers the backbone's temporal reach (AdaptSign: ``temporal_window //
  2 = 2`` frames), i.e. up to floating-point rounding of the different batch shapes.
- ``'posteriors'``: the whole model runs per window and the class scores are stitched.
  The BiLSTM then sees only its window, so scores differ from one pass by what the
  recurrence carries across ``overlap // 2`` frames (measured in ``docs/inference.md``);
  the convolution branch is exact when ``overlap // 2`` covers how far an output frame
  reaches beyond its own ``stride`` frames (the head's ``geometry.left_pad`` plus the
  backbone's temporal reach): 8 frames for the recipes (the "K5 P2 K5 P2" conv reaches
  6, the backbone's temporal window 2 more).

Either way the frames are decoded lazily (:class:`~mmsign.apis.video_input.VideoSource`)
and one decode runs over the stitched scores.
"""
import math
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from mmsign.apis.pipeline import FramePipeline
from mmsign.apis.video_input import VideoSource
from mmsign.models.heads.edge_padding import edge_pad_indices

#: Default frames per window: a ViT-B/16 AdaptSign stays under 4 GiB on the CPU with
#: it (measured in docs/inference.md).
DEFAULT_WINDOW = 128
#: Default frames shared by neighbouring windows.
DEFAULT_OVERLAP = 32
STITCH_MODES = ('features', 'posteriors')


@dataclass
class Window:
    """Positions ``[start, stop)`` run at once, of which ``[keep_start, keep_stop)`` are kept."""
    start: int
    stop: int
    keep_start: int
    keep_stop: int


def plan_windows(total: int, window: int, overlap: int, multiple: int = 1) -> List[Window]:
    """Cut ``total`` positions into windows that overlap by ``overlap``.

    Args:
        total (int): Positions (frames) of the video.
        window (int): Positions per window.
        overlap (int): Positions shared by neighbouring windows, ``< window``.
        multiple (int): Window starts and kept boundaries are multiples of it (the head's
            frame stride, for stitching outputs). Defaults to 1.

    Returns:
        list[Window]: Kept ranges that tile ``[0, total)`` exactly.
    """
    if window < 1 or not 0 <= overlap < window:
        raise ValueError(f'window={window} and overlap={overlap}: need window >= 1 and '
                         '0 <= overlap < window')
    step = max(multiple, (window - overlap) // multiple * multiple)
    half = (overlap // 2) // multiple * multiple
    windows: List[Window] = []
    start = 0
    while True:
        stop = min(start + window, total)
        keep_start = 0 if start == 0 else windows[-1].keep_stop
        last = stop >= total
        keep_stop = total if last else max(keep_start, start + window - half)
        windows.append(Window(start, stop, keep_start, keep_stop))
        if last:
            return windows
        start += step


def _frames_for(source: VideoSource, positions: List[int]) -> np.ndarray:
    low, high = min(positions), max(positions)
    imgs = source.read(low, high + 1)
    if positions == list(range(low, high + 1)):
        return imgs  # the usual case: no copy of a window of full-size frames
    return imgs[[p - low for p in positions]]


def windowed_logits(model: nn.Module, source: VideoSource, pipeline: FramePipeline,
                    window: Optional[int] = DEFAULT_WINDOW, overlap: int = DEFAULT_OVERLAP,
                    stitch: str = 'features', progress: bool = False,
                    timing: Optional[Dict[str, float]] = None,
                    on_window: Optional[Callable[[int, int], None]] = None
                    ) -> Tuple[Tensor, Tensor, int]:
    """Class scores of both branches for a whole video, window by window.

    Args:
        model (nn.Module): A :class:`~mmsign.models.SignRecognizer` (backbone, head,
            data preprocessor).
        source (VideoSource): The opened video.
        pipeline (FramePipeline): The config's steps after decoding.
        window (int, optional): Frames per window; None: one window for the whole video.
            Defaults to :data:`DEFAULT_WINDOW`.
        overlap (int): Frames shared by neighbouring windows. Defaults to
            :data:`DEFAULT_OVERLAP`.
        stitch (str): ``'features'`` or ``'posteriors'`` (see the module docstring).
        progress (bool): Show a progress bar over the windows (stderr).
        timing (dict, optional): Seconds spent are added to its ``read``, ``pipeline``
            and ``model`` entries.
        on_window (callable, optional): Called with ``(done, total)`` windows.

    Returns:
        tuple[Tensor, Tensor, int]: ``(T', C)`` float32 scores of the sequence and conv
        branches (CPU) and the frames T of the video.
    """
    if stitch not in STITCH_MODES:
        raise ValueError(f'stitch={stitch!r}: use one of {STITCH_MODES}')
    timing = {} if timing is None else timing
    for key in ('read', 'pipeline', 'model'):
        timing.setdefault(key, 0.0)
    total = source.num_frames
    frames_mode = getattr(model, 'padding_mode', 'features') == 'frames'
    geometry = model.head.geometry
    if stitch == 'features' and frames_mode:
        # The backbone of padding_mode='frames' sees the edge-padded video: window over it.
        positions = edge_pad_indices([total], geometry.padded_length(total),
                                     geometry.left_pad).tolist()
    else:
        positions = list(range(total))
    if window is None or window >= len(positions):
        window, overlap = len(positions), 0
    stride = geometry.stride
    if stitch == 'posteriors':
        window = max(stride, window // stride * stride)
    plan = plan_windows(len(positions), window, overlap,
                        multiple=stride if stitch == 'posteriors' else 1)
    device = next(model.parameters()).device
    kept: List[Tensor] = []
    kept_conv: List[Tensor] = []
    with torch.no_grad():
        for done, win in enumerate(tqdm(plan, desc=f'{source.name}: windows',
                                        disable=not progress or len(plan) == 1,
                                        unit='window'), 1):
            start = time.perf_counter()
            imgs = _frames_for(source, positions[win.start:win.stop])
            read = time.perf_counter()
            data = model.data_preprocessor(pipeline(imgs, source.name), False)
            prepared = time.perf_counter()
            lengths = data['lengths']
            if stitch == 'features':
                feats = model.backbone(data['inputs'], lengths)
                # A copy, not a view: the view would keep the whole window's storage.
                kept.append(feats[win.keep_start - win.start:win.keep_stop - win.start].clone())
            else:
                out = model(data['inputs'], lengths, mode='tensor')
                first = win.start // stride
                rows = slice(win.keep_start // stride - first,
                             math.ceil(win.keep_stop / stride) - first)
                kept.append(out.seq_logits[:out.lengths[0], 0][rows].float().cpu())
                kept_conv.append(out.conv_logits[:out.lengths[0], 0][rows].float().cpu())
            _sync(device)
            end = time.perf_counter()
            timing['read'] += read - start
            timing['pipeline'] += prepared - read
            timing['model'] += end - prepared
            if on_window is not None:
                on_window(done, len(plan))
        if stitch == 'posteriors':
            return torch.cat(kept), torch.cat(kept_conv), total
        start = time.perf_counter()
        feats = torch.cat(kept)
        if frames_mode:
            out = model.head.forward_padded(feats.t()[None], [len(positions)])
        else:
            out = model.head(feats, [total])
        seq = out.seq_logits[:out.lengths[0], 0].float().cpu()
        conv = out.conv_logits[:out.lengths[0], 0].float().cpu()
        _sync(device)
        timing['model'] += time.perf_counter() - start
    return seq, conv, total


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


__all__ = ['DEFAULT_OVERLAP', 'DEFAULT_WINDOW', 'STITCH_MODES', 'Window', 'plan_windows',
           'windowed_logits']
