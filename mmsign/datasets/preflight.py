"""Checks of a config's data before a model is built (which takes seconds to minutes).

``tools/train.py`` and ``tools/test.py`` call :func:`check_data_sources` first, so a missing
data root, annotation file or reference STM ends the command at once with one line, not
after the model has been built and the checkpoint loaded.
"""
import os.path as osp
from typing import Any, Iterator, Mapping, Sequence

from mmaction.registry import DATASETS

from mmsign.datasets.base import BaseSignDataset
from mmsign.datasets.errors import SignAnnotationError
from mmsign.datasets.layouts import DATA_HINT
from mmsign.datasets.synthetic_dataset import SyntheticSignDataset


def _sign_datasets(dataset_cfg: Any) -> Iterator[Mapping]:
    """The sign dataset entries of a dataset config, inside wrappers too."""
    if not isinstance(dataset_cfg, Mapping):
        return
    for inner in dataset_cfg.get('datasets') or []:  # ConcatDataset
        yield from _sign_datasets(inner)
    if 'dataset' in dataset_cfg:  # RepeatDataset, ClassBalancedDataset
        yield from _sign_datasets(dataset_cfg['dataset'])
    kind = dataset_cfg.get('type')
    cls = DATASETS.get(kind) if isinstance(kind, str) else kind
    if isinstance(cls, type) and issubclass(cls, BaseSignDataset):
        yield dataset_cfg


def check_dataset(dataset_cfg: Mapping) -> None:
    """Read the annotations a sign dataset config points at, without building it.

    The synthetic dataset is skipped: it generates its data when it is missing.

    Args:
        dataset_cfg (Mapping): A dataset entry (``type``, ``data_root``, ``split`` ...).

    Raises:
        SignAnnotationError: The data root or an annotation file is missing or malformed.
    """
    kind = dataset_cfg['type']
    cls = DATASETS.get(kind) if isinstance(kind, str) else kind
    if issubclass(cls, SyntheticSignDataset):
        return
    data_root = dataset_cfg.get('data_root')
    if data_root is not None and not osp.isdir(data_root):
        raise SignAnnotationError(
            f'{cls.DATASET_NAME} data_root not found: {data_root} ({osp.abspath(data_root)}): '
            f'{DATA_HINT} (docs/datasets.md shows the layout)', path=data_root)
    options = {k: v for k, v in dataset_cfg.items() if k not in ('type', 'pipeline')}
    dataset = cls(**options, lazy_init=True)  # reads no annotation, touches no frame
    dataset.read_annotations(dataset.data_root, dataset.split, **dataset.annotation_options())


def check_data_sources(cfg: Mapping, loaders: Sequence[str],
                       evaluators: Sequence[str] = ()) -> None:
    """Check the datasets of ``loaders`` and the reference files of ``evaluators``.

    Args:
        cfg (Mapping): The complete config.
        loaders (Sequence[str]): Dataloader keys the command uses, e.g.
            ``('train_dataloader', 'val_dataloader')``; absent or None ones are skipped.
        evaluators (Sequence[str]): Evaluator keys whose ``ref_file`` must exist.

    Raises:
        SignAnnotationError: A data root or annotation file is missing or malformed.
        FileNotFoundError: A ``ref_file`` is missing.
    """
    for key in loaders:
        loader = cfg.get(key)
        if loader:
            for dataset_cfg in _sign_datasets(loader.get('dataset')):
                check_dataset(dataset_cfg)
    for key in evaluators:
        evaluator = cfg.get(key) or []
        for metric in evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]:
            ref_file = metric.get('ref_file') if isinstance(metric, Mapping) else None
            if ref_file and not osp.isfile(ref_file):
                raise FileNotFoundError(
                    f'{key} reference file not found: {ref_file}; point ref_file at the '
                    'groundtruth STM of the evaluated split, or set it to None to score '
                    "against the samples' gt_gloss_text")
