"""The datasets mmsign reads: each one a :class:`BaseSignDataset` with its release's layout.

The layouts (files, columns, frame folders) are in :mod:`mmsign.datasets.layouts`; the
classes here register the names configs use and document each release for users.
"""
import os.path as osp
from typing import Any, Dict, Iterable, Optional

from mmaction.registry import DATASETS

from mmsign.datasets import layouts
from mmsign.datasets.base import BaseSignDataset
from mmsign.datasets.vocabulary import GlossVocabulary


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

    LAYOUT = layouts.PHOENIX2014


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

    LAYOUT = layouts.PHOENIX2014T


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

    LAYOUT = layouts.CSL_DAILY


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

    LAYOUT = layouts.CSL


@DATASETS.register_module()
class CustomSignDataset(BaseSignDataset):
    """Videos or frame folders listed with their glosses, one per line::

        videos/greeting_01.mp4|HELLO HOW YOU
        frames/greeting_02|HELLO NAME WHAT

    Paths are relative to ``data_root`` (or absolute). A path ending in a video extension
    (:data:`~mmsign.datasets.layouts.VIDEO_EXTENSIONS`) is decoded with decord; any other
    path is a folder of PNG/JPG frames. The sample id is the path without its extension;
    the signer is ``'unknown'``. Blank lines and lines starting with ``#`` are skipped.

    Args:
        data_root (str): Folder the paths are relative to.
        split (str): ``'train'``, ``'dev'`` or ``'test'``.
        ann_file (str): The list file relative to ``data_root``; ``{split}`` is replaced
            by the split. Defaults to ``'{split}.txt'``.
        **kwargs: See :class:`~mmsign.datasets.BaseSignDataset`. Without
            ``vocab_file``, the vocabulary is built from the lists of all splits that
            exist.
    """

    LAYOUT = layouts.CUSTOM

    def __init__(self, data_root: str, split: str, ann_file: str = '{split}.txt',
                 **kwargs: Any) -> None:
        self.ann_pattern = ann_file
        super().__init__(data_root=data_root, split=split, **kwargs)

    def annotation_options(self) -> Dict[str, Any]:
        """Pass the list file pattern to :meth:`read_annotations`."""
        return dict(ann_file=self.ann_pattern)

    @classmethod
    def build_vocabulary(cls, data_root: str, splits: Optional[Iterable[str]] = None,
                         ann_file: str = '{split}.txt') -> GlossVocabulary:
        """The sorted set of glosses of the lists of ``splits`` (default: all that exist).

        Args:
            data_root (str): Folder the list files are relative to.
            splits (Iterable[str], optional): Splits to read.
            ann_file (str): The list file pattern.

        Returns:
            GlossVocabulary: The vocabulary.
        """
        if splits is None:
            splits = [s for s in cls.SPLITS
                      if osp.isfile(osp.join(data_root, ann_file.format(split=s)))]
            if '{split}' not in ann_file:
                splits = splits[:1]
        return super().build_vocabulary(data_root, splits, ann_file=ann_file)
