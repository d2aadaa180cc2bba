"""The CTC output of one video over time: the picture CSLR papers draw to explain
alignment.

Top: per output frame, the probability of blank and of each recognised gloss (the
sequence branch's softmax; dashed: reference glosses that were not decoded). Bottom: the
decoded glosses at the times their forced alignment gives them. Text is at least
:data:`MIN_FONT_PT` points at the saved size.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

#: Smallest font size of every text in the figure, in points at the saved size.
MIN_FONT_PT = 9
#: Resolution the figure is saved at.
DPI = 150


def _seconds(frames: float, fps: Optional[float]) -> float:
    return frames / fps if fps else frames


def ctc_figure(probs: np.ndarray, glosses: Sequence[str],
               timestamps: Sequence[Mapping[str, Any]], stride: int,
               fps: Optional[float] = None, title: str = '',
               reference: Optional[Sequence[str]] = None) -> Figure:
    """Draw the CTC posteriors and the decoded glosses of one video.

    Args:
        probs (np.ndarray): ``(T', C)`` softmax probabilities of the sequence branch;
            class 0 is blank, class ``i`` is ``glosses[i - 1]``.
        glosses (Sequence[str]): The vocabulary (``model.vocab.glosses``).
        timestamps (Sequence[Mapping]): The decoded glosses with ``gloss``,
            ``start_frame`` and ``end_frame`` (input frames, end exclusive) and
            ``confidence`` (``RecognitionResult.timestamps``).
        stride (int): Input frames per output frame (``model.head.geometry.stride``).
        fps (float, optional): Frame rate of the input frames; the time axis is in
            seconds with it, in input frames without it.
        title (str): Figure title.
        reference (Sequence[str], optional): The reference glosses of a dataset sample,
            written under the decoded ones.

    Returns:
        Figure: The figure (Agg, no pyplot state).
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(glosses) + 1:
        raise ValueError(f'probs must be (T, {len(glosses) + 1}) for {len(glosses)} glosses '
                         f'+ blank, got shape {probs.shape}')
    index = {gloss: i + 1 for i, gloss in enumerate(glosses)}
    recognised: List[str] = []
    for stamp in timestamps:
        if stamp['gloss'] not in recognised:
            recognised.append(stamp['gloss'])
    unit = 's' if fps else 'input frames'
    steps = np.arange(len(probs) + 1) * stride
    edges = np.array([_seconds(x, fps) for x in steps])

    fig = Figure(figsize=(10, 5.2))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
    colours = _palette(len(recognised))
    top.stairs(probs[:, 0], edges, fill=True, color='0.82', label='blank')
    for gloss, colour in zip(recognised, colours):
        top.stairs(probs[:, index[gloss]], edges, color=colour, linewidth=2, label=gloss)
    missed = [g for g in dict.fromkeys(reference or ()) if g not in recognised and g in index]
    for gloss, colour in zip(missed, _palette(len(recognised) + len(missed))[len(recognised):]):
        top.stairs(probs[:, index[gloss]], edges, color=colour, linewidth=1.5,
                   linestyle='--', label=f'{gloss} (reference, not decoded)')
    top.set_ylim(0, 1.02)
    top.set_ylabel('probability', fontsize=10)
    top.grid(alpha=0.3)
    top.legend(loc='upper left', bbox_to_anchor=(1.01, 1.0), fontsize=MIN_FONT_PT,
               title='class', title_fontsize=MIN_FONT_PT + 1, frameon=False)

    colour_of = dict(zip(recognised, colours))
    for row, stamp in enumerate(timestamps):
        start = _seconds(stamp['start_frame'], fps)
        end = _seconds(stamp['end_frame'], fps)
        level = 1 - (row % 2) * 0.55  # alternate two rows so neighbours do not collide
        bottom.barh(level, end - start, left=start, height=0.4,
                    color=colour_of[stamp['gloss']], alpha=0.85)
        bottom.text((start + end) / 2, level + 0.27, stamp['gloss'], ha='center',
                    va='bottom', fontsize=MIN_FONT_PT + 1)
    bottom.set_ylim(0.2, 1.75)
    bottom.set_yticks([])
    bottom.set_xlim(edges[0], edges[-1])
    bottom.set_xlabel(f'time ({unit}); one output frame = {stride} input frames',
                      fontsize=10)
    decoded = ' '.join(stamp['gloss'] for stamp in timestamps)
    bottom.set_title('decoded: ' + (decoded or '(nothing)')
                     + ('\nreference: ' + ' '.join(reference) if reference is not None
                        else ''), fontsize=10, loc='left')
    for axis in (top, bottom):
        axis.tick_params(labelsize=MIN_FONT_PT)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def _palette(count: int) -> List[Any]:
    from matplotlib import colormaps
    cmap = colormaps['tab10' if count <= 10 else 'tab20']
    return [cmap(i % cmap.N) for i in range(count)]


def plot_ctc(out: str, probs: np.ndarray, glosses: Sequence[str],
             timestamps: Sequence[Mapping[str, Any]], stride: int,
             fps: Optional[float] = None, title: str = '',
             reference: Optional[Sequence[str]] = None) -> str:
    """Save :func:`ctc_figure` to ``out`` (PNG, :data:`DPI` dots per inch).

    Args:
        out (str): The image file.
        probs, glosses, timestamps, stride, fps, title, reference: As
            :func:`ctc_figure`.

    Returns:
        str: ``out``.
    """
    ctc_figure(probs, glosses, timestamps, stride, fps, title, reference).savefig(out,
                                                                                 dpi=DPI)
    return out


def plot_recognition(out: str, result: Any, glosses: Sequence[str], stride: int,
                     fps: Optional[float] = None, title: str = '',
                     reference: Optional[Sequence[str]] = None) -> str:
    """Save the CTC picture of a :class:`~mmsign.apis.RecognitionResult`.

    Args:
        out (str): The image file.
        result (RecognitionResult): From ``inference_recognizer``.
        glosses (Sequence[str]): ``model.vocab.glosses``.
        stride (int): ``model.head.geometry.stride``.
        fps (float, optional): Frame rate of the frames the model saw.
        title (str): Figure title.
        reference (Sequence[str], optional): Reference glosses.

    Returns:
        str: ``out``.
    """
    probs = result.logits.float().softmax(-1).numpy()
    return plot_ctc(out, probs, glosses, result.timestamps, stride, fps, title, reference)


def text_sizes(fig: Figure) -> Dict[str, float]:
    """Font size of every non-empty text of ``fig``, by its text (for checks)."""
    from matplotlib.text import Text
    return {t.get_text(): t.get_fontsize() for t in fig.findobj(Text)
            if t.get_text().strip() and t.get_visible()}


__all__ = ['DPI', 'MIN_FONT_PT', 'ctc_figure', 'plot_ctc', 'plot_recognition', 'text_sizes']
