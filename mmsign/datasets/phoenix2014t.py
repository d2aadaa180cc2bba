"""RWTH-PHOENIX-Weather 2014 T, the PHOENIX14-T benchmark."""
import os.path as osp
from typing import Any, Dict, List

from mmaction.registry import DATASETS

from mmsign.datasets.base import BaseSignDataset, read_table


@DATASETS.register_module()
class Phoenix2014TDataset(BaseSignDataset):
    """PHOENIX14-T as released in ``PHOENIX-2014-T``.

    Layout (``data_root`` is the ``PHOENIX-2014-T`` folder)::

        annotations/manual/PHOENIX-2014-T.{train,dev,test}.corpus.csv
                                       name|video|start|end|speaker|orth|translation
        features/fullFrame-210x260px/<split>/<name>/*.png   frames of the release
        features/fullFrame-256x256px/<split>/<name>/*.png   tools/data/phoenix2014t/preprocess.py

    The frame folder is ``<split>/<name>``: there is no ``1/`` level, whatever the
    ``video`` column of some copies of the CSV says. The glosses are the ``orth`` column
    split on whitespace; the signer is the ``speaker`` column.

    Args:
        data_root (str): The ``PHOENIX-2014-T`` folder.
        split (str): ``'train'``, ``'dev'`` or ``'test'``.
        data_prefix (dict, optional): ``frames`` folder relative to ``data_root``.
            Defaults to ``features/fullFrame-256x256px``.
        **kwargs: See :class:`~mmsign.datasets.BaseSignDataset`.
    """

    DATASET_NAME = 'phoenix2014t'
    DEFAULT_DATA_PREFIX = dict(frames='features/fullFrame-256x256px', video='')
    ANN_FILE = osp.join('annotations', 'manual', 'PHOENIX-2014-T.{split}.corpus.csv')
    DOWNLOAD_HINT = ('download PHOENIX-2014-T-release-v3.tar.gz from '
                     'https://www-i6.informatik.rwth-aachen.de/~koller/RWTH-PHOENIX-2014-T/ '
                     'and set data_root to its PHOENIX-2014-T folder')

    @classmethod
    def read_annotations(cls, data_root: str, split: str) -> List[Dict[str, Any]]:
        """Parse ``annotations/manual/PHOENIX-2014-T.<split>.corpus.csv``."""
        path = osp.join(data_root, cls.ANN_FILE.format(split=split))
        rows = read_table(path, cls.DATASET_NAME, ('name', 'speaker', 'orth'),
                          cls.DOWNLOAD_HINT)
        return [
            dict(sample_id=row['name'],
                 signer=row['speaker'],
                 gloss_text=row['orth'].split(),
                 frame_dir=osp.join(split, row['name']),
                 source=row['source']) for row in rows
        ]
