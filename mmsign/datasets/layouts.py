"""Where each release keeps its annotations, described once: files, columns, frame folders.

A :class:`SignLayout` is all that differs between the datasets: :func:`read_split` reads
any of them into the records :class:`~mmsign.datasets.base.BaseSignDataset` turns into
its data list. Two file formats exist in the releases:

- ``table``: ``|``-separated with a header line (PHOENIX14, PHOENIX14-T, CSL-Daily),
  read by :func:`read_table`; the layout names the columns;
- ``list``: one ``<path>|<gloss> <gloss> ...`` line per sample, no header (CSL's
  published split, custom data); the layout's ``entry`` turns the path into the sample
  id and its frame folder or video.
"""
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from mmsign.datasets.errors import SignAnnotationError

#: Appended to "annotation file not found" when a layout gives no download hint.
DATA_HINT = 'download and prepare the dataset, or point data_root in the config at your copy'
#: File endings a custom list reads as videos (through decord); anything else is a
#: frame folder.
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.mpg', '.mpeg', '.m4v')

Row = Dict[str, str]


@dataclass(frozen=True)
class SignLayout:
    """The annotation files and folders of one release.

    Args:
        name (str): Dataset name in messages and ``tools/data/<name>``.
        ann_file (str): Annotation file relative to ``data_root``; ``{split}`` is replaced.
        frames (str): Default frame folder relative to ``data_root``
            (``data_prefix['frames']``).
        splits (tuple[str]): Splits of the release.
        file_format (str): ``'table'`` or ``'list'``.
        columns (dict): ``table``: record key (``sample_id``, ``gloss_text``, optionally
            ``signer`` and ``num_frames``) -> column name; every column named here must
            be in the file (also those only ``frame_dir`` reads).
        frame_dir (callable): ``table``: ``(row, split) -> frame folder`` relative to the
            frames prefix.
        signer (callable, optional): ``table``: ``row -> signer`` where no column has it.
        split_file (tuple, optional): ``table``: ``(file, name column, split column)`` of a
            separate split assignment; samples keep ``ann_file`` order.
        entry (callable): ``list``: ``path -> record fields`` (``sample_id`` and
            ``frame_dir`` or ``filename``), or None for a path the format refuses.
        line_format (str): ``list``: the expected line, for messages.
        bad_line (str): ``list``: message for a refused line (``{source}``, ``{line}``,
            ``{format}``).
        comment (str, optional): ``list``: lines starting with it are skipped.
        hint (str): How to get the annotations, in the not-found message.
        missing (str, optional): The whole not-found message (``{path}``), where the
            default does not fit.
    """

    name: str
    ann_file: str
    frames: str = ''
    splits: Tuple[str, ...] = ('train', 'dev', 'test')
    file_format: str = 'table'
    columns: Dict[str, str] = field(default_factory=dict)
    frame_dir: Optional[Callable[[Row, str], str]] = None
    signer: Optional[Callable[[Row], str]] = None
    split_file: Optional[Tuple[str, str, str]] = None
    entry: Optional[Callable[[str], Optional[Dict[str, str]]]] = None
    line_format: str = '<path>|<gloss> <gloss> ...'
    bad_line: str = '{source}: expected "{format}", got {line!r}'
    comment: Optional[str] = None
    hint: str = DATA_HINT
    missing: Optional[str] = None


def read_table(path: str, dataset: str, columns: Sequence[str],
               hint: str = '') -> List[Row]:
    """Read a ``|``-separated annotation file with a header line.

    Args:
        path (str): The file.
        dataset (str): Dataset name for messages.
        columns (Sequence[str]): Columns that must be present.
        hint (str): How to get the file, appended to the not-found message.

    Returns:
        list[dict]: One dict per data line, column name -> value, plus ``source``
        (``path:line``).
    """
    if not osp.isfile(path):
        raise SignAnnotationError(f'{dataset} annotation file not found at {path}: '
                                  f'{hint or DATA_HINT} (docs/datasets.md shows the '
                                  'layout and the preparation commands)', path=path)
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    header = lines[0].split('|') if lines else []
    absent = [c for c in columns if c not in header]
    if absent:
        raise SignAnnotationError(
            f'{path} is not a {dataset} annotation file: its header {header} lacks the '
            f'columns {absent} (expected a "|"-separated file with {list(columns)})',
            path=path)
    rows = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split('|')
        if len(fields) != len(header):
            raise SignAnnotationError(
                f'{path}:{lineno} has {len(fields)} fields, the header has '
                f'{len(header)}: fix the line', path=path)
        row = dict(zip(header, fields))
        row['source'] = f'{path}:{lineno}'
        rows.append(row)
    return rows


def read_split(layout: SignLayout, data_root: str, split: str,
               ann_file: Optional[str] = None) -> List[Dict[str, Any]]:
    """The records of one split (see :class:`~mmsign.datasets.base.BaseSignDataset`).

    Args:
        layout (SignLayout): The release's layout.
        data_root (str): Root folder of the release.
        split (str): The split.
        ann_file (str, optional): Another annotation file pattern than the layout's.

    Returns:
        list[dict]: One record per video, in annotation order.
    """
    path = osp.join(data_root, (ann_file or layout.ann_file).format(split=split))
    if layout.file_format == 'list':
        return read_list(layout, path)
    return table_records(layout, data_root, split, path)


