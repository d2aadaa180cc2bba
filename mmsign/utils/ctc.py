"""CTC without torch: the collapse of a path, and where each recognised gloss is.

:func:`collapse_ctc` and :func:`merge_repeats` turn a path into glosses (every decoder
uses them); :func:`greedy_decode` is the best path on a numpy array. They and the
alignment below take numpy arrays (or tensors, converted), so that the ONNX recognizer
(:mod:`mmsign.apis.onnx_inference`) runs without torch.

Where each gloss is: a CTC forced alignment of the decoded glosses.

The decoded glosses ``g_1 .. g_L`` are aligned against the frame log-posteriors with the
Viterbi algorithm over CTC's states (blank, ``g_1``, blank, ``g_2``, ..., blank): the
single most likely frame-level path whose CTC collapse is the decoded sequence. The
frames the path spends on ``g_i`` are its segment; the mean posterior of ``g_i`` over
them is its confidence. For a greedy decoding the path is the best path itself.

Output frame ``t`` of a head with frame stride ``s`` (``head.geometry.stride``) stands for
input frames ``s*t .. s*t + s - 1`` (the head's edge padding centres each output on its
stride, see :mod:`mmsign.models.heads.edge_padding`), so a segment of output frames
``[a, b)`` covers input frames ``[s*a, s*b)`` and seconds ``[s*a / fps, s*b / fps)``.
"""
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np


def collapse_ctc(path: Iterable[int], blank: int = 0) -> List[int]:
    """Labels of a CTC path: merge runs of one class, then drop blanks.

    Args:
        path (Iterable[int]): One class id per frame.
        blank (int): Blank id. Defaults to 0.

    Returns:
        list[int]: The labelling, e.g. ``[0, 1, 1, 0, 1, 2, 2] -> [1, 1, 2]``.
    """
    return [label for label, _ in groupby(path) if label != blank]


def merge_repeats(labels: Iterable[int]) -> List[int]:
    """Merge runs of one label: ``[1, 1, 2] -> [1, 2]``."""
    return [label for label, _ in groupby(labels)]


def as_numpy(scores: Any) -> np.ndarray:
    """float32 numpy scores from a numpy array or a tensor (any device)."""
    if hasattr(scores, 'detach'):
        scores = scores.detach().float().cpu().numpy()
    return np.asarray(scores, dtype=np.float32)


def greedy_decode(log_probs: Any, blank: int = 0, merge_repeated_glosses: bool = True
                  ) -> List[int]:
    """Best path of one video (``CTCGreedyDecoder`` on one video).

    Args:
        log_probs (np.ndarray | Tensor): ``(T, C)`` class scores.
        blank (int): Blank id. Defaults to 0.
        merge_repeated_glosses (bool): Also merge neighbouring equal glosses.

    Returns:
        list[int]: Class ids, without blanks.
    """
    labels = collapse_ctc(as_numpy(log_probs).argmax(-1).tolist(), blank)
    return merge_repeats(labels) if merge_repeated_glosses else labels


@dataclass
class GlossSegment:
    """One aligned gloss.

    Attributes:
        label (int): Class id (1..C-1).
        start (int): First output frame of the gloss.
        end (int): One past its last output frame.
        confidence (float): Mean posterior of the gloss over its frames, in ``(0, 1]``.
    """
    label: int
    start: int
    end: int
    confidence: float


def ctc_forced_alignment(log_probs: Any, labels: Sequence[int],
                         blank: int = 0) -> List[GlossSegment]:
    """Viterbi alignment of a label sequence against CTC log-posteriors.

    Neighbouring equal labels need a blank between them (as in CTC); a sequence too long
    for the frames cannot be aligned.

    Args:
        log_probs (np.ndarray | Tensor): ``(T, C)`` log class posteriors of one video.
        labels (Sequence[int]): The decoded class ids, without blanks.
        blank (int): Blank id. Defaults to 0.

    Returns:
        list[GlossSegment]: One segment per label, in order; segments do not overlap.

    Raises:
        ValueError: ``labels`` needs more frames than there are.
    """
    scores = as_numpy(log_probs)
    num_frames = scores.shape[0]
    labels = [int(label) for label in labels]
    if not labels:
        return []
    repeats = sum(a == b for a, b in zip(labels, labels[1:]))
    if len(labels) + repeats > num_frames:
        raise ValueError(f'{len(labels)} glosses ({repeats} repeated) need at least '
                         f'{len(labels) + repeats} frames, the posteriors have {num_frames}')
    # States 0..2L: even ones are blanks, state 2i+1 is labels[i].
    states = np.full(2 * len(labels) + 1, blank, dtype=np.int64)
    states[1::2] = labels
    emit = scores[:, states]                                        # (T, S)
    # The skip from label i-1 to label i (over the blank) is allowed unless they are equal.
    can_skip = np.zeros(len(states), dtype=bool)
    can_skip[3::2] = states[3::2] != states[1:-2:2]
    neg = -np.inf
    score = np.full(len(states), neg)
    score[:2] = emit[0, :2]
    back = np.zeros((num_frames, len(states)), dtype=np.int8)  # 0 stay, 1 step, 2 skip
    for t in range(1, num_frames):
        step = np.concatenate(([neg], score[:-1]))
        skip = np.where(can_skip, np.concatenate(([neg, neg], score[:-2])), neg)
        choice = np.argmax(np.stack([score, step, skip]), axis=0)
        score = np.choose(choice, [score, step, skip]) + emit[t]
        back[t] = choice
    state = len(states) - 1 if score[-1] >= score[-2] else len(states) - 2
    path = np.empty(num_frames, dtype=np.int64)
    for t in range(num_frames - 1, -1, -1):
        path[t] = state
        state -= int(back[t, state])
    segments = []
    probs = np.exp(scores)
    for i, label in enumerate(labels):
        frames = np.flatnonzero(path == 2 * i + 1)
        segments.append(GlossSegment(label, int(frames[0]), int(frames[-1]) + 1,
                                     float(probs[frames, label].mean())))
    return segments


def gloss_timestamps(segments: Sequence[GlossSegment], glosses: Sequence[str],
                     stride: int, num_frames: int,
                     fps: Optional[float]) -> List[Dict[str, Any]]:
    """Segments in input frames and seconds, JSON-friendly.

    Args:
        segments (Sequence[GlossSegment]): From :func:`ctc_forced_alignment`.
        glosses (Sequence[str]): The gloss of each segment.
        stride (int): Input frames per output frame (the head's ``geometry.stride``).
        num_frames (int): Input frames of the video (ends are clipped to it).
        fps (float, optional): Frame rate of the input frames; None gives no seconds.

    Returns:
        list[dict]: ``gloss``, ``start_frame``, ``end_frame`` (exclusive), ``start`` and
        ``end`` in seconds (None without ``fps``), ``confidence``.
    """
    out = []
    for segment, gloss in zip(segments, glosses):
        first = min(segment.start * stride, num_frames - 1)
        stop = max(min(segment.end * stride, num_frames), first + 1)
        out.append(dict(
            gloss=gloss, start_frame=first, end_frame=stop,
            start=None if fps is None else round(first / fps, 4),
            end=None if fps is None else round(stop / fps, 4),
            confidence=round(segment.confidence, 4)))
    return out


__all__ = ['GlossSegment', 'as_numpy', 'collapse_ctc', 'ctc_forced_alignment',
           'gloss_timestamps', 'greedy_decode', 'merge_repeats']
