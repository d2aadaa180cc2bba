"""Training curves from the scalars mmengine's ``LocalVisBackend`` writes.

A training run started with ``--work-dir WORK_DIR`` writes
``WORK_DIR/<timestamp>/vis_data/scalars.json``, one JSON object per line: the training
log lines (``loss``, its terms, ``lr``, ``epoch``, ``iter``, ``step`` = global iteration)
every ``default_hooks.logger.interval`` iterations, and after each validation the
metrics (``wer/seq``, ``wer/conv`` ...) with ``step`` = epoch.
"""
import glob
import json
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

_RUN_DIR = re.compile(r'^\d{8}_\d{6}$')


def latest_scalars_file(work_dir: str) -> str:
    """``scalars.json`` of the latest run (timestamp folder) in a work dir.

    Args:
        work_dir (str): The ``--work-dir`` of ``tools/train.py``.

    Returns:
        str: Path of ``<work_dir>/<latest timestamp>/vis_data/scalars.json``.

    Raises:
        FileNotFoundError: No run in ``work_dir`` has written scalars.
    """
    runs = sorted(path for path in glob.glob(osp.join(work_dir, '*', 'vis_data',
                                                      'scalars.json'))
                  if _RUN_DIR.match(osp.basename(osp.dirname(osp.dirname(path)))))
    if not runs:
        raise FileNotFoundError(
            f'no <timestamp>/vis_data/scalars.json in {work_dir}: is it the --work-dir of a '
            "training run whose config keeps dict(type='LocalVisBackend') in vis_backends "
            '(configs/_base_/default_runtime.py)?')
    return runs[-1]


@dataclass
class TrainingCurves:
    """The scalars of one run, split into training log lines and validations.

    Attributes:
        train (list[dict]): Training log lines, each with ``step`` (global iteration),
            ``epoch`` and the logged values (``loss`` ...).
        val (list[dict]): One per validation, with ``step`` (the epoch) and the metrics.
        source (str): The file read.
    """
    train: List[Dict[str, float]] = field(default_factory=list)
    val: List[Dict[str, float]] = field(default_factory=list)
    source: str = ''

    def loss_keys(self) -> List[str]:
        """``loss`` first, then its terms (``loss_*``), in the order logged."""
        keys = [k for k in (self.train[0] if self.train else {}) if k.startswith('loss')]
        return sorted(keys, key=lambda k: (k != 'loss', keys.index(k)))

    def metric_keys(self) -> List[str]:
        """The headline metrics of the validations (``wer/seq``, ``wer/conv``; not their
        ``_sub`` / ``_del`` / ``_ins`` / count parts)."""
        keys = [k for k in (self.val[0] if self.val else {}) if '/' in k]
        return [k for k in keys if '_' not in k.split('/', 1)[1]]

    def epoch_means(self, key: str) -> Dict[int, float]:
        """``{epoch: mean of key over its training log lines}``."""
        sums: Dict[int, List[float]] = {}
        for row in self.train:
            if key in row:
                sums.setdefault(int(row['epoch']), []).append(float(row[key]))
        return {epoch: sum(v) / len(v) for epoch, v in sorted(sums.items())}


def read_scalars(path: str) -> TrainingCurves:
    """Read a ``scalars.json`` into :class:`TrainingCurves`.

    A line with ``loss`` is a training line; a line without ``lr`` and ``loss`` is a
    validation (mmengine logs no learning rate there).
    """
    curves = TrainingCurves(source=path)
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}, line {number}: not JSON ({e})') from None
            if 'loss' in row:
                curves.train.append(row)
            elif 'lr' not in row:
                curves.val.append(row)
    return curves


def wer_axis_scale(values: Sequence[float]) -> str:
    """``'log'`` when the WERs span a decade or more (a quick start falls from 100 % to
    well under 1 %), ``'symlog'`` for the same with a 0 among them, else ``'linear'``.

    Args:
        values (Sequence[float]): The plotted WERs.

    Returns:
        str: A matplotlib axis scale.
    """
    positive = [v for v in values if v > 0]
    if len(positive) < 2 or max(positive) < 10 * min(positive):
        return 'linear'
    return 'symlog' if len(positive) < len(values) else 'log'


