"""Where the errors are: SER, confusions, per-gloss counts, WER by length and by signer.

Everything is computed from sclite's alignment of each sample (:func:`.alignment.align`,
the alignment whose counts sclite reports), so the totals here are sclite's. Standard
library only, like the rest of the scoring path, so ``tools/analysis/score_wer.py`` runs
without torch.

- :func:`analyze` turns a :class:`~.scoring.CorpusScore` into an :class:`ErrorAnalysis`;
- :func:`analysis_to_json` writes it (:mod:`.error_report` as Markdown, files, a plot);
- :func:`format_pra` writes the per-sample alignments exactly as ``sclite -o pra`` does;
- :func:`diagnose` names the likely cause when a WER is 100 % for a trivial reason.
"""
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .alignment import AlignedPair, ErrorCounts, align, fold_case
from .scoring import EMPTY_HYPOTHESIS, CorpusScore

#: Signer of samples whose signer is not known.
UNKNOWN_SIGNER = 'unknown'


@dataclass
class GlossErrors:
    """Errors involving one gloss.

    Args:
        ref (int): Occurrences in the references.
        correct (int): Reference occurrences recognised.
        substituted (int): Reference occurrences replaced by another gloss.
        deleted (int): Reference occurrences missing from the hypothesis.
        inserted (int): Hypothesis occurrences aligned to no reference word.
        substituted_for (int): Hypothesis occurrences standing for another gloss.
    """

    ref: int = 0
    correct: int = 0
    substituted: int = 0
    deleted: int = 0
    inserted: int = 0
    substituted_for: int = 0

    @property
    def errors(self) -> int:
        """Errors charged to the gloss: its substitutions, deletions and insertions."""
        return self.substituted + self.deleted + self.inserted


@dataclass
class ErrorAnalysis:
    """The error analysis of a scored set (see :func:`analyze`)."""

    totals: ErrorCounts
    sentences: int
    sentence_errors: int
    substitutions: Counter = field(default_factory=Counter)  # (ref, hyp) -> count
    deletions: Counter = field(default_factory=Counter)  # ref gloss -> count
    insertions: Counter = field(default_factory=Counter)  # hyp gloss -> count
    glosses: Dict[str, GlossErrors] = field(default_factory=dict)
    by_length: Dict[str, Tuple[int, ErrorCounts]] = field(default_factory=dict)
    by_signer: Dict[str, Tuple[int, ErrorCounts]] = field(default_factory=dict)

    @property
    def ser(self) -> float:
        """Sentence error rate in percent: samples with at least one error."""
        return 100.0 * self.sentence_errors / self.sentences if self.sentences else 0.0


def length_bucket(length: int, width: int) -> str:
    """Name of the reference-length bucket of ``length`` (``'6-10'`` for width 5)."""
    if width <= 1:
        return str(length)
    low = (max(length, 1) - 1) // width * width + 1
    return f'{low}-{low + width - 1}'


def analyze(score: CorpusScore, signers: Optional[Mapping[str, str]] = None,
            length_width: Optional[int] = None) -> ErrorAnalysis:
    """Analyse the errors of a scored set.

    Args:
        score (CorpusScore): Result of :func:`~.scoring.score_corpus`.
        signers (Mapping[str, str], optional): Signer by sample id (the STM speaker
            field, or the dataset's ``signer``); :data:`UNKNOWN_SIGNER` where missing.
        length_width (int, optional): Width of the reference-length buckets. Defaults to
            1 (every length its own bucket) when no reference is longer than 12 glosses,
            else 5.

    Returns:
        ErrorAnalysis: Counts keyed by the words as scored (references as given,
        hypotheses normalised); a correct word counts under its reference spelling.
    """
    signers = signers or {}
    if length_width is None:
        longest = max((len(s.ref) for s in score.samples), default=0)
        length_width = 1 if longest <= 12 else 5
    result = ErrorAnalysis(score.totals, len(score.samples), 0)
    by_length: Dict[str, List] = {}
    by_signer: Dict[str, List] = {}
    for sample in score.samples:
        counts = sample.counts
        result.sentence_errors += counts.errors > 0
        for groups, key in ((by_length, length_bucket(len(sample.ref), length_width)),
                            (by_signer, signers.get(sample.sample_id, UNKNOWN_SIGNER))):
            entry = groups.setdefault(key, [0, ErrorCounts()])
            entry[0] += 1
            entry[1] += counts
        if counts.errors == 0:
            for word in sample.ref:
                gloss = result.glosses.setdefault(word, GlossErrors())
                gloss.ref += 1
                gloss.correct += 1
            continue
        for op, ref, hyp in align(sample.ref, sample.hyp):
            _count_pair(result, op, ref, hyp)
    order = sorted(by_length, key=lambda k: int(k.split('-')[0]))
    result.by_length = {k: tuple(by_length[k]) for k in order}
    result.by_signer = {k: tuple(by_signer[k]) for k in sorted(by_signer)}
    return result


