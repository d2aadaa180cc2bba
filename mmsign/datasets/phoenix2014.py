"""RWTH-PHOENIX-Weather 2014 (multisigner), the PHOENIX14 benchmark."""
import os.path as osp
from typing import Any, Dict, List

from mmaction.registry import DATASETS

from mmsign.datasets.base import BaseSignDataset, read_table


@DATASETS.register_module()
class Phoenix2014Dataset(BaseSignDataset):
    """PHOENIX14 as released in ``phoenix-2014-multisigner``.

    Layout (``data_root`` is the ``phoenix-2014-multisigner`` folder)::

        annotations/manual/{train,dev,test}.corpus.csv     id|folder|signer|annotation
        features/fullFrame-210x260px/<split>/<id>/1/*.png  frames of the release
        features/fullFrame-256x256px/<split>/<id>/1/*.png  tools/data/phoenix2014/preprocess.py

    The frame folder is the ``folder`` column without its ``*.png`` pattern. The glosses
    are the raw ``annotation`` column split on whitespace (``loc-NORD`` and
    ``__ON__`` stay as they are: the released vocabulary of 1,295 glosses has them).

    Args:
        data_root (str): The ``phoenix-2014-multisigner`` folder.
        split (str): ``'train'``, ``'dev'`` or ``'test'``.
        data_prefix (dict, optional): ``frames`` folder relative to ``data_root``.
            Defaults to the resized frames, ``features/fullFrame-256x256px``; use
            ``features/fullFrame-210x260px`` for the frames as released.
        **kwargs: See :class:`~mmsign.datasets.BaseSignDataset`.
    """

    DATASET_NAME = 'phoenix2014'
    DEFAULT_DATA_PREFIX = dict(frames='features/fullFrame-256x256px', video='')
    ANN_FILE = osp.join('annotations', 'manual', '{split}.corpus.csv')
    DOWNLOAD_HINT = ('download phoenix-2014.v3.tar.gz from '
                     'https://www-i6.informatik.rwth-aachen.de/~koller/RWTH-PHOENIX/ and '
                     'set data_root to its phoenix-2014-multisigner folder')

    @classmethod
    def read_annotations(cls, data_root: str, split: str) -> List[Dict[str, Any]]:
        """Parse ``annotations/manual/<split>.corpus.csv``."""
        path = osp.join(data_root, cls.ANN_FILE.format(split=split))
        rows = read_table(path, cls.DATASET_NAME, ('id', 'folder', 'signer', 'annotation'),
                          cls.DOWNLOAD_HINT)
        return [
            dict(sample_id=row['id'],
                 signer=row['signer'],
                 gloss_text=row['annotation'].split(),
                 frame_dir=osp.join(split, osp.dirname(row['folder']) or row['id']),
                 source=row['source']) for row in rows
        ]
