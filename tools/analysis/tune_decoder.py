"""Choose the beam search's LM weight, word score and beam on the dev split.

Example::

    python tools/data/build_gloss_lm.py --dataset phoenix2014 \\
        --root data/synthetic/phoenix-2014-multisigner --out work_dirs/lm/synthetic_3gram.arpa
    python tools/analysis/tune_decoder.py configs/adaptsign_synthetic.py CHECKPOINT \\
        --lm work_dirs/lm/synthetic_3gram.arpa --test --out work_dirs/lm/best_decoder.py

One forward pass over the split (``--split val``, the dev split, by default) gives the
log-posteriors of every video, cached in ``--cache`` (reused while config, checkpoint and
split are the same); every point of the grid ``--beams`` x ``--lm-weights`` x
``--word-scores`` then only decodes and scores them, with the config's evaluator
(normalisation, reference STM). The table lists greedy decoding, the beam search without
LM and every grid point, sorted by WER (best first); the best point (lowest WER; among
equal WERs the first in grid order, so the smallest weights) is written as a config
snippet to ``--out``. ``--test`` also decodes the test split with the greedy, no-LM and
best settings (never tuned on).
"""
import argparse
import hashlib
import itertools
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from mmengine.runner import Runner

import mmsign  # noqa: F401  (registers mmsign's modules)
from mmsign.apis import init_recognizer
from mmsign.cli.runtime import DictAction
from mmsign.evaluation import format_counts, read_stm, score_corpus
from mmsign.models.decoders import CTCBeamSearchDecoder, CTCGreedyDecoder