def _count_pair(result: ErrorAnalysis, op: str, ref: Optional[str],
                hyp: Optional[str]) -> None:
    if ref is not None:
        gloss = result.glosses.setdefault(ref, GlossErrors())
        gloss.ref += 1
        gloss.correct += op == 'C'
        gloss.substituted += op == 'S'
        gloss.deleted += op == 'D'
    if op == 'S':
        result.substitutions[(ref, hyp)] += 1
        result.glosses.setdefault(hyp, GlossErrors()).substituted_for += 1
    elif op == 'D':
        result.deletions[ref] += 1
    elif op == 'I':
        result.insertions[hyp] += 1
        result.glosses.setdefault(hyp, GlossErrors()).inserted += 1


def _counts_json(counts: ErrorCounts) -> dict:
    return {'wer': counts.wer, 'sub': counts.substitutions, 'del': counts.deletions,
            'ins': counts.insertions, 'ref_words': counts.ref_words}


def analysis_to_json(analysis: ErrorAnalysis, top: int = 20) -> dict:
    """A JSON-ready dict of the analysis.

    Args:
        analysis (ErrorAnalysis): From :func:`analyze`.
        top (int): Entries kept in each most-frequent list. Defaults to 20.

    Returns:
        dict: ``totals``, ``ser``, ``sentences``, ``sentence_errors``, the lists
        ``top_substitutions`` / ``top_deletions`` / ``top_insertions``, ``glosses`` (every
        gloss with an error, most errors first), ``by_length`` and ``by_signer``.
    """
    glosses = sorted(((g, e) for g, e in analysis.glosses.items() if e.errors),
                     key=lambda item: (-item[1].errors, item[0]))
    return {
        'totals': _counts_json(analysis.totals),
        'ser': analysis.ser,
        'sentences': analysis.sentences,
        'sentence_errors': analysis.sentence_errors,
        'top_substitutions': [{'ref': r, 'hyp': h, 'count': c}
                              for (r, h), c in most_common(analysis.substitutions, top)],
        'top_deletions': [{'ref': r, 'count': c}
                          for r, c in most_common(analysis.deletions, top)],
        'top_insertions': [{'hyp': h, 'count': c}
                           for h, c in most_common(analysis.insertions, top)],
        'glosses': {g: {'ref': e.ref, 'correct': e.correct, 'sub': e.substituted,
                        'del': e.deleted, 'ins': e.inserted,
                        'sub_for': e.substituted_for, 'errors': e.errors}
                    for g, e in glosses},
        'by_length': {k: dict(_counts_json(c), sentences=n)
                      for k, (n, c) in analysis.by_length.items()},
        'by_signer': {k: dict(_counts_json(c), sentences=n)
                      for k, (n, c) in analysis.by_signer.items()},
    }


def most_common(counter: Counter, top: int) -> List[tuple]:
    """Most frequent first; equal counts in sorted order, so reports are reproducible."""
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:top]


# ---------------------------------------------------------------------- sclite pra
def _upper_ascii(word: str) -> str:
    return ''.join(c.upper() if c.isascii() else c for c in word)


def _pra_columns(pairs: Sequence[AlignedPair]) -> Tuple[str, str, str]:
    """REF, HYP and Eval lines as sclite writes them.

    sclite prints correct words in lower case and errors in upper case (ASCII letters
    only), pads each column to the width of its longer word in UTF-8 bytes, writes a
    missing word as that many ``*`` and ends every line with a space.
    """
    ref_line, hyp_line, eval_line = ['REF: '], ['HYP: '], ['Eval:']
    for op, ref, hyp in pairs:
        ref_text = '' if ref is None else (fold_case(ref) if op == 'C' else _upper_ascii(ref))
        hyp_text = '' if hyp is None else (fold_case(hyp) if op == 'C' else _upper_ascii(hyp))
        width = max(len(ref_text.encode()), len(hyp_text.encode()))
        for line, text in ((ref_line, ref_text), (hyp_line, hyp_text)):
            text = text or '*' * width
            line.append(' ' + text + ' ' * (width - len(text.encode())))
        eval_line.append(' ' + ('' if op == 'C' else op).ljust(width))
    return ''.join(ref_line) + ' ', ''.join(hyp_line) + ' ', ''.join(eval_line) + ' '


