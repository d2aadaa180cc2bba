"""The base class of the sign language datasets: annotations -> data list."""
import logging
import os.path as osp
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmsign.datasets.errors import SignAnnotationError, SignDataError, SignLoadError
from mmsign.datasets.layouts import SignLayout, read_split
from mmsign.datasets.vocabulary import GlossVocabulary, VocabLike, as_vocabulary
from mmsign.utils.sample_seed import sample_seed

#: Samples listed with their unknown glosses in the warning; the rest are counted.
_MAX_LISTED = 50
#: What a dataset does with a sample it cannot load.
ON_ERROR_CHOICES = ('raise', 'skip')
#: Metainfo key in which a sample returned by ``on_error='skip'`` names the samples
#: skipped to reach it (read by ``BadSampleReportHook``).
SKIPPED_SAMPLES_KEY = 'skipped_samples'


class BaseSignDataset(BaseDataset):
    """A continuous sign language dataset read from its release's own annotation files.

    A dataset class gives its release's :class:`~mmsign.datasets.layouts.SignLayout`
    (``LAYOUT``: annotation files, columns, frame folders, splits); its name, splits and
    default frame folder follow from it. :meth:`read_annotations` parses one split into
    records (dicts) with the keys

    - ``sample_id`` (str), ``signer`` (str), ``gloss_text`` (list[str]): the reference
      glosses exactly as annotated (split on whitespace);
    - ``frame_dir`` (str, relative to ``data_prefix['frames']``) for a folder of PNG/JPG
      frames, or ``filename`` (str, relative to ``data_prefix['video']``) for a video;
    - ``num_frames`` (int), only where the annotations give it;
    - ``source`` (str): ``file:line`` of the annotation, for error messages.

    This class turns them into the data list: paths joined with ``data_root`` and the
    prefixes, and ``gloss_ids`` (class ids, 1..C-1) from the vocabulary. Each data info
    also carries ``dataset`` (the dataset name) and ``split``.

    Label problems are caught here, when the dataset is built: an empty label raises
    :class:`SignAnnotationError` naming the sample. A gloss missing from the vocabulary
    raises in training (``test_mode=False``); at test time the sample keeps its full
    reference text (so WER counts the gloss as an error), its ``gloss_ids`` hold only the
    known glosses, and one warning lists every such sample id. Frames are read by the
    pipeline (:class:`~mmsign.datasets.transforms.SignInit`), which raises
    :class:`~mmsign.datasets.errors.SignLoadError` for missing or unreadable data.

    Args:
        data_root (str): Root folder of the dataset release.
        split (str): One of :attr:`SPLITS`.
        vocab_file (str | list[str] | GlossVocabulary, optional): The gloss vocabulary
            (a JSON file written by ``tools/data/build_vocab.py``). None builds it from
            the annotations of all splits, as the released models did.
        pipeline (list[dict | callable]): Data transforms.
        test_mode (bool): Evaluation mode (unknown glosses warn instead of raising).
        data_prefix (dict, optional): ``frames`` (and ``video``) folders relative to
            ``data_root``. Defaults to :attr:`DEFAULT_DATA_PREFIX`.
        on_error (str): What to do with a sample whose frames or video cannot be loaded
            (:class:`~mmsign.datasets.errors.SignDataError`: missing, empty, corrupt or
            truncated). ``'raise'`` (default): stop with the error, which names the
            sample, the file and the reason. ``'skip'``: log the error once, return the
            next loadable sample instead (naming the skipped ones in its metainfo
            ``skipped_samples``, which ``BadSampleReportHook`` counts and reports at the
            end of each epoch); more than ``max_refetch`` unloadable samples in a row
            still raise.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset` (e.g. ``indices``,
            ``serialize_data``, ``lazy_init``).
    """

    #: Where the release keeps its annotations and frames.
    LAYOUT: Optional[SignLayout] = None
    #: Name used in messages and in ``tools/data/<name>/preprocess.py`` (the layout's).
    DATASET_NAME: str = ''
    #: Splits of the release (the layout's).
    SPLITS: Sequence[str] = ('train', 'dev', 'test')
    #: Frame/video folders relative to ``data_root`` (the layout's frames).
    DEFAULT_DATA_PREFIX: Dict[str, str] = dict(frames='', video='')

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        layout = cls.__dict__.get('LAYOUT')
        if layout is not None:
            cls.DATASET_NAME, cls.SPLITS = layout.name, layout.splits
            cls.DEFAULT_DATA_PREFIX = dict(frames=layout.frames, video='')

    def __init__(self,
                 data_root: str,
                 split: str,
                 vocab_file: Optional[VocabLike] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 data_prefix: Optional[Dict[str, str]] = None,
                 on_error: str = 'raise',
                 **kwargs: Any) -> None:
        if on_error not in ON_ERROR_CHOICES:
            raise ValueError(f'on_error must be one of {ON_ERROR_CHOICES}, got {on_error!r}')
        self.on_error = on_error
        self._logged_bad: Dict[str, str] = {}  # sample id -> path, logged in this process
        if split not in self.SPLITS:
            raise ValueError(f'{self.DATASET_NAME} has no split {split!r}: '
                             f'choose one of {list(self.SPLITS)}')
        self.split = split
        self.vocab_file = vocab_file
        self.vocabulary: Optional[GlossVocabulary] = None
        prefix = dict(self.DEFAULT_DATA_PREFIX)
        prefix.update(data_prefix or {})
        super().__init__(ann_file='', data_root=data_root, data_prefix=prefix,
                         pipeline=list(pipeline), test_mode=test_mode, **kwargs)

    @classmethod
    def read_annotations(cls, data_root: str, split: str,
                         **options: Any) -> List[Dict[str, Any]]:
        """Parse one split of the release into records (see the class docstring).

        Args:
            data_root (str): Root folder of the release.
            split (str): The split to read.
            **options: :func:`~mmsign.datasets.layouts.read_split` options
                (``ann_file``).

        Returns:
            list[dict]: One record per video, in annotation order.
        """
        return read_split(cls.LAYOUT, data_root, split, **options)

    def annotation_options(self) -> Dict[str, Any]:
        """Extra keyword arguments of :meth:`read_annotations` for this instance."""
        return {}

    @classmethod
    def build_vocabulary(cls, data_root: str, splits: Optional[Iterable[str]] = None,
                         **options: Any) -> GlossVocabulary:
        """Build the vocabulary the way the released models did.

        The sorted set of the raw annotation tokens (split on whitespace) of the given
        splits; blank = 0.

        Args:
            data_root (str): Root folder of the release.
            splits (Iterable[str], optional): Splits to read. Defaults to all of
                :attr:`SPLITS` (pass ``['train']`` for a train-only vocabulary).
            **options: Extra keyword arguments of :meth:`read_annotations`.

        Returns:
            GlossVocabulary: The vocabulary.
        """
        splits = list(cls.SPLITS if splits is None else splits)
        return GlossVocabulary.from_sentences(
            record['gloss_text'] for split in splits
            for record in cls.read_annotations(data_root, split, **options))

    def _load_vocabulary(self) -> GlossVocabulary:
        if self.vocab_file is not None:
            return as_vocabulary(self.vocab_file)
        vocab = self.build_vocabulary(self.data_root, **self.annotation_options())
        print_log(f'{self.DATASET_NAME}: no vocab_file given; built a vocabulary of '
                  f'{len(vocab)} glosses from the {"/".join(self.SPLITS)} annotations '
                  f'under {self.data_root}', logger='current')
        return vocab

    def load_data_list(self) -> List[dict]:
        """Read the split's annotations and encode the labels.

        Returns:
            list[dict]: The data list.
        """
        self.vocabulary = self._load_vocabulary()
        self._metainfo.update(dataset_name=self.DATASET_NAME,
                              glosses=list(self.vocabulary.glosses))
        records = self.read_annotations(self.data_root, self.split,
                                        **self.annotation_options())
        data_list = []
        unknown: Dict[str, List[str]] = {}
        seen: Dict[str, str] = {}
        for record in records:
            data_list.append(self._parse_record(record, unknown))
            sample_id = record['sample_id']
            if sample_id in seen:
                raise SignAnnotationError(
                    f'{self.DATASET_NAME} sample {sample_id} is listed twice '
                    f'({seen[sample_id]} and {record["source"]}): remove one of the lines',
                    sample_id=sample_id, path=record['source'])
            seen[sample_id] = record['source']
        if unknown:
            self._warn_unknown(unknown)
        return data_list

    def _parse_record(self, record: Dict[str, Any],
                      unknown: Dict[str, List[str]]) -> dict:
        sample_id = record['sample_id']
        glosses = list(record['gloss_text'])
        if not glosses:
            raise SignAnnotationError(
                f'{self.DATASET_NAME} sample {sample_id} ({record["source"]}) has an empty '
                'gloss label: every video needs at least one gloss; fix or remove the line',
                sample_id=sample_id, path=record['source'])
        vocab = self.vocabulary
        missing = vocab.unknown(glosses)
        if missing and not self.test_mode:
            raise SignAnnotationError(
                f'{self.DATASET_NAME} {self.split} sample {sample_id} ({record["source"]}) '
                f'has glosses missing from the vocabulary ({self._vocab_name()}): '
                f'{sorted(set(missing))}; rebuild the vocabulary with '
                'tools/data/build_vocab.py or pass vocab_file=None',
                sample_id=sample_id, path=record['source'])
        if missing:
            unknown[sample_id] = missing
        info = dict(
            sample_id=sample_id,
            signer=record['signer'],
            gloss_text=glosses,
            gloss_ids=vocab.encode([g for g in glosses if g in vocab], sample_id),
            dataset=self.DATASET_NAME,
            split=self.split)
        if 'frame_dir' in record:
            info['frame_dir'] = osp.join(self.data_prefix['frames'], record['frame_dir'])
        else:
            info['filename'] = osp.join(self.data_prefix['video'], record['filename'])
        if record.get('num_frames') is not None:
            info['num_frames'] = int(record['num_frames'])
        return info

    def __getitem__(self, idx: int) -> dict:
        """The processed sample ``idx``; see ``on_error`` for unloadable samples. A
        :class:`~mmsign.utils.sample_seed.SeededIndex` seeds its random numbers."""
        with sample_seed(idx):
            return self._get_item(idx)

    def _get_item(self, idx: int) -> dict:
        if self.on_error == 'raise':
            return super().__getitem__(idx)
        skipped = []
        for attempt in range(min(len(self), self.max_refetch + 1)):
            index = (idx + attempt) % len(self)
            try:
                data = super().__getitem__(index)
            except SignDataError as e:
                skipped.append(self._skip(index, e))
                continue
            if skipped and hasattr(data.get('data_samples'), 'set_metainfo'):
                data['data_samples'].set_metainfo({SKIPPED_SAMPLES_KEY: skipped})
            return data
        raise SignLoadError(
            f'{self.DATASET_NAME} {self.split}: {len(skipped)} samples in a row from index '
            f'{idx} cannot be loaded (on_error=\'skip\'), the last one: '
            f'{skipped[-1]["reason"]}. The data is missing or broken on a large scale: '
            'check data_root and the preparation step (docs/datasets.md)',
            sample_id=skipped[-1]['sample_id'], path=skipped[-1]['path'])

    def _skip(self, index: int, error: SignDataError) -> Dict[str, str]:
        sample_id = error.sample_id or self.get_data_info(index).get('sample_id', str(index))
        if sample_id not in self._logged_bad:
            self._logged_bad[sample_id] = str(error.path)
            print_log(f'{self.DATASET_NAME} {self.split}: skipping sample {sample_id} '
                      f"(on_error='skip'): {error}", logger='current', level=logging.WARNING)
        return dict(sample_id=str(sample_id), path=str(error.path), reason=str(error))

    def _vocab_name(self) -> str:
        if isinstance(self.vocab_file, str):
            return self.vocab_file
        return 'built from the annotations' if self.vocab_file is None else 'given'

    def _warn_unknown(self, unknown: Dict[str, List[str]]) -> None:
        listed = [f'{sid}: {" ".join(g)}' for sid, g in list(unknown.items())[:_MAX_LISTED]]
        more = len(unknown) - len(listed)
        print_log(
            f'{self.DATASET_NAME} {self.split}: {len(unknown)} samples have glosses missing '
            f'from the vocabulary ({self._vocab_name()}). They keep them in the reference '
            'text (WER counts them as errors) but have no class id for them:\n  '
            + '\n  '.join(listed) + (f'\n  ... and {more} more' if more > 0 else ''),
            logger='current', level=logging.WARNING)

