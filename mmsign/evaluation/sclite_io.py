"""Reading and writing the STM (reference) and CTM (hypothesis) files sclite scores.

STM: one segment per line, ``<sample-id> <channel> <speaker> <begin> <end> WORD ...``,
optionally with a ``<label>`` after ``<end>``. CTM: one word per line,
``<sample-id> <channel> <begin> <duration> WORD [<confidence>]``. Lines starting with
``;;`` are comments in both.

The CSLR files use one STM segment per sample covering all time
(``0.0 1.79769e+308``), so a sample's hypothesis is all its CTM words, in order of start
time (the official pipeline sorts the CTM before scoring; words with the same start keep
their order in the file). sclite's markup for references (optional words ``(A)``,
alternatives ``{ A / B }``, ``IGNORE_TIME_SEGMENT_IN_SCORING``) and ``;`` inside a word,
which sclite cuts off, are rejected with an error rather than scored differently from
sclite: no CSLR reference uses them.
"""
import math
import re
from operator import itemgetter
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .alignment import ErrorCounts

#: STM end time of a segment that covers the whole sample, as the released files write it.
STM_WHOLE_SAMPLE_END = '1.79769e+308'
#: CTM duration of one gloss; starts are ``index / 100`` seconds (released AdaptSign code).
CTM_GLOSS_DURATION = 0.01


_STM_MARKUP_CHARS = ';({}/'
_IGNORE_SEGMENT = 'IGNORE_TIME_SEGMENT_IN_SCORING'


class TranscriptFormatError(ValueError):
    """A malformed line of an STM or CTM file; the message names the file and line."""


def _open_lines(path: str) -> List[str]:
    try:
        with open(path, encoding='utf-8') as f:
            return f.read().splitlines()
    except UnicodeDecodeError as err:
        raise TranscriptFormatError(
            f'{path}: not UTF-8 text ({err}); convert it with iconv') from None


def _check_word(path: str, lineno: int, line: str, word: str, is_reference: bool) -> None:
    problem = None
    if ';' in word:
        problem = 'sclite cuts words at ";"'
    elif is_reference and (word in ('{', '}', '/') or word.startswith('(')
                           or word == _IGNORE_SEGMENT):
        problem = 'sclite markup (optional words, alternatives, ignored segments)'
    if problem:
        raise TranscriptFormatError(
            f'{path}:{lineno}: word {word!r} is not supported: {problem}; '
            f'line: {line!r}')


def _parse_time(path: str, lineno: int, line: str, text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value):
        raise TranscriptFormatError(
            f'{path}:{lineno}: {what} {text!r} is not a number; line: {line!r}')
    return value


def read_stm(path: str) -> Dict[str, List[str]]:
    """Read reference transcripts from an STM file.

    Args:
        path (str): STM file, one segment per sample.

    Returns:
        dict[str, list[str]]: Reference words by sample id, in file order.

    Raises:
        TranscriptFormatError: On a line with fewer than five fields, a time that is not
            a number, a sample id seen before, or sclite markup in the words.
    """
    references: Dict[str, List[str]] = {}
    first_line: Dict[str, int] = {}
    for lineno, line in enumerate(_open_lines(path), 1):
        fields = line.split()
        if not fields or fields[0].startswith(';;'):
            continue
        if len(fields) < 5:
            raise TranscriptFormatError(
                f'{path}:{lineno}: an STM line needs at least 5 fields '
                f'(<id> <channel> <speaker> <begin> <end> WORD ...), got {len(fields)}; '
                f'line: {line!r}')
        _parse_time(path, lineno, line, fields[3], 'begin time')
        _parse_time(path, lineno, line, fields[4], 'end time')
        sample_id, words = fields[0], fields[5:]
        if words and words[0].startswith('<') and words[0].endswith('>'):
            words = words[1:]
        if sample_id in references:
            raise TranscriptFormatError(
                f'{path}:{lineno}: sample {sample_id!r} already has a segment at line '
                f'{first_line[sample_id]}; mmsign expects one segment per sample')
        if any(c in line for c in _STM_MARKUP_CHARS) or _IGNORE_SEGMENT in line:
            for word in words:
                _check_word(path, lineno, line, word, is_reference=True)
        references[sample_id] = words
        first_line[sample_id] = lineno
    return references


