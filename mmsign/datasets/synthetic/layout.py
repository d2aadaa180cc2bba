"""Writing a synthetic dataset in the PHOENIX-2014 release layout.

::

    <root>/
        gloss_vocab.json                     {"blank_id": 0, "glosses": [sorted]}
        synthetic_meta.json                  generation parameters and a summary
        phoenix-2014-multisigner/
            annotations/manual/{train,dev,test}.corpus.csv
            evaluation/phoenix2014-groundtruth-{dev,test}.stm
            features/fullFrame-210x260px/<split>/<id>/1/<stem>.avi_pid0_fn000000-0.png
        videos/<split>/<id>.mp4              only with ``write_videos=True``
        {train,dev,test}.txt                 ``videos/<split>/<id>.mp4|GLOSS GLOSS ...``

The sentences and signers of every split are planned here (one generator per video);
:mod:`.pool` renders and writes the videos.
"""
import json
import os
import os.path as osp
import shutil
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
from mmengine.logging import print_log

from mmsign.datasets.synthetic import pool
from mmsign.datasets.synthetic.language import SyntheticSignLanguage
from mmsign.datasets.synthetic.options import SyntheticOptions
from mmsign.datasets.synthetic.pool import FRAME_DIR, PHOENIX_DIR, SPLIT_CODES, VIDEO_DIR

ANNOTATION_DIR = osp.join('annotations', 'manual')
EVALUATION_DIR = 'evaluation'
VOCAB_FILE = 'gloss_vocab.json'
META_FILE = 'synthetic_meta.json'
SPLITS = ('train', 'dev', 'test')


def video_id(split: str, index: int) -> str:
    """The PHOENIX14-style id of video ``index`` of ``split``."""
    return f'synth_{split}_{index:05d}_default-0'


def plan_split(lang: SyntheticSignLanguage, split: str, count: int,
                seed: int) -> List[Dict[str, Any]]:
    """Sentences and signers of a split, one generator per video."""
    plans = []
    signers = lang.signers[split]
    for index in range(count):
        rng = np.random.default_rng([seed, SPLIT_CODES[split], index, 0])
        plans.append(dict(split=split, index=index, id=video_id(split, index),
                          signer=signers[int(rng.integers(len(signers)))],
                          glosses=lang.sample_sentence(rng)))
    if split == 'train':
        cover_vocabulary(plans, lang.glosses)
    return plans


def cover_vocabulary(plans: List[Dict[str, Any]], glosses: Sequence[str]) -> None:
    """Make every gloss occur in training by substituting it where it fits.

    A gloss is put in place of one that occurs more than once in the split, never next
    to itself; the first such place in sentence order is taken.
    """
    counts = {g: 0 for g in glosses}
    for plan in plans:
        for g in plan['glosses']:
            counts[g] += 1
    for gloss in [g for g in glosses if counts[g] == 0]:
        for sentence in (plan['glosses'] for plan in plans):
            spots = [pos for pos, old in enumerate(sentence)
                     if counts[old] > 1 and gloss not in sentence[max(0, pos - 1):pos + 2]]
            if spots:
                counts[sentence[spots[0]]] -= 1
                sentence[spots[0]] = gloss
                counts[gloss] += 1
                break
        else:
            raise ValueError(f'{len(plans)} training sentences cannot cover {len(glosses)} '
                             'glosses: raise num_train')


def _write_text(path: str, lines: Sequence[str]) -> None:
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.writelines(line + '\n' for line in lines)

