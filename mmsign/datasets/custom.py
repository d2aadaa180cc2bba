"""Custom sign language data: a plain list of videos or frame folders and their glosses."""
import os.path as osp
from typing import Any, Dict, Iterable, List, Optional

from mmaction.registry import DATASETS

from mmsign.datasets.base import BaseSignDataset
from mmsign.datasets.errors import SignAnnotationError
from mmsign.datasets.vocabulary import GlossVocabulary

#: File endings read as videos (through decord); anything else is a frame folder.
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.mpg', '.mpeg', '.m4v')


@DATASETS.register_module()
class CustomSignDataset(BaseSignDataset):
    """Videos or frame folders listed with their glosses, one per line::

        videos/greeting_01.mp4|HELLO HOW YOU
        frames/greeting_02|HELLO NAME WHAT

    Paths are relative to ``data_root`` (or absolute). A path ending in a video extension
    (:data:`VIDEO_EXTENSIONS`) is decoded with decord; any other path is a folder of
    PNG/JPG frames. The sample id is the path without its extension; the signer is
    ``'unknown'``. Blank lines and lines starting with ``#`` are skipped.

    Args:
        data_root (str): Folder the paths are relative to.
        split (str): ``'train'``, ``'dev'`` or ``'test'``.
        ann_file (str): The list file relative to ``data_root``; ``{split}`` is replaced
            by the split. Defaults to ``'{split}.txt'``.
        **kwargs: See :class:`~mmsign.datasets.BaseSignDataset`. Without
            ``vocab_file``, the vocabulary is built from the lists of all splits that
            exist.
    """

    DATASET_NAME = 'custom'

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

    @classmethod
    def read_annotations(cls, data_root: str, split: str,
                         ann_file: str = '{split}.txt') -> List[Dict[str, Any]]:
        """Parse the list file of ``split``."""
        path = osp.join(data_root, ann_file.format(split=split))
        if not osp.isfile(path):
            raise SignAnnotationError(
                f'custom sign list not found at {path}: write one line '
                '"<video or frame folder>|<gloss> <gloss> ..." per sample, or set '
                'data_root / ann_file', path=path)
        records = []
        with open(path, encoding='utf-8') as f:
            for lineno, line in enumerate(f, start=1):
                line = line.strip()
                if not line or line.startswith('#'):
                    continue
                source = f'{path}:{lineno}'
                sample_path, sep, label = line.partition('|')
                sample_path = sample_path.strip()
                if not sep or not sample_path:
                    raise SignAnnotationError(
                        f'{source}: expected "<video or frame folder>|<gloss> <gloss> ...", '
                        f'got {line!r}', path=path)
                stem, ext = osp.splitext(sample_path.rstrip('/'))
                record = dict(sample_id=stem if ext.lower() in VIDEO_EXTENSIONS
                              else sample_path.rstrip('/'),
                              signer='unknown', gloss_text=label.split(), source=source)
                if ext.lower() in VIDEO_EXTENSIONS:
                    record['filename'] = sample_path
                else:
                    record['frame_dir'] = sample_path
                records.append(record)
        return records
