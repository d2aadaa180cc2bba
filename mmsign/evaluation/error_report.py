"""The error analysis as files: a Markdown report, JSON, sclite's pra layout, a plot.

Standard library only at import time (matplotlib is imported by :func:`plot_confusions`
alone), like the rest of the scoring path.
"""
import json
import os
import os.path as osp
from typing import List, Mapping, Optional, Sequence

from .error_analysis import ErrorAnalysis, analysis_to_json, format_pra, most_common
from .scoring import CorpusScore


def format_markdown_report(analysis: ErrorAnalysis, title: str = 'WER report',
                           top: int = 10, notes: Sequence[str] = ()) -> str:
    """A readable Markdown report of the analysis.

    Args:
        analysis (ErrorAnalysis): From :func:`analyze`.
        title (str): Heading.
        top (int): Rows of each most-frequent table. Defaults to 10.
        notes (Sequence[str]): Lines written under the heading (e.g. warnings).

    Returns:
        str: The report, ending with a newline.
    """
    t = analysis.totals
    lines = [f'# {title}', '', *notes, *([''] if notes else []),
             '| WER % | SER % | sub | del | ins | ref glosses | sentences |',
             '|---:|---:|---:|---:|---:|---:|---:|',
             f'| {t.wer:.2f} | {analysis.ser:.2f} | {t.substitutions} | {t.deletions} | '
             f'{t.insertions} | {t.ref_words} | {analysis.sentences} |', '']

    def table(heading: str, columns: Sequence[str], rows: List[Sequence]) -> None:
        lines.extend([f'## {heading}', ''])
        if not rows:
            lines.extend(['none', ''])
            return
        lines.append('| ' + ' | '.join(columns) + ' |')
        lines.append('|' + '|'.join('---' if i == 0 else '---:'
                                    for i in range(len(columns))) + '|')
        lines.extend('| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows)
        lines.append('')

    table('Most frequent substitutions', ['reference -> hypothesis', 'count'],
          [(f'{r} -> {h}', c) for (r, h), c in most_common(analysis.substitutions, top)])
    table('Most frequent deletions', ['reference gloss', 'count'],
          most_common(analysis.deletions, top))
    table('Most frequent insertions', ['hypothesis gloss', 'count'],
          most_common(analysis.insertions, top))
    glosses = sorted(((g, e) for g, e in analysis.glosses.items() if e.errors),
                     key=lambda item: (-item[1].errors, item[0]))[:top]
    table(f'Glosses with most errors (top {top})',
          ['gloss', 'errors', 'in refs', 'correct', 'sub', 'del', 'ins', 'sub for others'],
          [(g, e.errors, e.ref, e.correct, e.substituted, e.deleted, e.inserted,
            e.substituted_for) for g, e in glosses])
    for heading, groups in (('WER by reference length (glosses)', analysis.by_length),
                            ('WER by signer', analysis.by_signer)):
        table(heading, ['group', 'sentences', 'ref glosses', 'WER %', 'sub', 'del', 'ins'],
              [(k, n, c.ref_words, f'{c.wer:.2f}', c.substitutions, c.deletions,
                c.insertions) for k, (n, c) in groups.items()])
    return '\n'.join(lines)


def plot_confusions(analysis: ErrorAnalysis, path: str, top: int = 15) -> None:
    """Bar chart of the most frequent errors (substitutions, deletions, insertions).

    matplotlib is imported here, so scoring never needs it.

    Args:
        analysis (ErrorAnalysis): From :func:`analyze`.
        path (str): Image file (the extension picks the format, e.g. ``.png``).
        top (int): Bars drawn. Defaults to 15.
    """
    import matplotlib
    matplotlib.use('Agg')  # files only: no display needed
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    errors = [(f'{r} -> {h}', c, 'substitution')
              for (r, h), c in analysis.substitutions.items()]
    errors += [(f'{r} -> *', c, 'deletion') for r, c in analysis.deletions.items()]
    errors += [(f'* -> {h}', c, 'insertion') for h, c in analysis.insertions.items()]
    errors = sorted(errors, key=lambda e: (-e[1], e[0]))[:top]
    colours = {'substitution': '#4477aa', 'deletion': '#cc6677', 'insertion': '#ddcc77'}
    fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(errors), 1) + 1.2))
    labels = [e[0] for e in errors][::-1]
    ax.barh(labels, [e[1] for e in errors][::-1],
            color=[colours[e[2]] for e in errors][::-1])
    ax.legend(handles=[Patch(color=c, label=k) for k, c in colours.items()],
              loc='lower right')
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel('count')
    ax.set_title(f'Top {len(errors)} errors: WER {analysis.totals.wer:.2f} %, '
                 f'SER {analysis.ser:.2f} %')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report_files(score: CorpusScore, analysis: ErrorAnalysis,
                       signers: Mapping[str, str], title: str, *,
                       markdown: Optional[str] = None, json_file: Optional[str] = None,
                       aligned: Optional[str] = None, plot: Optional[str] = None,
                       top: int = 10, warning: Optional[str] = None,
                       system_name: str = 'hyp.ctm') -> None:
    """Write the report files that are asked for (each path None to skip it).

    Args:
        score (CorpusScore): The scored set.
        analysis (ErrorAnalysis): Its analysis.
        signers (Mapping[str, str]): Signer by sample id, for ``aligned``.
        title (str): Heading of the Markdown report.
        markdown (str, optional): :func:`format_markdown_report` output file.
        json_file (str, optional): :func:`analysis_to_json` output file (at least 20
            entries per list), with ``warning``.
        aligned (str, optional): :func:`format_pra` output file.
        plot (str, optional): :func:`plot_confusions` image file.
        top (int): Rows of the Markdown tables and bars of the plot. Defaults to 10.
        warning (str, optional): :func:`diagnose`'s warning, written into the reports.
        system_name (str): The ``System name:`` of ``aligned``.
    """
    for path in (markdown, json_file, aligned, plot):
        if path:
            os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    if markdown:
        with open(markdown, 'w', encoding='utf-8') as f:
            f.write(format_markdown_report(analysis, title, top,
                                           [f'Warning: {warning}'] if warning else ()))
    if json_file:
        with open(json_file, 'w', encoding='utf-8') as f:
            json.dump(dict(analysis_to_json(analysis, max(top, 20)), warning=warning), f,
                      indent=1, ensure_ascii=False)
    if aligned:
        with open(aligned, 'w', encoding='utf-8') as f:
            f.write(format_pra(score, signers, system_name))
    if plot:
        plot_confusions(analysis, plot, top)
