"""Gloss LM figures on the PHOENIX14 annotations: perplexity by order, decoding cost.

Example::

    python tools/analysis/benchmark.py lm --root tests/data/phoenix2014

Perplexity of interpolated modified Kneser-Ney models of orders 1 to 4, estimated on
the train split, on the dev and test references (``</s>`` counted as a token). Then
the time of ``CTCBeamSearchDecoder`` (beam 10, 40 classes per frame) per video on
random peaky posteriors of PHOENIX14's size (75 frames, the vocabulary's classes):
without LM, with a word score only, and with the 3-gram through each engine. Needs only
the annotation files (``tests/data/phoenix2014`` has them).
"""
import argparse
import os.path as osp
import tempfile
import time
from typing import Optional, Sequence

import torch

from mmsign.datasets import GlossVocabulary, Phoenix2014Dataset
from mmsign.models.decoders import CTCBeamSearchDecoder
from mmsign.models.decoders.ngram import estimate_kneser_ney


def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> None:
    """Print the perplexities and the decoding times."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument('--root', default='tests/data/phoenix2014',
                        help='folder with annotations/manual/*.corpus.csv and '
                        'gloss_vocab.json')
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args(argv)
    splits = {s: [r['gloss_text'] for r in Phoenix2014Dataset.read_annotations(args.root, s)]
              for s in ('train', 'dev', 'test')}
    for order in (1, 2, 3, 4):
        lm, _ = estimate_kneser_ney(splits['train'], order)
        for split in ('dev', 'test'):
            log10_p = sum(lm.sentence_log10_prob(s) for s in splits[split])
            tokens = sum(len(s) + 1 for s in splits[split])
            print(f'{order}-gram, {split}: perplexity {10 ** (-log10_p / tokens):.1f} '
                  f'({tokens} tokens)')

    vocab = GlossVocabulary.load(osp.join(args.root, 'gloss_vocab.json'))
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(75, 8, vocab.num_classes, generator=g) * 4
    logits[:, :, 0] += 6  # mostly blank, as trained CTC models are
    log_probs = logits.log_softmax(-1)
    with tempfile.TemporaryDirectory() as tmp:
        arpa = osp.join(tmp, 'train_3gram.arpa')
        estimate_kneser_ney(splits['train'], 3)[0].write_arpa(arpa)
        lm = dict(lm=arpa, vocab=vocab.glosses, lm_weight=0.5)
        settings = {'no LM': {}, 'word_score 0.5, no LM': dict(word_score=0.5),
                    '3-gram, kenlm engine': dict(lm, lm_engine='kenlm'),
                    '3-gram + word_score, kenlm engine': dict(lm, lm_engine='kenlm',
                                                              word_score=0.5),
                    '3-gram, python engine': dict(lm, lm_engine='python')}
        for name, kwargs in settings.items():
            decoder = CTCBeamSearchDecoder(**kwargs)
            decoder(log_probs, [75] * 8)  # warm-up
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                decoder(log_probs, [75] * 8)
                times.append(time.perf_counter() - start)
            print(f'{name}: {1000 * min(times) / 8:.1f} ms per video (best of '
                  f'{args.repeats}; {vocab.num_classes} classes, 75 frames)')