def read_ctm(path: str) -> Dict[str, List[str]]:
    """Read hypotheses from a CTM file.

    Args:
        path (str): CTM file, one word per line, samples in any order.

    Returns:
        dict[str, list[str]]: Hypothesis words by sample id (in order of first
        appearance), each sample's words in order of start time. Samples without a line
        are absent.

    Raises:
        TranscriptFormatError: On a line without 5 or 6 fields, a start, duration or
            confidence that is not a number, or a word containing ``;``.
    """
    timed: Dict[str, List[Tuple[float, str]]] = {}
    for lineno, line in enumerate(_open_lines(path), 1):
        fields = line.split()
        # Fast path for the usual 5-field line; anything else is checked in detail.
        if len(fields) == 5 and fields[0][0] != ';' and ';' not in fields[4]:
            try:
                start, duration = float(fields[2]), float(fields[3])
            except ValueError:
                start = duration = math.nan
            if start == start and duration == duration:  # not NaN
                timed.setdefault(fields[0], []).append((start, fields[4]))
                continue
        if not fields or fields[0].startswith(';;'):
            continue
        if len(fields) not in (5, 6):
            raise TranscriptFormatError(
                f'{path}:{lineno}: a CTM line needs 5 or 6 fields '
                f'(<id> <channel> <begin> <duration> WORD [<confidence>]), got '
                f'{len(fields)}; line: {line!r}')
        start = _parse_time(path, lineno, line, fields[2], 'begin time')
        _parse_time(path, lineno, line, fields[3], 'duration')
        if len(fields) == 6:
            _parse_time(path, lineno, line, fields[5], 'confidence')
        _check_word(path, lineno, line, fields[4], is_reference=False)
        timed.setdefault(fields[0], []).append((start, fields[4]))
    # sorted() is stable: words with equal start times keep their order in the file.
    return {sample_id: [word for _, word in sorted(words, key=itemgetter(0))]
            for sample_id, words in timed.items()}


def _check_words(sample_id: str, words: Sequence[str]) -> None:
    for word in words:
        if not word or word.split() != [word]:
            raise ValueError(
                f'sample {sample_id!r}: word {word!r} is empty or contains whitespace, '
                'so it cannot be one word of an STM/CTM file')


def write_ctm(path: str, hypotheses: Mapping[str, Sequence[str]],
              times: Optional[Mapping[str, Sequence[Tuple[float, float]]]] = None) -> None:
    """Write hypotheses as a CTM file.

    Without ``times`` as the released AdaptSign code does: word ``i`` of a sample starts
    at ``i / 100`` seconds and lasts 0.01 s. With ``times`` (seconds from the CTC
    alignment, :mod:`mmsign.utils.ctc`) each word of a sample listed
    there gets its real start and duration. Starts are written zero-padded to a fixed
    width (``0012.480``) so that the official pipeline's text sort (``sort -k3,3``) keeps
    them in time order past 10 s; sclite reads them as numbers. A sample without words
    gets no line (scoring fills in ``[EMPTY]``).

    Args:
        path (str): Output file.
        hypotheses (Mapping[str, Sequence[str]]): Words by sample id, written in the
            mapping's order.
        times (Mapping[str, Sequence[tuple[float, float]]], optional): ``(start, end)``
            seconds of each word, by sample id; samples missing here get the placeholders.

    Raises:
        ValueError: If a word is empty or contains whitespace, or a sample's times do
            not match its words.
    """
    lines = []
    times = times or {}
    for sample_id, words in hypotheses.items():
        _check_words(sample_id, words)
        spans = times.get(sample_id)
        if spans is None:
            lines.extend(f'{sample_id} 1 {i / 100:.2f} {CTM_GLOSS_DURATION:.2f} {word}\n'
                         for i, word in enumerate(words))
            continue
        if len(spans) != len(words):
            raise ValueError(f'sample {sample_id!r}: {len(spans)} times for {len(words)} '
                             'words')
        lines.extend(f'{sample_id} 1 {start:08.3f} {max(end - start, 0.001):.3f} {word}\n'
                     for (start, end), word in zip(spans, words))
    with open(path, 'w', encoding='utf-8') as f:
        f.writelines(lines)


def write_stm(path: str,
              references: Mapping[str, Sequence[str]],
              speakers: Optional[Mapping[str, str]] = None) -> None:
    """Write references as an STM file with one whole-sample segment per sample.

    Args:
        path (str): Output file.
        references (Mapping[str, Sequence[str]]): Words by sample id, written in the
            mapping's order.
        speakers (Mapping[str, str], optional): Speaker (signer) by sample id;
            ``'unknown'`` where missing.

    Raises:
        ValueError: If a word is empty or contains whitespace.
    """
    speakers = speakers or {}
    lines = []
    for sample_id, words in references.items():
        _check_words(sample_id, words)
        speaker = speakers.get(sample_id, 'unknown')
        lines.append(' '.join([sample_id, '1', speaker, '0.0', STM_WHOLE_SAMPLE_END,
                               *words]) + '\n')
    with open(path, 'w', encoding='utf-8') as f:
        f.writelines(lines)


#: The lines of sclite's ``dtl`` report that hold S, D, I and N, in that order.
_DTL_LABELS = ('Percent Substitution', 'Percent Deletions', 'Percent Insertions',
               r'Ref\. words')


def parse_sclite_dtl(text: str) -> ErrorCounts:
    """Read the corpus totals S, D, I and N from sclite's ``dtl`` report
    (``sclite ... -o dtl``): the counts in brackets, e.g.
    ``Percent Substitution = 44.4% ( 4)``.

    Args:
        text (str): The report.

    Returns:
        ErrorCounts: sclite's substitutions, deletions, insertions and reference words.

    Raises:
        TranscriptFormatError: A line is missing (not a dtl report, or a failed run).
    """
    numbers = []
    for label in _DTL_LABELS:
        match = re.search(rf'^{label}\s*=.*\(\s*(\d+)\)', text, re.M)
        if match is None:
            raise TranscriptFormatError(
                f'no "{label.replace(chr(92), "")}" line in the sclite dtl report')
        numbers.append(int(match.group(1)))
    return ErrorCounts(*numbers)
