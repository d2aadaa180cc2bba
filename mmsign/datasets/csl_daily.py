"""CSL-Daily: Chinese sign language sentences of daily life."""
import os.path as osp
import re
from typing import Any, Dict, List

from mmaction.registry import DATASETS

from mmsign.datasets.base import BaseSignDataset, read_table
from mmsign.datasets.errors import SignAnnotationError

_SIGNER = re.compile(r'^S\d+_(P\d+)_T\d+$')


@DATASETS.register_module()
class CSLDailyDataset(BaseSignDataset):
    """CSL-Daily as released.

    Layout (``data_root`` is the ``CSL-Daily`` folder)::

        sentence_label/video_map.txt    index|name|length|gloss|char|word|postag
        sentence_label/split_1.txt      name|split   (train / dev / test)
        sentence/frames_512x512/<name>/*.jpg   frames of the release
        sentence/frames_256x256/<name>/*.jpg   tools/data/csl-daily/preprocess.py

    Samples come in ``video_map.txt`` order. The glosses are the ``gloss`` column split
    on whitespace, ``num_frames`` is the ``length`` column, and the signer is the
    ``P....`` part of the name (``S000020_P0008_T00`` -> ``P0008``).

    Args:
        data_root (str): The ``CSL-Daily`` folder.
        split (str): ``'train'``, ``'dev'`` or ``'test'``.
        data_prefix (dict, optional): ``frames`` folder relative to ``data_root``.
            Defaults to ``sentence/frames_256x256``.
        **kwargs: See :class:`~mmsign.datasets.BaseSignDataset`.
    """

    DATASET_NAME = 'csl-daily'
    DEFAULT_DATA_PREFIX = dict(frames=osp.join('sentence', 'frames_256x256'), video='')
    VIDEO_MAP = osp.join('sentence_label', 'video_map.txt')
    SPLIT_FILE = osp.join('sentence_label', 'split_1.txt')
    DOWNLOAD_HINT = ('request CSL-Daily at http://home.ustc.edu.cn/~zhouh156/dataset/'
                     'csl-daily/ and set data_root to the folder holding sentence_label/')

    @classmethod
    def read_annotations(cls, data_root: str, split: str) -> List[Dict[str, Any]]:
        """Parse ``video_map.txt`` and keep the names that ``split_1.txt`` puts in
        ``split``."""
        split_path = osp.join(data_root, cls.SPLIT_FILE)
        splits = read_table(split_path, cls.DATASET_NAME, ('name', 'split'),
                            cls.DOWNLOAD_HINT)
        wanted = {row['name'] for row in splits if row['split'].strip() == split}
        rows = read_table(osp.join(data_root, cls.VIDEO_MAP), cls.DATASET_NAME,
                          ('name', 'length', 'gloss'), cls.DOWNLOAD_HINT)
        records = []
        for row in rows:
            name = row['name']
            if name not in wanted:
                continue
            wanted.discard(name)
            signer = _SIGNER.match(name)
            records.append(
                dict(sample_id=name,
                     signer=signer.group(1) if signer else 'unknown',
                     gloss_text=row['gloss'].split(),
                     frame_dir=name,
                     num_frames=int(row['length']),
                     source=row['source']))
        if wanted:
            missing = sorted(wanted)
            raise SignAnnotationError(
                f'{split_path} puts {len(missing)} {split} videos that '
                f'{osp.join(data_root, cls.VIDEO_MAP)} does not list (e.g. {missing[:3]}): '
                'the two files come from different releases', path=split_path)
        return records
