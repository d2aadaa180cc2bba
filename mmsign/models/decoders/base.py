"""What every CTC decoder shares: the output contract and the CTC collapse."""
from abc import ABCMeta, abstractmethod
from typing import List, Sequence

from torch import Tensor

from mmsign.utils.ctc import merge_repeats


class CTCDecoder(metaclass=ABCMeta):
    """Turns class scores into label sequences, one per video.

    Args:
        blank (int): Blank id. Defaults to 0.
        merge_repeated_glosses (bool): After the CTC collapse, also merge neighbouring
            equal glosses (a labelling ``A A``, which CTC separates with a blank, becomes
            ``A``). The released AdaptSign decoding does this (``groupby`` on its
            hypotheses), so it is the default; turn it off for plain CTC labellings.
    """

    def __init__(self, blank: int = 0, merge_repeated_glosses: bool = True) -> None:
        self.blank = blank
        self.merge_repeated_glosses = merge_repeated_glosses

    def __call__(self, log_probs: Tensor, lengths: Sequence[int]) -> List[List[int]]:
        """Decode a batch.

        Args:
            log_probs (Tensor): ``(T, B, C)`` log class probabilities (``log_softmax`` of
                the logits; any device).
            lengths (Sequence[int]): Valid frames of each video (host integers).

        Returns:
            list[list[int]]: Class ids of each video, without blanks.
        """
        if log_probs.dim() != 3 or log_probs.shape[1] != len(lengths):
            raise ValueError(f'expected (T, B, C) log-probabilities for {len(lengths)} '
                             f'videos, got shape {tuple(log_probs.shape)}')
        if lengths and max(lengths) > log_probs.shape[0]:
            raise ValueError(f'lengths {list(lengths)} exceed the {log_probs.shape[0]} '
                             'frames of the log-probabilities')
        hypotheses = self.decode(log_probs, lengths)
        if self.merge_repeated_glosses:
            hypotheses = [merge_repeats(h) for h in hypotheses]
        return hypotheses

    @abstractmethod
    def decode(self, log_probs: Tensor, lengths: Sequence[int]) -> List[List[int]]:
        """Backend-specific decoding; arguments and result as in :meth:`__call__`."""
