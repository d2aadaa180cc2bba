"""Datasets, the gloss vocabulary and data transforms."""
from mmsign.datasets import transforms  # noqa: F401
from mmsign.datasets.vocabulary import GlossVocabulary

__all__ = ['GlossVocabulary']