def _read_meta(root: str) -> Optional[Dict[str, Any]]:
    try:
        with open(osp.join(root, META_FILE), encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _remove_tree(path: str) -> None:
    """Remove ``path`` after moving it aside, so that it vanishes at once."""
    trash = f'{path}.removing-{os.getpid()}'
    os.rename(path, trash)
    shutil.rmtree(trash)

def _options(options: Optional[SyntheticOptions], kwargs: Mapping[str, Any]
             ) -> SyntheticOptions:
    if options is None:
        return SyntheticOptions.from_dict(kwargs)
    if kwargs:
        raise TypeError(f'give either options or the option keywords {sorted(kwargs)}')
    return options


def generate_synthetic_dataset(root: str, options: Optional[SyntheticOptions] = None,
                               num_workers: int = 1, **kwargs: Any) -> Dict[str, Any]:
    """Generate a synthetic CSLR dataset in the PHOENIX14 release layout.

    The data is written into a temporary sibling folder that is renamed to ``root`` only
    when complete, so an interrupted run never leaves a folder that looks finished. An
    existing ``root`` is replaced if it holds an earlier synthetic dataset (it has a
    ``synthetic_meta.json``) or is empty; any other existing folder is refused.

    Args:
        root (str): Output folder.
        options (SyntheticOptions, optional): What to generate; equal options give
            byte-identical output. Defaults to ``SyntheticOptions(**kwargs)``.
        num_workers (int): Worker processes; the output does not depend on it.
            Defaults to 1.
        **kwargs: The fields of :class:`SyntheticOptions` (``num_glosses``,
            ``num_train``, ``image_size``, ``seed`` ...), when ``options`` is not given.

    Returns:
        dict: A summary: ``root``, ``vocab_file``, ``params`` (as recorded in
        ``synthetic_meta.json``), ``glosses``, ``generated`` (True), ``seconds`` and
        ``splits``, which maps each split to ``num_videos``, ``num_frames``, ``min_frames``,
        ``max_frames`` and ``signers``.
    """
    options = _options(options, kwargs)
    params = options.params()
    counts = options.counts
    if min(counts.values()) < 1:
        raise ValueError(f'every split needs at least one sentence, got {counts}')
    root = osp.abspath(root)
    if osp.isdir(root) and os.listdir(root) and _read_meta(root) is None:
        raise FileExistsError(f'{root} exists and is not a synthetic dataset '
                              f'(no {META_FILE}); refusing to replace it')
    lang = SyntheticSignLanguage(options.num_glosses, options.num_train_signers,
                                 options.num_dev_signers, options.num_test_signers,
                                 options.min_glosses, options.max_glosses, options.image_size,
                                 options.seed)
    plans = {split: plan_split(lang, split, counts[split], options.seed) for split in SPLITS}

    start = time.time()
    parent = osp.dirname(root)
    os.makedirs(parent, exist_ok=True)
    tmp = osp.join(parent, f'.{osp.basename(root)}.incomplete-{os.getpid()}')
    if osp.exists(tmp):
        shutil.rmtree(tmp)
    try:
        for split in SPLITS:
            os.makedirs(osp.join(tmp, PHOENIX_DIR, FRAME_DIR, split))
            if options.write_videos:
                os.makedirs(osp.join(tmp, VIDEO_DIR, split))
        os.makedirs(osp.join(tmp, PHOENIX_DIR, ANNOTATION_DIR))
        os.makedirs(osp.join(tmp, PHOENIX_DIR, EVALUATION_DIR))
        every = [plan for split in SPLITS for plan in plans[split]]
        lengths = pool.render_all(pool.RenderJob(lang, tmp, options), every, num_workers)
        for plan, length in zip(every, lengths):
            plan['num_frames'] = length

        summary: Dict[str, Any] = dict(params=params, glosses=lang.glosses, splits={})
        for split in SPLITS:
            rows = [f"{p['id']}|{p['id']}/1/*.png|{p['signer']}|{' '.join(p['glosses'])}"
                    for p in plans[split]]
            _write_text(osp.join(tmp, PHOENIX_DIR, ANNOTATION_DIR, f'{split}.corpus.csv'),
                        ['id|folder|signer|annotation'] + rows)
            if split != 'train':
                stm = [f"{p['id']} 1 {p['signer'].lower()} 0.0 1.79769e+308 "
                       f"{' '.join(p['glosses'])}" for p in plans[split]]
                _write_text(osp.join(tmp, PHOENIX_DIR, EVALUATION_DIR,
                                     f'phoenix2014-groundtruth-{split}.stm'), stm)
            if options.write_videos:
                _write_text(osp.join(tmp, f'{split}.txt'),
                            [f"{VIDEO_DIR}/{split}/{p['id']}.mp4|{' '.join(p['glosses'])}"
                             for p in plans[split]])
            lengths = [p['num_frames'] for p in plans[split]]
            summary['splits'][split] = dict(
                num_videos=len(lengths), num_frames=int(sum(lengths)),
                min_frames=int(min(lengths)), max_frames=int(max(lengths)),
                signers=sorted({p['signer'] for p in plans[split]}))
        with open(osp.join(tmp, VOCAB_FILE), 'w', encoding='utf-8') as f:
            json.dump({'blank_id': 0, 'glosses': lang.glosses}, f, indent=0)
            f.write('\n')
        # The meta file is written last: its presence marks a complete dataset.
        with open(osp.join(tmp, META_FILE), 'w', encoding='utf-8') as f:
            json.dump(dict(params=params, summary=summary), f, indent=1, sort_keys=True)
            f.write('\n')
        if osp.isdir(root):
            _remove_tree(root)
        try:
            os.rename(tmp, root)
        except OSError:
            # Another process finished the same dataset first: keep the one in place.
            meta = _read_meta(root)
            if meta is None or meta.get('params') != params:
                raise
            shutil.rmtree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    summary.update(root=root, vocab_file=osp.join(root, VOCAB_FILE), generated=True,
                   seconds=round(time.time() - start, 2))
    return summary


def ensure_synthetic_dataset(root: str, options: Optional[SyntheticOptions] = None,
                             num_workers: int = 1, **kwargs: Any) -> Dict[str, Any]:
    """Generate the synthetic dataset into ``root`` unless it is already there.

    The dataset in ``root`` is reused when its ``synthetic_meta.json`` records the same
    generation parameters; otherwise (missing, or made with other parameters) it is
    generated again, with a log line saying so.

    Args:
        root (str): Dataset folder.
        options (SyntheticOptions, optional): What to generate, the cache key.
        num_workers (int): Worker processes if it is generated. Defaults to 1.
        **kwargs: The fields of :class:`SyntheticOptions`, when ``options`` is not given.

    Returns:
        dict: The summary of :func:`generate_synthetic_dataset`; when the existing data is
        reused it comes from the meta file, with ``generated`` False.
    """
    params = _options(options, kwargs).params()
    meta = _read_meta(root)
    complete = all(osp.isfile(osp.join(root, PHOENIX_DIR, ANNOTATION_DIR, f'{s}.corpus.csv'))
                   for s in SPLITS)
    if meta is not None and meta.get('params') == params and complete:
        summary = dict(meta.get('summary', {}))
        splits = summary.get('splits', {})
        summary['splits'] = {split: splits[split] for split in SPLITS if split in splits}
        summary.update(root=osp.abspath(root), generated=False, seconds=0.0,
                       vocab_file=osp.join(osp.abspath(root), VOCAB_FILE))
        return summary
    reason = 'it is missing' if meta is None else 'it was made with other parameters'
    print_log(f'Generating the synthetic sign language dataset into {osp.abspath(root)} '
              f'({reason}); this takes a few seconds.', logger='current')
    summary = generate_synthetic_dataset(root, _options(options, kwargs), num_workers)
    print_log(f"Synthetic dataset ready: {summary['splits']['train']['num_videos']} train / "
              f"{summary['splits']['dev']['num_videos']} dev / "
              f"{summary['splits']['test']['num_videos']} test videos, "
              f"{len(summary['glosses'])} glosses, {summary['seconds']} s.",
              logger='current')
    return summary


__all__ = ['ANNOTATION_DIR', 'EVALUATION_DIR', 'META_FILE', 'SPLITS', 'VOCAB_FILE',
           'cover_vocabulary', 'ensure_synthetic_dataset', 'generate_synthetic_dataset',
           'plan_split', 'video_id']