def format_pra(score: CorpusScore, signers: Optional[Mapping[str, str]] = None,
               system_name: str = 'hyp.ctm') -> str:
    """Per-sample alignments in the layout of ``sclite -o pra`` (``aligned.txt``).

    As sclite: samples grouped by speaker (signer, lower-cased, in order of first
    appearance in the references), in reference order within a speaker; ids
    ``(speaker-NNN)``; file ids lower-cased; the hypothesis as scored (normalised,
    ``[EMPTY]`` for none).

    Args:
        score (CorpusScore): Result of :func:`~.scoring.score_corpus`.
        signers (Mapping[str, str], optional): Signer by sample id (the STM speaker);
            :data:`UNKNOWN_SIGNER` where missing.
        system_name (str): The ``System name:`` line (sclite writes the CTM's name).

    Returns:
        str: The file text.
    """
    signers = signers or {}
    groups: Dict[str, list] = {}
    for sample in score.samples:
        speaker = signers.get(sample.sample_id, UNKNOWN_SIGNER).lower()
        groups.setdefault(speaker, []).append(sample)
    speakers = list(groups)
    lines = ['', '', '\t\tDUMP OF SYSTEM ALIGNMENT STRUCTURE', '',
             f'System name:   {system_name}', '', 'Speakers: ']
    lines += [f'{i:5d}:  {s}' for i, s in enumerate(speakers)]
    lines.append('')
    for i, speaker in enumerate(speakers):
        lines.append(f'Speaker sentences{i:4d}:  {speaker}   #utts: {len(groups[speaker])}')
        for k, sample in enumerate(groups[speaker]):
            c = sample.counts
            lines += [f'id: ({speaker}-{k:03d})', f'File: {sample.sample_id.lower()}',
                      'Channel: 1',
                      f'Scores: (#C #S #D #I) {c.correct} {c.substitutions} {c.deletions} '
                      f'{c.insertions}',
                      *_pra_columns(align(sample.ref, sample.hyp)), '']
    lines.append('')
    return '\n'.join(lines) + '\n'


def read_stm_speakers(path: str) -> Dict[str, str]:
    """Speaker (signer) field of every segment of an STM file, by sample id."""
    speakers = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and not fields[0].startswith(';;'):
                speakers[fields[0]] = fields[2]
    return speakers


# ---------------------------------------------------------------------- diagnosis
def diagnose(score: CorpusScore,
             raw_hypotheses: Mapping[str, Sequence[str]]) -> Optional[str]:
    """The likely cause of a meaningless WER, or None when nothing looks wrong.

    Two cases give a WER near 100 % that says nothing about the model: every hypothesis
    empty, and hypotheses in another vocabulary than the references.

    Args:
        score (CorpusScore): The scored set.
        raw_hypotheses (Mapping[str, Sequence[str]]): The hypotheses before
            normalisation, by sample id.

    Returns:
        str | None: One warning naming the likely causes.
    """
    if not score.samples:
        return None
    words = [w for s in score.samples for w in s.hyp if w != EMPTY_HYPOTHESIS]
    if not words:
        had_raw = sum(bool(raw_hypotheses.get(s.sample_id)) for s in score.samples)
        why = (f'{had_raw} had glosses that the normalisation removed (wrong '
               'normalize setting?)' if had_raw else 'the model predicted no gloss at all')
        return (f'all {len(score.samples)} hypotheses are empty ({why}), so WER is '
                f'{score.totals.wer:.2f} %: likely an untrained or unloaded model (check '
                'load_from / the checkpoint path), or a misconfigured decoder (blank id, '
                'a word_score or lm_weight that suppresses every gloss)')
    vocabulary = {fold_case(w) for s in score.samples for w in s.ref}
    unknown = [w for w in words if fold_case(w) not in vocabulary]
    if len(unknown) > 0.5 * len(words):
        examples = sorted(set(unknown))[:5]
        return (f'{len(unknown)} of {len(words)} hypothesis glosses never occur in the '
                f'references (e.g. {examples}): likely the wrong vocabulary (model.vocab / '
                'gloss_vocab.json differs from the one the model was trained with) or '
                'references of another dataset or split')
    return None
