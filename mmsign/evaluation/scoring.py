"""Scoring a whole set the way the official CSLR pipeline (normalise, fill, sclite) does.

For every reference sample: normalise the hypothesis (:mod:`.normalization`); a sample
with no hypothesis word left, or with no hypothesis at all, is scored as the single word
``[EMPTY]`` (the official ``mergectmstm.py`` step); align with sclite's rules
(:mod:`.alignment`); add up S, D, I and N over the set. A hypothesis for a sample the
reference does not have is an error, as it is for sclite.
"""
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Sequence, Union

from .alignment import ErrorCounts, align, count_errors
from .normalization import GlossNormalization, get_normalization

#: The hypothesis word the official pipeline scores for a sample without hypothesis.
EMPTY_HYPOTHESIS = '[EMPTY]'


@dataclass(frozen=True)
class SampleScore:
    """The scored form of one sample.

    Args:
        sample_id (str): Sample id.
        ref (list[str]): Reference words.
        hyp (list[str]): Hypothesis words as scored: normalised, ``[EMPTY]`` if none.
        counts (ErrorCounts): Errors of the sample.
    """

    sample_id: str
    ref: List[str]
    hyp: List[str]
    counts: ErrorCounts


@dataclass(frozen=True)
class CorpusScore:
    """Scores of a set of samples.

    Args:
        samples (list[SampleScore]): One per reference sample, in reference order.
        totals (ErrorCounts): Sums over ``samples``; ``totals.wer`` is the set's WER.
        missing (list[str]): Reference samples that had no hypothesis at all (scored
            as ``[EMPTY]``).
    """

    samples: List[SampleScore]
    totals: ErrorCounts
    missing: List[str] = field(default_factory=list)


def _as_normalization(normalize: Union[str, GlossNormalization]) -> GlossNormalization:
    return normalize if isinstance(normalize, GlossNormalization) else get_normalization(
        normalize)


def score_corpus(references: Mapping[str, Sequence[str]],
                 hypotheses: Mapping[str, Sequence[str]],
                 normalize: Union[str, GlossNormalization] = 'none') -> CorpusScore:
    """Score hypotheses against references with the official pipeline's rules.

    Args:
        references (Mapping[str, Sequence[str]]): Reference words by sample id; every
            sample here is scored. References are not normalised.
        hypotheses (Mapping[str, Sequence[str]]): Raw hypothesis glosses by sample id
            (before normalisation).
        normalize (str | GlossNormalization): Hypothesis normalisation, by name
            (``'phoenix2014'``, ``'none'``) or as a scheme.

    Returns:
        CorpusScore: Per-sample and total counts.

    Raises:
        ValueError: If a hypothesis belongs to a sample the references do not have.
    """
    unknown = [sample_id for sample_id in hypotheses if sample_id not in references]
    if unknown:
        raise ValueError(
            f'{len(unknown)} hypothesis sample(s) are not in the references, e.g. '
            f'{unknown[:3]}: score against the reference of the same split (sclite '
            'fails on these too)')
    normalization = _as_normalization(normalize)
    samples = []
    missing = []
    totals = [0, 0, 0, 0]
    for sample_id, ref in references.items():
        raw = hypotheses.get(sample_id)
        if raw is None:
            missing.append(sample_id)
            raw = ()
        hyp = normalization.apply(raw) or [EMPTY_HYPOTHESIS]
        ref = list(ref)
        counts = count_errors(ref, hyp)
        totals[0] += counts.substitutions
        totals[1] += counts.deletions
        totals[2] += counts.insertions
        totals[3] += counts.ref_words
        samples.append(SampleScore(sample_id, ref, hyp, counts))
    return CorpusScore(samples, ErrorCounts(*totals), missing)


def format_counts(counts: ErrorCounts) -> str:
    """One line with WER, S, D, I and N, e.g. for logs."""
    return (f'WER {counts.wer:.2f}% (S {counts.substitutions}, D {counts.deletions}, '
            f'I {counts.insertions}, N {counts.ref_words})')


def format_alignment_report(score: CorpusScore, title: Optional[str] = None) -> str:
    """A per-sample alignment report in the spirit of sclite's ``pra`` output.

    Each sample shows its counts and the aligned REF/HYP lines with ``*`` where a word
    is missing; the Eval line marks S, D and I. Samples are listed in reference order,
    after a header with the totals.

    Args:
        score (CorpusScore): Result of :func:`score_corpus`.
        title (str, optional): First line of the report.

    Returns:
        str: The report, ending with a newline.
    """
    lines = [title] if title else []
    lines += [format_counts(score.totals),
              f'samples {len(score.samples)}, without hypothesis {len(score.missing)}', '']
    for sample in score.samples:
        counts = sample.counts
        ref_line, hyp_line, eval_line = ['REF: '], ['HYP: '], ['Eval:']
        for op, ref, hyp in align(sample.ref, sample.hyp):
            width = max(len(ref or ''), len(hyp or ''), 1)
            ref_line.append((ref or '*' * width).ljust(width))
            hyp_line.append((hyp or '*' * width).ljust(width))
            eval_line.append(('' if op == 'C' else op).ljust(width))
        lines += [f'id: {sample.sample_id}',
                  f'Scores: (#C #S #D #I) {counts.correct} {counts.substitutions} '
                  f'{counts.deletions} {counts.insertions}',
                  ' '.join(ref_line).rstrip(), ' '.join(hyp_line).rstrip(),
                  ' '.join(eval_line).rstrip(), '']
    return '\n'.join(lines)

