"""Word error rate equal to the official CSLR scoring (normalisation + sclite)."""
from .alignment import AlignedPair, ErrorCounts, align, count_errors, counts_of, fold_case
from .normalization import NORMALIZATIONS, GlossNormalization, RewriteRule, get_normalization
from .sclite_io import (
    TranscriptFormatError,
    parse_sclite_dtl,
    read_ctm,
    read_stm,
    write_ctm,
    write_stm,
)
from .scoring import (
    EMPTY_HYPOTHESIS,
    CorpusScore,
    SampleScore,
    format_alignment_report,
    format_counts,
    score_corpus,
)
from .wer_metric import WERMetric

__all__ = [
    'AlignedPair', 'CorpusScore', 'EMPTY_HYPOTHESIS', 'ErrorCounts', 'GlossNormalization',
    'NORMALIZATIONS', 'RewriteRule', 'SampleScore', 'TranscriptFormatError', 'WERMetric',
    'align', 'count_errors', 'counts_of', 'fold_case', 'format_alignment_report',
    'format_counts', 'get_normalization', 'parse_sclite_dtl', 'read_ctm', 'read_stm',
    'score_corpus',
    'write_ctm', 'write_stm'
]