Posteriors = Dict[str, object]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--lm', help='ARPA gloss LM (tools/data/build_gloss_lm.py); '
                        'without it only --word-scores and --beams are searched')
    parser.add_argument('--lm-engine', default='kenlm', choices=['kenlm', 'python'])
    parser.add_argument('--lm-weights', type=float, nargs='+',
                        default=[0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0])
    parser.add_argument('--word-scores', type=float, nargs='+',
                        default=[-1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    parser.add_argument('--beams', type=int, nargs='+', default=[10])
    parser.add_argument('--split', default='val', choices=['val', 'test'],
                        help='dataloader to tune on (default: val, the dev split)')
    parser.add_argument('--branch', default='seq', choices=['seq', 'conv'],
                        help='head branch to decode (default: seq, wer/seq)')
    parser.add_argument('--test', action='store_true',
                        help='also report test WER of greedy, no-LM and the best setting')
    parser.add_argument('--cache', help='posteriors cache file (default: next to --out)')
    parser.add_argument('--out', default='work_dirs/tune_decoder/best_decoder.py',
                        help='config snippet with the best decoder')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries (e.g. val_dataloader.dataset.'
                        'data_root=...)')
    return parser.parse_args(argv)


def _stamp(args: argparse.Namespace, split: str) -> str:
    stat = os.stat(args.checkpoint)
    key = [osp.abspath(args.config), osp.abspath(args.checkpoint), stat.st_size,
           stat.st_mtime_ns, split, args.branch, json.dumps(args.cfg_options or {},
                                                            sort_keys=True, default=str)]
    return hashlib.sha1(repr(key).encode()).hexdigest()


def forward_split(model: torch.nn.Module, split: str, branch: str) -> Posteriors:
    """One forward pass: log-posteriors ``(T_b, C)`` and references of every video.

    Returns:
        dict: ``ids``, ``log_probs`` (list of float32 host tensors, kept at full
        precision so that each grid point decodes exactly as the model would), ``refs``
        and ``signers``.
    """
    cfg = model.cfg
    dataloader = Runner.build_dataloader(cfg[f'{split}_dataloader'])
    ids, log_probs, refs, signers = [], [], [], []
    with torch.no_grad():
        for batch in dataloader:
            data = model.data_preprocessor(batch, False)
            outputs = model(**data, mode='tensor')
            logits = getattr(outputs, f'{branch}_logits').float().log_softmax(-1).cpu()
            for b, (sample, length) in enumerate(zip(data['data_samples'], outputs.lengths)):
                ids.append(sample.metainfo['sample_id'])
                refs.append(list(sample.metainfo['gt_gloss_text']))
                signers.append(sample.metainfo.get('signer', 'unknown'))
                log_probs.append(logits[:int(length), b].clone())
    return dict(ids=ids, log_probs=log_probs, refs=refs, signers=signers)


def cached_posteriors(args: argparse.Namespace, model: torch.nn.Module, split: str,
                      cache: str) -> Posteriors:
    """The posteriors of ``split`` from ``cache`` if they match, else a new forward pass."""
    stamp = _stamp(args, split)
    if osp.isfile(cache):
        stored = torch.load(cache, weights_only=True)
        if stored.get('stamp') == stamp:
            print_log(f'posteriors of {split} from {cache}', logger='current')
            return stored
    start = time.perf_counter()
    posteriors = forward_split(model, split, args.branch)
    print_log(f'forward pass over {len(posteriors["ids"])} videos of {split}: '
              f'{time.perf_counter() - start:.1f} s', logger='current')
    posteriors['stamp'] = stamp
    os.makedirs(osp.dirname(osp.abspath(cache)), exist_ok=True)
    torch.save(posteriors, cache)
    return posteriors


def decode_all(decoder, posteriors: Posteriors, vocab, batch: int = 16) -> Dict[str, list]:
    """Hypothesis glosses of every cached video."""
    hyps: Dict[str, list] = {}
    ids, log_probs = posteriors['ids'], posteriors['log_probs']
    for start in range(0, len(ids), batch):
        chunk = log_probs[start:start + batch]
        lengths = [len(lp) for lp in chunk]
        padded = torch.nn.utils.rnn.pad_sequence(chunk)  # (T, B, C)
        for sample_id, labels in zip(ids[start:start + batch], decoder(padded, lengths)):
            hyps[sample_id] = vocab.decode(labels)
    return hyps


def evaluator_settings(cfg, split: str) -> Tuple[str, Optional[str]]:
    """Normalisation and reference file of the split's WERMetric."""
    evaluator = cfg[f'{split}_evaluator']
    for metric in evaluator if isinstance(evaluator, list) else [evaluator]:
        if metric.get('type') == 'WERMetric':
            return metric.get('normalize', 'phoenix2014'), metric.get('ref_file')
    raise ValueError(f'{split}_evaluator of the config has no WERMetric to score with')


def scorer(cfg, split: str, posteriors: Posteriors):
    """A function from hypotheses to the corpus score, as the config's metric scores."""
    normalize, ref_file = evaluator_settings(cfg, split)
    references = (read_stm(ref_file) if ref_file else
                  dict(zip(posteriors['ids'], posteriors['refs'])))
    return lambda hyps: score_corpus(references, hyps, normalize)


def beam_decoder(args: argparse.Namespace, vocab, beam: int, lm_weight: float,
                 word_score: float) -> CTCBeamSearchDecoder:
    """The beam search of one grid point (no LM when ``lm_weight`` is 0)."""
    lm = args.lm if lm_weight else None
    return CTCBeamSearchDecoder(beam_width=beam, lm=lm, lm_weight=lm_weight,
                                word_score=word_score, vocab=vocab.glosses if lm else None,
                                lm_engine=args.lm_engine)


def grid(args: argparse.Namespace) -> List[Tuple[int, float, float]]:
    """Grid points (beam, lm_weight, word_score), smallest settings first."""
    weights = sorted(set(args.lm_weights if args.lm else [0.0]), key=abs)
    return list(itertools.product(sorted(set(args.beams)), weights,
                                  sorted(set(args.word_scores), key=abs)))


def write_snippet(path: str, args: argparse.Namespace, cfg, best: Tuple[int, float, float],
                  dev_wer: float, base_wer: float) -> None:
    """Write the best decoder as a config that inherits the tuned one.

    Test with it directly: ``python tools/test.py OUT CHECKPOINT``.
    """
    beam, lm_weight, word_score = best
    decoder = dict(_delete_=True, type='CTCBeamSearchDecoder', beam_width=beam)
    if lm_weight:
        vocab = cfg.model.get('vocab')
        decoder.update(lm=osp.abspath(args.lm), lm_weight=lm_weight, lm_engine=args.lm_engine,
                       vocab=vocab if isinstance(vocab, str) else list(vocab))
    if word_score:
        decoder['word_score'] = word_score
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(f'# tools/analysis/tune_decoder.py {args.config} {args.checkpoint}\n'
                f'# {args.split} WER {dev_wer:.2f} % ({args.branch} branch); beam search '
                f'without LM {base_wer:.2f} %\n'
                f'_base_ = [{osp.abspath(args.config)!r}]\n'
                f'model = dict(decoder={decoder!r})\n')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Tune, print the table, write the snippet; returns the exit status."""
    args = parse_args(argv)
    model = init_recognizer(args.config, args.checkpoint, args.device, args.cfg_options)
    cfg, vocab = model.cfg, model.vocab
    cache = args.cache or osp.join(osp.dirname(osp.abspath(args.out)),
                                   f'posteriors_{args.split}.pt')
    posteriors = cached_posteriors(args, model, args.split, cache)
    score = scorer(cfg, args.split, posteriors)

    rows = [('greedy', '-', '-', '-', score(decode_all(CTCGreedyDecoder(), posteriors,
                                                       vocab)).totals)]
    results = {}
    for point in grid(args):
        totals = score(decode_all(beam_decoder(args, vocab, *point), posteriors,
                                  vocab)).totals
        results[point] = totals
        rows.append(('beam', *point, totals))
    best = min(results, key=lambda p: results[p].wer)  # first of equal WERs
    with_lm = [p for p in results if p[1]]
    best_lm = min(with_lm, key=lambda p: results[p].wer) if with_lm else None
    base = (best[0], 0.0, 0.0)
    base_totals = results.get(base) or score(decode_all(beam_decoder(args, vocab, *base),
                                                        posteriors, vocab)).totals

    print(f'\n{args.split} split, {len(posteriors["ids"])} videos, {args.branch} branch, '
          f'LM {args.lm or "none"}')
    print(f'{"decoder":8} {"beam":>5} {"lm_w":>6} {"word":>6} {"WER %":>7} {"S":>5} '
          f'{"D":>5} {"I":>5}')
    # Best first; equal WERs keep grid order (greedy first), so the best row leads.
    for name, beam, weight, word, t in sorted(rows, key=lambda row: row[-1].wer):
        mark = ' <- best' if (beam, weight, word) == best else ''
        print(f'{name:8} {beam!s:>5} {weight!s:>6} {word!s:>6} {t.wer:7.2f} '
              f'{t.substitutions:5d} {t.deletions:5d} {t.insertions:5d}{mark}')
    write_snippet(args.out, args, cfg, best, results[best].wer, base_totals.wer)
    print(f'best: beam {best[0]}, lm_weight {best[1]}, word_score {best[2]}: '
          f'{results[best].wer:.2f} % (no LM {base_totals.wer:.2f} %); written to {args.out}')
    if best_lm and best_lm != best:
        print(f'best with the LM (lm_weight > 0): beam {best_lm[0]}, lm_weight {best_lm[1]}, '
              f'word_score {best_lm[2]}: {results[best_lm].wer:.2f} %')

    if args.test:
        test_cache = osp.join(osp.dirname(osp.abspath(cache)), 'posteriors_test.pt')
        test_post = cached_posteriors(args, model, 'test', test_cache)
        test_score = scorer(cfg, 'test', test_post)
        print(f'\ntest split, {len(test_post["ids"])} videos (settings from {args.split})')
        settings = [('greedy', None), ('beam, no LM', base), ('beam, best', best)]
        if best_lm and best_lm != best:
            settings.append(('beam, best with LM', best_lm))
        for name, point in settings:
            decoder = CTCGreedyDecoder() if point is None else beam_decoder(args, vocab, *point)
            totals = test_score(decode_all(decoder, test_post, vocab)).totals
            where = '' if point is None else f' (beam {point[0]}, lm_weight {point[1]}, ' \
                f'word_score {point[2]})'
            print(f'{name + where:58} {format_counts(totals)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
