"""Gloss n-gram language models: interpolated (modified) Kneser-Ney estimation and ARPA I/O.

Pure Python (standard library only), so building a model from a training split needs
neither KenLM's binaries nor numpy. The estimate follows Chen & Goodman (1998), "An
Empirical Study of Smoothing Techniques for Language Modeling", in the form KenLM's
``lmplz`` uses:

- counts: the highest order uses raw counts; lower orders use continuation counts
  (how many different words precede the n-gram), except n-grams starting with ``<s>``,
  which nothing can precede and which keep their raw counts;
- discounts per order from the counts of counts ``t_k`` (adjusted counts equal to k):
  ``Y = t1 / (t1 + 2 t2)``, ``D_k = k - (k + 1) Y t_{k+1} / t_k`` for k = 1, 2, 3+
  (modified); a single ``D = Y`` for plain Kneser-Ney;
- interpolation: ``p(w|h) = (c(hw) - D(c(hw))) / c(h.) + gamma(h) p(w|h')``, the
  unigrams interpolated with the uniform distribution over the vocabulary (``<unk>`` and
  ``</s>`` included, ``<s>`` excluded). Written as a back-off model, ``gamma(h)`` is the
  back-off weight of ``h``, so the ARPA file gives exactly these probabilities.

Probabilities in ARPA files and in :class:`NgramLM` are base-10 logarithms, as in KenLM.
"""
import math
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

BOS, EOS, UNK = '<s>', '</s>', '<unk>'
#: log10 probability ARPA files give to ``<s>``, which is never predicted.
NEVER = -99.0
#: Discounts used where the counts of counts cannot give valid ones (tiny or very
#: regular corpora, such as the synthetic grammar, where no n-gram is seen once).
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)

Ngram = Tuple[str, ...]


class ARPAFormatError(ValueError):
    """A malformed ARPA file; the message names the file and the line."""


