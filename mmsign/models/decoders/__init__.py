"""CTC decoders: greedy (best path) and beam search with pluggable backends."""
from mmsign.models.decoders.base import CTCDecoder
from mmsign.models.decoders.beam_search import CTCBeamSearchDecoder
from mmsign.models.decoders.greedy import CTCGreedyDecoder
from mmsign.utils.ctc import collapse_ctc, merge_repeats

__all__ = [
    'CTCDecoder', 'CTCGreedyDecoder', 'CTCBeamSearchDecoder', 'collapse_ctc', 'merge_repeats'
]
