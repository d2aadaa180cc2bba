"""Datasets, the gloss vocabulary and data transforms."""
from mmsign.datasets import transforms  # noqa: F401
from mmsign.datasets.base import BaseSignDataset
from mmsign.datasets.errors import SignAnnotationError, SignDataError, SignLoadError
from mmsign.datasets.layouts import SignLayout
from mmsign.datasets.releases import (
    CSLDailyDataset,
    CSLDataset,
    CustomSignDataset,
    Phoenix2014Dataset,
    Phoenix2014TDataset,
)
from mmsign.datasets.synthetic import ensure_synthetic_dataset, generate_synthetic_dataset
from mmsign.datasets.synthetic_dataset import SyntheticSignDataset
from mmsign.datasets.vocabulary import GlossVocabulary

#: Dataset classes by the names ``tools/data`` and the configs use.
SIGN_DATASETS = {
    'phoenix2014': Phoenix2014Dataset,
    'phoenix2014t': Phoenix2014TDataset,
    'csl-daily': CSLDailyDataset,
    'csl': CSLDataset,
}

__all__ = [
    'BaseSignDataset', 'CSLDailyDataset', 'CSLDataset', 'CustomSignDataset',
    'GlossVocabulary', 'Phoenix2014Dataset', 'Phoenix2014TDataset', 'SIGN_DATASETS',
    'SignAnnotationError', 'SignDataError', 'SignLayout', 'SignLoadError',
    'SyntheticSignDataset',
    'ensure_synthetic_dataset', 'generate_synthetic_dataset'
]