class NgramLM:
    """A back-off n-gram model over glosses, as stored in an ARPA file.

    Args:
        order (int): Highest n-gram order.
        entries (list[dict]): ``entries[n - 1]`` maps each n-gram (a tuple of n words)
            to ``(log10 probability, log10 back-off weight)``.
    """

    def __init__(self, order: int, entries: List[Dict[Ngram, Tuple[float, float]]]) -> None:
        if order < 1 or len(entries) != order:
            raise ValueError(f'an order-{order} model needs {order} tables of n-grams, got '
                             f'{len(entries)}')
        self.order = order
        self.entries = entries
        self.vocab = frozenset(w for (w,) in entries[0])

    def log10_prob(self, context: Sequence[str], word: str) -> float:
        """Back-off log10 probability of ``word`` after ``context``.

        Args:
            context (Sequence[str]): Preceding words, oldest first (``<s>`` first at
                the start of a sentence); only the last ``order - 1`` are used.
            word (str): The predicted word; one outside the vocabulary is ``<unk>``.

        Returns:
            float: ``log10 p(word | context)``.
        """
        if word not in self.vocab:
            word = UNK
        context = tuple(context[max(0, len(context) - self.order + 1):])
        backoff = 0.0
        for start in range(len(context) + 1):
            history = context[start:]
            found = self.entries[len(history)].get(history + (word,))
            if found is not None:
                return backoff + found[0]
            if history:
                bo = self.entries[len(history) - 1].get(history)
                backoff += bo[1] if bo is not None else 0.0
        raise KeyError(f'{word!r} has no unigram: the model lacks {UNK}')

    def score(self, context: Ngram, word: str) -> Tuple[Ngram, float]:
        """Score ``word`` and advance the context: ``(new context, log10 p)``."""
        new_context = context + (word if word in self.vocab else UNK,)
        keep = max(0, len(new_context) - self.order + 1)
        return new_context[keep:], self.log10_prob(context, word)

    def sentence_log10_prob(self, words: Sequence[str]) -> float:
        """log10 probability of a whole sentence, ``</s>`` included."""
        context: Ngram = (BOS,)
        total = 0.0
        for word in [*words, EOS]:
            context, logp = self.score(context, word)
            total += logp
        return total

    # ------------------------------------------------------------------ ARPA I/O
    def write_arpa(self, path: str, comments: Sequence[str] = ()) -> None:
        """Write the model as an ARPA file KenLM (and SRILM) can read.

        Args:
            path (str): Output file.
            comments (Sequence[str]): Lines written before ``\\data\\`` as ``# ...``
                (KenLM accepts text there only in that form).
        """
        lines = [f'# {c}' for c in comments]
        lines += ['', '\\data\\']
        lines += [f'ngram {n + 1}={len(t)}' for n, t in enumerate(self.entries)]
        for n, table in enumerate(self.entries, 1):
            lines += ['', f'\\{n}-grams:']
            for ngram in sorted(table):
                logp, bo = table[ngram]
                text = f'{logp:.7g}\t{" ".join(ngram)}'
                lines.append(text if n == self.order or bo == 0.0 else f'{text}\t{bo:.7g}')
        lines += ['', '\\end\\', '']
        with open(path, 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines))

    @classmethod
    def from_arpa(cls, path: str) -> 'NgramLM':
        """Read an ARPA file (mmsign's, KenLM's ``lmplz`` or SRILM's).

        Raises:
            ARPAFormatError: On a missing ``\\data\\`` header, a malformed line, or a
                section whose size differs from the header.
        """
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
        it = iter(enumerate(lines, 1))
        counts: List[int] = []
        for _, line in it:
            if line.strip() == '\\data\\':
                break
        else:
            raise ARPAFormatError(f'{path}: no \\data\\ line; is this an ARPA file?')
        entries: List[Dict[Ngram, Tuple[float, float]]] = []
        current: Optional[Dict[Ngram, Tuple[float, float]]] = None
        for lineno, line in it:
            text = line.strip()
            if not text:
                continue
            if text.startswith('ngram ') and current is None:
                counts.append(int(text.split('=')[1]))
            elif text == f'\\{len(entries) + 1}-grams:':
                current = {}
                entries.append(current)
            elif text == '\\end\\':
                break
            elif current is not None:
                n = len(entries)
                fields = text.split()
                if len(fields) not in (n + 1, n + 2):
                    raise ARPAFormatError(f'{path}:{lineno}: expected log10 p, {n} words '
                                          f'and an optional back-off, got {text!r}')
                try:
                    logp = float(fields[0])
                    bo = float(fields[n + 1]) if len(fields) == n + 2 else 0.0
                except ValueError:
                    raise ARPAFormatError(f'{path}:{lineno}: not a number in {text!r}') \
                        from None
                current[tuple(fields[1:n + 1])] = (logp, bo)
            else:
                raise ARPAFormatError(f'{path}:{lineno}: unexpected line {text!r}')
        sizes = [len(t) for t in entries]
        if not entries or sizes != counts:
            raise ARPAFormatError(f'{path}: the header announces n-gram counts {counts}, '
                                  f'the sections hold {sizes}')
        if (UNK,) not in entries[0]:
            entries[0][(UNK,)] = (NEVER, 0.0)  # as KenLM does for a model without <unk>
        return cls(len(entries), entries)


# ---------------------------------------------------------------------- estimation
def _adjusted_counts(sentences: Iterable[Sequence[str]],
                     order: int) -> List[Dict[Ngram, int]]:
    """Raw counts at the highest order, continuation counts below (see module doc)."""
    raw: Dict[Ngram, int] = defaultdict(int)
    for sentence in sentences:
        words = [BOS, *sentence, EOS]
        for i in range(len(words)):
            for n in range(1, order + 1):
                if i + n <= len(words):
                    raw[tuple(words[i:i + n])] += 1
    adjusted: List[Dict[Ngram, int]] = [defaultdict(int) for _ in range(order)]
    for ngram, count in raw.items():
        n = len(ngram)
        if n == order or ngram[0] == BOS:
            adjusted[n - 1][ngram] = count
        if n >= 2 and n - 1 < order:
            # ngram[1:] is preceded by ngram[0] once more; raw n-grams are distinct.
            suffix = ngram[1:]
            if suffix[0] != BOS:
                adjusted[n - 2][suffix] += 1
    # <s> is never predicted; keep its entry for the context it starts.
    adjusted[0].pop((BOS,), None)
    return [dict(a) for a in adjusted]


