"""The gloss language model as flashlight-text's decoder sees it.

flashlight's ``LexiconFreeDecoder`` adds ``lm_weight * score`` each time a hypothesis
emits a new gloss, and ``lm_weight * finish`` at the end. :class:`GlossLMScorer` is a
flashlight ``LM`` written in Python that returns the whole shallow-fusion term itself,

    ``lm_weight * ln p(gloss | history) + word_score``  (``lm_weight * ln p(</s> | h)`` at
    the end),

and the decoder runs with flashlight's own weight at 1. Without a word score, the
``'kenlm'`` engine skips this class: flashlight's KenLM binding is passed to the decoder
directly, with ``lm_weight * ln 10`` as flashlight's weight (same scores, no Python call
per hypothesis and gloss). That gives a word score (a bonus
per emitted gloss, against deletions), which the lexicon-free decoder has no option for,
and one unit for both n-gram engines: natural-log probabilities, the unit of the CTC
emissions, whereas KenLM answers in log10.

Engines (the n-gram arithmetic):

- ``'kenlm'``: flashlight's KenLM binding, which reads the ARPA file (or a KenLM binary);
- ``'python'``: :class:`~mmsign.models.decoders.ngram.NgramLM`, mmsign's ARPA reader.

Both give the same probabilities for an ARPA file (tested).
"""
import contextlib
import math
import os
import sys
from typing import Any, Dict, Iterator, Sequence, Tuple

from mmsign.models.decoders.ngram import BOS, EOS, NgramLM

LN10 = math.log(10.0)
ENGINES = ('kenlm', 'python')


class _PythonEngine:
    """N-gram arithmetic of mmsign's ARPA reader; a state is the context tuple."""

    def __init__(self, path: str, tokens: Sequence[str]) -> None:
        self.lm = NgramLM.from_arpa(path)
        self.tokens = list(tokens)

    def start(self) -> Tuple[str, ...]:
        return (BOS,)

    def score(self, state: Tuple[str, ...], token: int) -> Tuple[Tuple[str, ...], float]:
        return self.lm.score(state, self.tokens[token])

    def finish(self, state: Tuple[str, ...]) -> float:
        return self.lm.log10_prob(state, EOS)


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence what C++ code writes to file descriptor 2 (KenLM's loading banner and
    progress bar); its errors still arrive as Python exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, 'w') as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _KenLMEngine:
    """flashlight's KenLM binding; a state is KenLM's own ``LMState``."""

    def __init__(self, path: str, tokens: Sequence[str], kenlm_class: Any) -> None:
        from flashlight.lib.text.dictionary import Dictionary

        dictionary = Dictionary()
        for token in tokens:
            dictionary.add_entry(token)
        # The dictionary only maps class ids to KenLM's word ids at load time.
        try:
            with _quiet_native_stderr():
                self.kenlm = kenlm_class(path, dictionary)
        except RuntimeError as err:
            raise ValueError(
                f'KenLM cannot read the language model {path}: {err}. Rebuild it with '
                "tools/data/build_gloss_lm.py, or decode with lm_engine='python', whose "
                'reader names the bad line') from None

    def start(self) -> Any:
        return self.kenlm.start(False)

    def score(self, state: Any, token: int) -> Tuple[Any, float]:
        return self.kenlm.score(state, token)

    def finish(self, state: Any) -> float:
        return self.kenlm.finish(state)[1]


def build_engine(engine: str, path: str, tokens: Sequence[str]) -> Any:
    """The n-gram engine ``engine`` over the ARPA file ``path``.

    Args:
        engine (str): ``'kenlm'`` or ``'python'``.
        path (str): ARPA file (``'kenlm'`` also reads KenLM binaries).
        tokens (Sequence[str]): The gloss of each class id (the blank's entry is never
            scored).

    Returns:
        The engine (``start``, ``score``, ``finish`` in log10).
    """
    if engine == 'python':
        return _PythonEngine(path, tokens)
    if engine == 'kenlm':
        try:
            from flashlight.lib.text.decoder.kenlm import KenLM
        except ImportError as e:
            raise ImportError("lm_engine='kenlm' needs flashlight-text built with KenLM "
                              "(the PyPI wheels are); use lm_engine='python' otherwise") from e
        return _KenLMEngine(path, tokens, KenLM)
    raise ValueError(f'unknown lm_engine {engine!r}: choose one of {ENGINES}')


def make_scorer_class(decoder_module: Any) -> type:
    """The :class:`GlossLMScorer` class over ``decoder_module.LM`` (imported lazily).

    Args:
        decoder_module: ``flashlight.lib.text.decoder``.

    Returns:
        type: ``GlossLMScorer(engine, lm_weight, word_score)``; ``engine`` may be None
        for a word score without language model.
    """

    class GlossLMScorer(decoder_module.LM):
        """flashlight LM returning ``lm_weight * ln p + word_score`` per gloss."""

        def __init__(self, engine: Any, lm_weight: float, word_score: float) -> None:
            decoder_module.LM.__init__(self)
            self.engine = engine
            self.lm_weight = lm_weight * LN10  # log10 -> natural-log units
            self.word_score = word_score
            # flashlight's states form a tree (one node per gloss history, compared by
            # identity), so a hypothesis' history is exact and never merged with
            # another's; this maps each live node to its engine state and score.
            self._nodes: Dict[Any, Tuple[Any, float]] = {}

        def start(self, start_with_nothing: bool) -> Any:
            self._nodes.clear()
            root = decoder_module.LMState()
            self._nodes[root] = (self.engine.start() if self.engine else None, 0.0)
            return root

        def score(self, state: Any, token: int) -> Tuple[Any, float]:
            child = state.child(token)
            known = self._nodes.get(child)
            if known is None:
                if self.engine is None:
                    known = (None, self.word_score)
                else:
                    engine_state, log10_p = self.engine.score(self._nodes[state][0], token)
                    known = (engine_state, self.lm_weight * log10_p + self.word_score)
                self._nodes[child] = known
            return child, known[1]

        def finish(self, state: Any) -> Tuple[Any, float]:
            if self.engine is None or self.lm_weight == 0.0:
                return state, 0.0
            return state, self.lm_weight * self.engine.finish(self._nodes[state][0])

    return GlossLMScorer
