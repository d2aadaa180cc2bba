"""Hypothesis normalisation applied before scoring, as a table of rules per dataset.

The PHOENIX corpora are scored after the hypothesis CTM goes through the ``sed`` script
released with the corpus (``preprocess.sh``): a fixed list of rewrites applied to each
CTM line (so to each gloss on its own), after which some glosses are dropped. mmsign
keeps those rules as data, in the order the script applies them:

1. delete ``loc-``, ``cl-``, ``qu-``, ``poss-``, ``lh-`` (``loc-NORD`` -> ``NORD``);
2. ``S0NNE`` -> ``SONNE``, ``HABEN2`` -> ``HABEN`` (misspelt training glosses);
3. delete ``__EMOTION__``, ``__PU__``, ``__LEFTHAND__``;
4. a gloss ending in ``ZEIGEN`` gets ``-BILDSCHIRM`` appended;
5. ``XYRAUM`` -> ``XY`` for two capitals X, Y (``NORDRAUM`` -> ``NORD``; ``RAUM`` and
   ``TRAUM`` stay);
6. delete ``-PLUSPLUS``;
7. drop glosses that are now empty or still contain ``__LEFTHAND__``,
   ``__EPENTHESIS__`` or ``__EMOTION__``.

The script's rules that look at two glosses at once (joining spelled letters with ``+``,
``WIE AUSSEHEN`` -> ``WIE-AUSSEHEN``, merging repeated glosses) never fire on a CTM file,
which has one gloss per line, so they are not part of the table. References are never
normalised. CSL-Daily and CSL are scored without rules (``'none'``); every scheme drops
empty glosses, which the official pipeline never writes as CTM words.
"""
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, Iterable, List, Tuple


@dataclass(frozen=True)
class RewriteRule:
    """One ``sed`` substitution ``s,pattern,replacement,g`` applied to a gloss.

    Args:
        pattern (str): Python regular expression; the PHOENIX patterns are plain ASCII
            and mean the same in POSIX ``sed`` under ``LC_ALL=C``.
        replacement (str): Replacement, with ``\\1`` for the first group.
    """

    pattern: str
    replacement: str


def _delete(*substrings: str) -> Tuple[RewriteRule, ...]:
    return tuple(RewriteRule(re.escape(s), '') for s in substrings)


@dataclass(frozen=True)
class GlossNormalization:
    """A named hypothesis normalisation: rewrites, then which glosses to drop.

    Args:
        name (str): Name used in configs and on the command line.
        rewrites (tuple[RewriteRule]): Applied to each gloss in order.
        drop_if_contains (tuple[str]): A rewritten gloss containing any of these
            substrings is dropped. Empty glosses are always dropped.
    """

    name: str
    rewrites: Tuple[RewriteRule, ...] = ()
    drop_if_contains: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        compiled = tuple((re.compile(r.pattern), r.replacement) for r in self.rewrites)
        # Until one rule changes a gloss, each rule sees the original, so a gloss that no
        # pattern matches is left as it is by all of them.
        any_rule = re.compile('|'.join(f'(?:{r.pattern})' for r in self.rewrites) or '(?!)')
        object.__setattr__(self, '_compiled', compiled)
        object.__setattr__(self, '_any_rule', any_rule)
        # A vocabulary has a few thousand glosses and a test set tens of thousands of
        # words: rewriting each distinct gloss once makes normalisation nearly free.
        object.__setattr__(self, '_cached_apply_one',
                           lru_cache(maxsize=1 << 16)(self._apply_one))

    def _apply_one(self, gloss: str) -> str:
        if self._any_rule.search(gloss):
            for pattern, replacement in self._compiled:
                gloss = pattern.sub(replacement, gloss)
        if any(s in gloss for s in self.drop_if_contains):
            return ''
        return gloss

    def apply_one(self, gloss: str) -> str:
        """Rewrite one gloss; the result is ``''`` when the gloss is dropped.

        Args:
            gloss (str): One hypothesis gloss.

        Returns:
            str: The normalised gloss, or ``''`` if it is not scored.
        """
        return self._cached_apply_one(gloss)

    def apply(self, glosses: Iterable[str]) -> List[str]:
        """Normalise a hypothesis, dropping the glosses that are not scored.

        Args:
            glosses (Iterable[str]): Hypothesis glosses in order.

        Returns:
            list[str]: The glosses that are scored, in order (possibly empty).
        """
        if not self.rewrites and not self.drop_if_contains:
            return [g for g in glosses if g]
        apply_one = self._cached_apply_one
        return [g for g in map(apply_one, glosses) if g]


PHOENIX2014_NORMALIZATION = GlossNormalization(
    name='phoenix2014',
    rewrites=(
        *_delete('loc-', 'cl-', 'qu-', 'poss-', 'lh-'),
        RewriteRule('S0NNE', 'SONNE'),
        RewriteRule('HABEN2', 'HABEN'),
        *_delete('__EMOTION__', '__PU__', '__LEFTHAND__'),
        RewriteRule('ZEIGEN$', 'ZEIGEN-BILDSCHIRM'),
        RewriteRule('([A-Z][A-Z])RAUM', r'\1'),
        *_delete('-PLUSPLUS'),
    ),
    drop_if_contains=('__LEFTHAND__', '__EPENTHESIS__', '__EMOTION__'),
)

NO_NORMALIZATION = GlossNormalization(name='none')

#: Normalisations by name. PHOENIX-2014-T is scored with the ``'phoenix2014'`` rules.
NORMALIZATIONS: Dict[str, GlossNormalization] = {
    PHOENIX2014_NORMALIZATION.name: PHOENIX2014_NORMALIZATION,
    NO_NORMALIZATION.name: NO_NORMALIZATION,
}


def get_normalization(name: str) -> GlossNormalization:
    """Look up a normalisation by name.

    Args:
        name (str): ``'phoenix2014'`` (PHOENIX14 and PHOENIX14-T) or ``'none'``
            (CSL-Daily, CSL, custom data).

    Returns:
        GlossNormalization: The scheme.

    Raises:
        KeyError: If the name is unknown; the message lists the known names.
    """
    try:
        return NORMALIZATIONS[name]
    except KeyError:
        raise KeyError(f'unknown WER normalisation {name!r}: choose one of '
                       f'{sorted(NORMALIZATIONS)}') from None