def discounts(counts: Iterable[int], modified: bool = True) -> Tuple[float, float, float]:
    """Kneser-Ney discounts ``(D1, D2, D3+)`` from the adjusted counts of one order.

    Args:
        counts (Iterable[int]): The adjusted counts of every n-gram of the order.
        modified (bool): Three discounts (modified Kneser-Ney) or one.

    Returns:
        tuple[float, float, float]: The discounts; :data:`FALLBACK_DISCOUNTS` (or its
        first value for plain Kneser-Ney) where the counts of counts give none in
        ``(0, k]``.
    """
    t = [0] * 5
    for c in counts:
        if c <= 4:
            t[c] += 1
    if t[1] == 0 or t[2] == 0:
        d = FALLBACK_DISCOUNTS if modified else (FALLBACK_DISCOUNTS[0],) * 3
        return d
    y = t[1] / (t[1] + 2 * t[2])
    if not modified:
        return (y, y, y)
    if t[3] == 0 or t[4] == 0:
        return FALLBACK_DISCOUNTS
    found = tuple(k - (k + 1) * y * t[k + 1] / t[k] for k in (1, 2, 3))
    if not all(0 < d <= k for k, d in zip((1, 2, 3), found)):
        return FALLBACK_DISCOUNTS
    return found


def estimate_kneser_ney(sentences: Iterable[Sequence[str]], order: int = 3,
                        modified: bool = True,
                        vocab: Optional[Iterable[str]] = None) -> Tuple[NgramLM, list]:
    """Estimate an interpolated (modified) Kneser-Ney model of gloss sentences.

    Args:
        sentences (Iterable[Sequence[str]]): Gloss sequences (without ``<s>``/``</s>``).
        order (int): Highest n-gram order. Defaults to 3.
        modified (bool): Modified Kneser-Ney (three discounts per order) or plain
            Kneser-Ney (one). Defaults to True.
        vocab (Iterable[str], optional): Extra words of the uniform floor (e.g. the
            model's glosses never seen in the LM's training text), so they get more
            than the ``<unk>`` probability.

    Returns:
        tuple[NgramLM, list]: The model and the discounts used per order.
    """
    if order < 1:
        raise ValueError(f'order must be at least 1, got {order}')
    sentences = [list(s) for s in sentences]
    if not sentences:
        raise ValueError('no sentences to estimate a language model from')
    adjusted = _adjusted_counts(sentences, order)
    words = {w for (w,) in adjusted[0]} | set(vocab or ()) | {UNK, EOS}
    words.discard(BOS)
    for w in words:
        adjusted[0].setdefault((w,), 0)
    all_discounts = [discounts(a.values(), modified) for a in adjusted]

    # Per context: total count and the discounted mass (gamma numerator), per order.
    totals: List[Dict[Ngram, List[float]]] = [defaultdict(lambda: [0, 0.0])
                                              for _ in range(order)]
    for n, table in enumerate(adjusted):
        d = all_discounts[n]
        for ngram, count in table.items():
            entry = totals[n][ngram[:-1]]
            entry[0] += count
            entry[1] += d[min(count, 3) - 1] if count else 0.0

    probs: List[Dict[Ngram, float]] = [{} for _ in range(order)]
    uniform = 1.0 / len(words)
    for n, table in enumerate(adjusted):
        d = all_discounts[n]
        for ngram in table:
            count = table[ngram]
            total, mass = totals[n][ngram[:-1]]
            lower = probs[n - 1][ngram[1:]] if n else uniform
            discounted = max(count - (d[min(count, 3) - 1] if count else 0.0), 0.0)
            probs[n][ngram] = discounted / total + (mass / total) * lower

    entries: List[Dict[Ngram, Tuple[float, float]]] = []
    for n in range(order):
        table: Dict[Ngram, Tuple[float, float]] = {}
        for ngram, p in probs[n].items():
            table[ngram] = (math.log10(p), _backoff(totals, n + 1, ngram))
        if n == 0:
            table[(BOS,)] = (NEVER, _backoff(totals, 1, (BOS,)))
        entries.append(table)
    return NgramLM(order, entries), all_discounts


def _backoff(totals: List[Dict[Ngram, List[float]]], n: int, context: Ngram) -> float:
    """log10 back-off weight of ``context`` (gamma of the next order), 0 if none."""
    if n >= len(totals) or context not in totals[n]:
        return 0.0
    total, mass = totals[n][context]
    return math.log10(mass / total) if mass > 0 else 0.0