def plot_curves(curves: TrainingCurves, out: str, metrics: Optional[Sequence[str]] = None,
                title: Optional[str] = None) -> str:
    """Draw the loss per iteration (and its mean per epoch) and the dev metrics per epoch
    (:func:`curves_figure`) into a PNG.

    Args:
        curves (TrainingCurves): From :func:`read_scalars`.
        out (str): PNG file to write.
        metrics (Sequence[str], optional): Validation keys to plot. Defaults to
            :meth:`TrainingCurves.metric_keys`.
        title (str, optional): Figure title. Defaults to the run's folder.

    Returns:
        str: ``out``.
    """
    curves_figure(curves, metrics, title).savefig(out, dpi=100)
    return out


def curves_figure(curves: TrainingCurves, metrics: Optional[Sequence[str]] = None,
                  title: Optional[str] = None) -> Figure:
    """The figure of :func:`plot_curves`: text of at least 9 pt at the saved size, the
    WER axis logarithmic when the WERs span decades (:func:`wer_axis_scale`).

    Args:
        curves (TrainingCurves): From :func:`read_scalars`.
        metrics (Sequence[str], optional): Validation keys to plot.
        title (str, optional): Figure title.

    Returns:
        Figure: The figure (Agg, no pyplot state).
    """
    if not curves.train:
        raise ValueError(f'{curves.source} has no training log lines (no "loss")')
    metrics = list(metrics) if metrics is not None else curves.metric_keys()
    missing = [m for m in metrics if curves.val and m not in curves.val[0]]
    if missing:
        raise ValueError(f'{curves.source} has no validation key {missing}; it has '
                         f'{sorted(curves.val[0])}')
    # A bare Figure draws with Agg and leaves pyplot's global backend alone.
    fig = Figure(figsize=(11, 4))
    ax_loss, ax_wer = fig.subplots(1, 2)
    steps = [row['step'] for row in curves.train]
    for key in curves.loss_keys():
        values = [row.get(key, float('nan')) for row in curves.train]
        ax_loss.plot(steps, values, label=key, linewidth=2 if key == 'loss' else 1,
                     alpha=1 if key == 'loss' else 0.7)
    # Mean loss of each epoch, drawn at the epoch's last logged iteration.
    last_step = {int(row['epoch']): row['step'] for row in curves.train}
    means = curves.epoch_means('loss')
    ax_loss.plot([last_step[e] for e in means], list(means.values()), 'ko',
                 label='loss, epoch mean')
    for step in last_step.values():
        ax_loss.axvline(step, color='0.85', linewidth=0.8, zorder=0)
    ax_loss.set_xlabel('iteration (grey lines: epoch ends)')
    ax_loss.set_ylabel('loss')
    ax_loss.set_title('training loss')
    ax_loss.legend(fontsize=9)
    ax_loss.grid(alpha=0.3)

    if curves.val and metrics:
        epochs = [row['step'] for row in curves.val]
        for key in metrics:
            values = [row[key] for row in curves.val]
            best = min(range(len(values)), key=values.__getitem__)
            # The best value goes into the legend: labels at the points collide when
            # the branches end close together.
            ax_wer.plot(epochs, values, 'o-',
                        label=f'{key} (best {values[best]:.2f}, epoch {epochs[best]})')
        ax_wer.set_xticks(epochs)
        ax_wer.legend(fontsize=9)
        scale = wer_axis_scale([row[key] for row in curves.val for key in metrics])
        if scale != 'linear':
            ax_wer.set_yscale(scale, **({'linthresh': 0.1} if scale == 'symlog' else {}))
            ax_wer.yaxis.set_major_formatter(ScalarFormatter())
    else:
        ax_wer.text(0.5, 0.5, 'no validation in this run', ha='center', va='center',
                    transform=ax_wer.transAxes)
    ax_wer.set_xlabel('epoch')
    ax_wer.set_ylabel('WER (%)' + (', log scale' if ax_wer.get_yscale() != 'linear' else ''))
    ax_wer.set_title('dev WER (lower is better)')
    ax_wer.grid(alpha=0.3, which='both' if ax_wer.get_yscale() != 'linear' else 'major')
    for axis in (ax_loss, ax_wer):
        axis.tick_params(labelsize=9)
    fig.suptitle(title or osp.basename(osp.dirname(osp.dirname(curves.source))))
    fig.tight_layout()
    return fig


__all__ = ['TrainingCurves', 'curves_figure', 'latest_scalars_file', 'plot_curves',
           'read_scalars', 'wer_axis_scale']