def table_records(layout: SignLayout, data_root: str, split: str,
                  path: str) -> List[Dict[str, Any]]:
    """The records of a ``table`` layout's split (see :func:`read_split`)."""
    wanted = None
    if layout.split_file is not None:
        split_file, name_column, split_column = layout.split_file
        split_path = osp.join(data_root, split_file)
        assignment = read_table(split_path, layout.name, (name_column, split_column),
                                layout.hint)
        wanted = {row[name_column] for row in assignment
                  if row[split_column].strip() == split}
    columns = layout.columns
    rows = read_table(path, layout.name, list(columns.values()), layout.hint)
    records = []
    for row in rows:
        sample_id = row[columns['sample_id']]
        if wanted is not None:
            if sample_id not in wanted:
                continue
            wanted.discard(sample_id)
        record = dict(sample_id=sample_id,
                      signer=(layout.signer(row) if layout.signer else
                              row[columns['signer']]),
                      gloss_text=row[columns['gloss_text']].split(),
                      frame_dir=layout.frame_dir(row, split), source=row['source'])
        if 'num_frames' in columns:
            record['num_frames'] = int(row[columns['num_frames']])
        records.append(record)
    if wanted:
        missing = sorted(wanted)
        raise SignAnnotationError(
            f'{split_path} puts {len(missing)} {split} videos that {path} does not list '
            f'(e.g. {missing[:3]}): the two files come from different releases',
            path=split_path)
    return records


def read_list(layout: SignLayout, path: str) -> List[Dict[str, Any]]:
    """The records of a ``list`` layout's file (see :func:`read_split`)."""
    if not osp.isfile(path):
        raise SignAnnotationError(layout.missing.format(path=path), path=path)
    records = []
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, start=1):
            line = line.strip()
            if not line or (layout.comment and line.startswith(layout.comment)):
                continue
            source = f'{path}:{lineno}'
            sample_path, sep, label = line.partition('|')
            entry = layout.entry(sample_path.strip()) if sep else None
            if entry is None:
                raise SignAnnotationError(layout.bad_line.format(
                    source=source, line=line, format=layout.line_format), path=path)
            records.append(dict(entry, signer='unknown', gloss_text=label.split(),
                                source=source))
    return records


def phoenix2014_frames(row: Row, split: str) -> str:
    """``<split>/<folder>``: the ``folder`` column without its ``1/*.png`` pattern."""
    return osp.join(split, osp.dirname(row['folder']) or row['id'])


def csl_daily_signer(row: Row) -> str:
    """The ``P....`` part of a CSL-Daily name (``S000020_P0008_T00`` -> ``P0008``)."""
    found = re.match(r'^S\d+_(P\d+)_T\d+$', row['name'])
    return found.group(1) if found else 'unknown'


def csl_entry(path: str) -> Optional[Dict[str, str]]:
    """The ``video<N>`` folder of a CSL list path (the lists carry absolute paths)."""
    name = osp.basename(path.replace('\\', '/').rstrip('/'))
    return dict(sample_id=name, frame_dir=name) if re.match(r'^video\d+$', name) else None


def custom_entry(path: str) -> Optional[Dict[str, str]]:
    """A video (by its extension, :data:`VIDEO_EXTENSIONS`) or a frame folder; the sample
    id is the path without its extension."""
    if not path:
        return None
    stem, ext = osp.splitext(path.rstrip('/'))
    if ext.lower() in VIDEO_EXTENSIONS:
        return dict(sample_id=stem, filename=path)
    return dict(sample_id=path.rstrip('/'), frame_dir=path)


PHOENIX2014 = SignLayout(
    name='phoenix2014', ann_file=osp.join('annotations', 'manual', '{split}.corpus.csv'),
    frames='features/fullFrame-256x256px',
    columns=dict(sample_id='id', folder='folder', signer='signer', gloss_text='annotation'),
    frame_dir=phoenix2014_frames,
    hint=('download phoenix-2014.v3.tar.gz from '
          'https://www-i6.informatik.rwth-aachen.de/~koller/RWTH-PHOENIX/ and '
          'set data_root to its phoenix-2014-multisigner folder'))

PHOENIX2014T = SignLayout(
    name='phoenix2014t',
    ann_file=osp.join('annotations', 'manual', 'PHOENIX-2014-T.{split}.corpus.csv'),
    frames='features/fullFrame-256x256px',
    columns=dict(sample_id='name', signer='speaker', gloss_text='orth'),
    frame_dir=lambda row, split: osp.join(split, row['name']),
    hint=('download PHOENIX-2014-T-release-v3.tar.gz from '
          'https://www-i6.informatik.rwth-aachen.de/~koller/RWTH-PHOENIX-2014-T/ '
          'and set data_root to its PHOENIX-2014-T folder'))

CSL_DAILY = SignLayout(
    name='csl-daily', ann_file=osp.join('sentence_label', 'video_map.txt'),
    frames=osp.join('sentence', 'frames_256x256'),
    columns=dict(sample_id='name', num_frames='length', gloss_text='gloss'),
    frame_dir=lambda row, split: row['name'], signer=csl_daily_signer,
    split_file=(osp.join('sentence_label', 'split_1.txt'), 'name', 'split'),
    hint=('request CSL-Daily at http://home.ustc.edu.cn/~zhouh156/dataset/'
          'csl-daily/ and set data_root to the folder holding sentence_label/'))

CSL = SignLayout(
    name='csl', ann_file='{split}.txt', frames='frames_256x256', splits=('train', 'dev'),
    file_format='list', entry=csl_entry, line_format='<path>/video<N>|<gloss> <gloss> ...',
    bad_line='{source} is not a CSL list line: expected "{format}", got {line!r}',
    missing=('csl annotation list not found at {path}: put the train.txt / dev.txt '
             'lists of the published split in data_root'))

CUSTOM = SignLayout(
    name='custom', ann_file='{split}.txt', file_format='list', entry=custom_entry,
    line_format='<video or frame folder>|<gloss> <gloss> ...', comment='#',
    missing=('custom sign list not found at {path}: write one line '
             '"<video or frame folder>|<gloss> <gloss> ..." per sample, or set '
             'data_root / ann_file'))
