"""The gloss vocabulary: class order of the CTC classifier."""
import json
from typing import Dict, Iterable, List, Sequence, Union


class GlossVocabulary:
    """Maps gloss strings to class ids and back; class 0 is the CTC blank.

    Class ``i + 1`` is ``glosses[i]``. The released AdaptSign models sort the set of all
    glosses of the three splits; :meth:`from_sentences` does the same.

    Args:
        glosses (Sequence[str]): Glosses in class order (blank excluded).
        blank_id (int): Index of the blank class. Only 0 is supported.
    """

    def __init__(self, glosses: Sequence[str], blank_id: int = 0) -> None:
        if blank_id != 0:
            raise ValueError(f'blank_id must be 0, got {blank_id}')
        self.glosses: List[str] = list(glosses)
        if len(set(self.glosses)) != len(self.glosses):
            raise ValueError('the vocabulary lists a gloss twice')
        if any(not g or g != g.strip() or ' ' in g for g in self.glosses):
            raise ValueError('glosses must be non-empty and contain no whitespace')
        self.blank_id = blank_id
        self._index: Dict[str, int] = {g: i + 1 for i, g in enumerate(self.glosses)}

    @classmethod
    def from_sentences(cls, sentences: Iterable[Sequence[str]]) -> 'GlossVocabulary':
        """Build the sorted set of glosses over the given sentences."""
        return cls(sorted({g for sentence in sentences for g in sentence}))

    @classmethod
    def load(cls, path: str) -> 'GlossVocabulary':
        """Load ``{"blank_id": 0, "glosses": [...]}`` from a JSON file."""
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
        except FileNotFoundError as e:
            raise FileNotFoundError(
                f'gloss vocabulary not found at {path}: is the dataset prepared there? '
                'Download and prepare it as docs/datasets.md shows (the preprocess tool '
                'writes the vocabulary), build it alone with tools/data/build_vocab.py, '
                'or point data_root / vocab_file in the config at your copy'
            ) from e
        if not isinstance(data, dict) or 'glosses' not in data:
            raise ValueError(f'{path} is not a vocabulary file: expected '
                             '{"blank_id": 0, "glosses": [...]}')
        return cls(data['glosses'], data.get('blank_id', 0))

    def save(self, path: str) -> None:
        """Write the vocabulary as JSON (``blank_id`` and ``glosses``)."""
        with open(path, 'w', encoding='utf-8') as f:
            json.dump({'blank_id': self.blank_id, 'glosses': self.glosses}, f,
                      ensure_ascii=False, indent=0)
            f.write('\n')

    @property
    def num_classes(self) -> int:
        """Number of classifier outputs, blank included."""
        return len(self.glosses) + 1

    def __len__(self) -> int:
        return len(self.glosses)

    def __contains__(self, gloss: str) -> bool:
        return gloss in self._index

    def unknown(self, glosses: Iterable[str]) -> List[str]:
        """The glosses of ``glosses`` that the vocabulary does not know."""
        return [g for g in glosses if g not in self._index]

    def encode(self, glosses: Sequence[str], sample_id: str = '') -> List[int]:
        """Class ids of ``glosses``; raises naming the sample for unknown glosses."""
        missing = self.unknown(glosses)
        if missing:
            where = f' in sample {sample_id}' if sample_id else ''
            raise KeyError(f'unknown gloss(es) {sorted(set(missing))}{where}: the vocabulary '
                           'was built from other annotations; rebuild it with '
                           'tools/data/build_vocab.py')
        return [self._index[g] for g in glosses]

    def decode(self, ids: Iterable[int]) -> List[str]:
        """Glosses of class ids; the blank is skipped."""
        return [self.glosses[i - 1] for i in ids if i != self.blank_id]


VocabLike = Union[str, Sequence[str], GlossVocabulary]


def as_vocabulary(vocab: VocabLike) -> GlossVocabulary:
    """Accept a JSON path, a list of glosses or a vocabulary."""
    if isinstance(vocab, GlossVocabulary):
        return vocab
    if isinstance(vocab, str):
        return GlossVocabulary.load(vocab)
    return GlossVocabulary(vocab)
