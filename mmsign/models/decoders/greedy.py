"""Greedy (best path) CTC decoding."""
from typing import List, Sequence

from mmaction.registry import MODELS
from torch import Tensor

from mmsign.models.decoders.base import CTCDecoder
from mmsign.utils.ctc import collapse_ctc


@MODELS.register_module()
class CTCGreedyDecoder(CTCDecoder):
    """Best path: the most likely class per frame, then the CTC collapse.

    Args:
        blank (int): Blank id. Defaults to 0.
        merge_repeated_glosses (bool): See :class:`CTCDecoder`. Defaults to True.
    """

    def decode(self, log_probs: Tensor, lengths: Sequence[int]) -> List[List[int]]:
        """Decode a batch; see :meth:`CTCDecoder.__call__`."""
        best = log_probs.argmax(-1).t().cpu().tolist()  # (B, T): one device sync
        return [collapse_ctc(path[:length], self.blank) for path, length in zip(best, lengths)]
