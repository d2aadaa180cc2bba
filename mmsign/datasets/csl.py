"""CSL: the continuous Chinese sign language dataset of USTC (100 sentences)."""
import os.path as osp
import re
from typing import Any, Dict, List

from mmaction.registry import DATASETS

from mmsign.datasets.base import BaseSignDataset
from mmsign.datasets.errors import SignAnnotationError

_VIDEO = re.compile(r'^video\d+$')


@DATASETS.register_module()
class CSLDataset(BaseSignDataset):
    """CSL (continuous, 100 sentences x 250 videos) with the split of published work.

    Published CSLR results on CSL use a signer-independent split of 20,000 training and
    5,000 evaluation videos, distributed as two lists whose lines are
    ``<path>/video<N>|<gloss> <gloss> ...``. Only the folder name ``video<N>`` of the path
    matters (the lists carry their authors' absolute paths). Layout (``data_root`` is the
    folder holding the lists)::

        train.txt, dev.txt
        frames/video<N>/*.jpg            frames extracted from the videos
        frames_256x256/video<N>/*.jpg    tools/data/csl/preprocess.py

    The split has no separate test set: evaluate on ``split='dev'``. The release names no
    signers, so ``signer`` is ``'unknown'``.

    Args:
        data_root (str): The folder holding ``train.txt`` and ``dev.txt``.
        split (str): ``'train'`` or ``'dev'``.
        data_prefix (dict, optional): ``frames`` folder relative to ``data_root``.
            Defaults to ``frames_256x256``.
        **kwargs: See :class:`~mmsign.datasets.BaseSignDataset`.
    """

    DATASET_NAME = 'csl'
    SPLITS = ('train', 'dev')
    DEFAULT_DATA_PREFIX = dict(frames='frames_256x256', video='')
    ANN_FILE = '{split}.txt'

    @classmethod
    def read_annotations(cls, data_root: str, split: str) -> List[Dict[str, Any]]:
        """Parse ``<split>.txt``."""
        path = osp.join(data_root, cls.ANN_FILE.format(split=split))
        if not osp.isfile(path):
            raise SignAnnotationError(
                f'csl annotation list not found at {path}: put the train.txt / dev.txt '
                'lists of the published split in data_root', path=path)
        records = []
        with open(path, encoding='utf-8') as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                source = f'{path}:{lineno}'
                video, sep, label = line.rstrip('\n').partition('|')
                name = osp.basename(video.strip().replace('\\', '/').rstrip('/'))
                if not sep or not _VIDEO.match(name):
                    raise SignAnnotationError(
                        f'{source} is not a CSL list line: expected '
                        f'"<path>/video<N>|<gloss> <gloss> ...", got {line.strip()!r}',
                        path=path)
                records.append(
                    dict(sample_id=name, signer='unknown', gloss_text=label.split(),
                         frame_dir=name, source=source))
        return records
