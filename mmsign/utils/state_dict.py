"""State-dict helpers shared by every loader of mmsign and the checkpoint converter.

One place for what each of them needs: removing the ``module.`` prefix a model saved
inside ``DataParallel`` / ``DistributedDataParallel`` carries, picking the tensors of one
submodule out of a whole model's state dict, comparing a state dict with the one a model
expects (names and shapes), and naming the first class where two vocabularies disagree.

Nothing here imports another mmsign package (``mmsign.utils`` is the bottom layer).
"""
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Dict, List, Mapping, Optional, Sequence, Tuple

from torch import Tensor

#: What ``DataParallel`` / ``DistributedDataParallel`` put in front of every key.
WRAPPER_PREFIX = 'module.'


def strip_prefix(state_dict: Mapping[str, Any], prefix: str = WRAPPER_PREFIX
                 ) -> Dict[str, Any]:
    """The state dict with ``prefix`` removed from the keys that start with it.

    Args:
        state_dict (Mapping[str, Any]): Keys to values (tensors or anything else).
        prefix (str): Defaults to ``'module.'``, the prefix of a model saved from inside
            a data-parallel wrapper.

    Returns:
        dict: The same values (not copied) under the shortened keys, in the same order.
    """
    return {(key[len(prefix):] if key.startswith(prefix) else key): value
            for key, value in state_dict.items()}


def tensors_of(state_dict: Mapping[str, Any]) -> Dict[str, Tensor]:
    """The tensors of a state dict, wrapper prefix removed (the rest, e.g. a
    ``_metadata`` entry or numbers, is dropped)."""
    return strip_prefix({key: value for key, value in state_dict.items()
                         if isinstance(value, Tensor)})


def submodule_state_dict(state_dict: Mapping[str, Any], prefix: str) -> Dict[str, Any]:
    """The entries under ``prefix`` (e.g. ``'backbone.'``), with ``prefix`` removed.

    Args:
        state_dict (Mapping[str, Any]): A whole model's state dict.
        prefix (str): The submodule's name with its trailing dot.

    Returns:
        dict: The submodule's entries, in the same order; empty if there are none.
    """
    return {key[len(prefix):]: value for key, value in state_dict.items()
            if key.startswith(prefix)}


def _shape(value: Any) -> Optional[Tuple[int, ...]]:
    shape = getattr(value, 'shape', None)
    return None if shape is None else tuple(int(s) for s in shape)


@dataclass(frozen=True)
class StateDictDiff:
    """How a state dict differs from the one a model expects.

    Attributes:
        missing (list[str]): Keys the model has and the state dict lacks, sorted.
        unexpected (list[str]): Keys of the state dict the model has no place for, sorted.
        mismatched (list[tuple[str, tuple, tuple]]): ``(key, shape in the state dict,
            shape in the model)`` for the keys of both whose shapes differ, in the model's
            key order.
    """
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, Tuple[int, ...], Tuple[int, ...]]] = field(
        default_factory=list)

    def __bool__(self) -> bool:
        """True when there is any difference."""
        return bool(self.missing or self.unexpected or self.mismatched)

    def shape_mismatches(self, source: str = 'file', target: str = 'model') -> List[str]:
        """``'key: file (..), model (..)'`` for every mismatched key."""
        return [f'{key}: {source} {theirs}, {target} {ours}'
                for key, theirs, ours in self.mismatched]

    def describe(self, source: str = 'file', target: str = 'model') -> str:
        """``'missing [...], unexpected [...], shape mismatches [...]'``.

        Args:
            source (str): What the state dict is called in the shape list.
            target (str): What the model is called in the shape list.

        Returns:
            str: The three lists, for an error message.
        """
        return (f'missing {self.missing}, unexpected {self.unexpected}, shape mismatches '
                f'{self.shape_mismatches(source, target)}')


def diff_state_dicts(state_dict: Mapping[str, Any], expected: Mapping[str, Any],
                     ignore: Collection[str] = (),
                     shape_ok: Optional[Callable[[str, Tuple[int, ...], Tuple[int, ...]],
                                                 bool]] = None) -> StateDictDiff:
    """Compare the names and shapes of a state dict with the model's.

    Args:
        state_dict (Mapping[str, Any]): What a file holds.
        expected (Mapping[str, Any]): What the model expects (``model.state_dict()``, on
            any device, the meta device included).
        ignore (Collection[str]): Keys of ``state_dict`` that are neither loaded nor
            unexpected (e.g. a pretraining-only token).
        shape_ok (callable, optional): ``shape_ok(key, theirs, ours)`` accepts a shape
            difference the loader resolves itself (e.g. a position embedding it
            resizes).

    Returns:
        StateDictDiff: Empty (falsy) when the state dict fits exactly.
    """
    ignored = set(ignore)
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected) - ignored)
    mismatched = []
    for key, value in expected.items():
        if key not in state_dict:
            continue
        theirs, ours = _shape(state_dict[key]), _shape(value)
        if theirs is None or ours is None or theirs == ours:
            continue
        if shape_ok is not None and shape_ok(key, theirs, ours):
            continue
        mismatched.append((key, theirs, ours))
    return StateDictDiff(missing, unexpected, mismatched)


def first_difference(theirs: Sequence[str], ours: Sequence[str], there: str = 'there',
                     here: str = 'in the model') -> str:
    """Where two gloss lists (class orders) first disagree, for a message.

    Args:
        theirs (Sequence[str]): The other list (a checkpoint's, a dataset's ...).
        ours (Sequence[str]): The model's.
        there (str): Where ``theirs`` comes from, in the sentence. Defaults to ``'there'``.
        here (str): Where ``ours`` comes from. Defaults to ``'in the model'``.

    Returns:
        str: ``'15 glosses against 16'`` or ``"both 16 glosses, but class 1 is 'A' there
        and 'B' in the model"``; ``'the same glosses'`` when they agree.
    """
    theirs, ours = list(theirs), list(ours)
    if len(theirs) != len(ours):
        return f'{len(theirs)} glosses against {len(ours)}'
    index = next((i for i, (a, b) in enumerate(zip(theirs, ours)) if a != b), None)
    if index is None:
        return 'the same glosses'
    return (f'both {len(ours)} glosses, but class {index + 1} is {theirs[index]!r} {there} '
            f'and {ours[index]!r} {here}')


__all__ = ['StateDictDiff', 'WRAPPER_PREFIX', 'diff_state_dicts', 'first_difference',
           'strip_prefix', 'submodule_state_dict', 'tensors_of']
