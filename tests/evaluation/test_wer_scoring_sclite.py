"""mmsign's WER equals the official pipeline (normalise, fill [EMPTY], sclite) on real
references, for many random hypothesis sets."""
import json
import os.path as osp
import random
import zlib

import pytest
from sclite_oracle import official_pipeline, requires_sclite

from mmsign.evaluation import (
    EMPTY_HYPOTHESIS,
    ErrorCounts,
    read_ctm,
    read_stm,
    score_corpus,
    write_ctm,
)

SETS_PER_SPLIT = 20

# Raw training forms that the PHOENIX normalisation maps back onto a reference gloss.
RAW_FORMS = ['loc-{}', 'cl-{}', 'poss-{}', 'lh-{}', 'qu-{}', '{}-PLUSPLUS', '{}__PU__']
PHOENIX_NOISE = ['__EMOTION__', '__PU__', '__LEFTHAND__', '__EPENTHESIS__', 'S0NNE',
                 'HABEN2', 'ZEIGEN', 'loc-ZEIGEN', 'NORDRAUM', 'SUEDRAUM-PLUSPLUS', 'RAUM',
                 'TRAUM', 'loc-NORD', '__ON__', '__OFF__']


def _vocabulary(release_data, dataset):
    with open(osp.join(release_data, dataset, 'gloss_vocab.json'), encoding='utf-8') as f:
        return json.load(f)['glosses']


def random_hypotheses(references, vocabulary, seed, phoenix):
    """A hypothesis set with every kind of error, at a per-set mix of rates.

    Returns raw hypotheses by sample id; some samples are left out on purpose.
    """
    rng = random.Random(seed)
    rates = {name: rng.choice(values) for name, values in {
        'sub': [0.0, 0.03, 0.1, 0.3], 'del': [0.0, 0.03, 0.1, 0.3],
        'ins': [0.0, 0.03, 0.1, 0.3], 'repeat': [0.0, 0.05, 0.2],
        'raw': [0.0, 0.1, 0.3], 'case': [0.0, 0.1], 'swap': [0.0, 0.1],
        'missing': [0.0, 0.02, 0.1], 'empty': [0.0, 0.02, 0.1]}.items()}
    noise = vocabulary + (PHOENIX_NOISE if phoenix else [])
    hypotheses = {}
    for sample_id, ref in references.items():
        if rng.random() < rates['missing']:
            continue
        if rng.random() < rates['empty']:
            # Nothing left after normalisation: scored as [EMPTY].
            dropped = ['__EPENTHESIS__', '__EMOTION__', '__PU__-PLUSPLUS']
            hypotheses[sample_id] = rng.sample(dropped, rng.randint(1, 3)) if phoenix else []
            continue
        hyp = []
        for word in ref:
            if rng.random() < rates['del']:
                pass
            elif rng.random() < rates['sub']:
                hyp.append(rng.choice(noise))
            else:
                if phoenix and rng.random() < rates['raw']:
                    word = rng.choice(RAW_FORMS).format(word)
                if rng.random() < rates['case'] and word.isascii():
                    word = word.lower() if rng.random() < 0.5 else word.title()
                hyp.append(word)
                if rng.random() < rates['repeat']:
                    hyp.append(word)
            if rng.random() < rates['ins']:
                hyp.append(rng.choice(noise))
        for i in range(len(hyp) - 1):
            if rng.random() < rates['swap']:
                hyp[i], hyp[i + 1] = hyp[i + 1], hyp[i]
        hypotheses[sample_id] = hyp
    return hypotheses


def _check_against_sclite(ref_path, hypotheses, normalize, work_dir):
    ctm_path = osp.join(work_dir, 'hyp.ctm')
    write_ctm(ctm_path, hypotheses)
    score = score_corpus(read_stm(ref_path), read_ctm(ctm_path), normalize)
    oracle = official_pipeline(ref_path, ctm_path, work_dir, phoenix=normalize != 'none')

    mine = {s.sample_id: (s.counts.correct, s.counts.substitutions, s.counts.deletions,
                          s.counts.insertions) for s in score.samples}
    theirs = {sample_id: tuple(c) for sample_id, c in oracle.samples.items()}
    assert set(mine) == set(theirs)
    differing = {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}
    assert not differing, f'{len(differing)} samples differ, e.g. {list(differing.items())[:3]}'
    assert score.totals == ErrorCounts(oracle.sub, oracle.dele, oracle.ins, oracle.ref_words)
    return score


SPLITS = [('phoenix2014', 'phoenix2014-groundtruth-dev.stm', 'phoenix2014'),
          ('phoenix2014', 'phoenix2014-groundtruth-test.stm', 'phoenix2014'),
          ('CSL-Daily', 'CSL-Daily-groundtruth-dev.stm', 'none')]


@requires_sclite
@pytest.mark.parametrize('set_index', range(SETS_PER_SPLIT))
@pytest.mark.parametrize('dataset, stm, normalize', SPLITS,
                         ids=[stm.split('-groundtruth-')[0] + '-' + stm.split('-')[-1][:-4]
                              for _, stm, _ in SPLITS])
def test_counts_equal_the_official_pipeline(release_data, tmp_path, dataset, stm, normalize,
                                            set_index):
    ref_path = osp.join(release_data, dataset, stm)
    references = read_stm(ref_path)
    hypotheses = random_hypotheses(references, _vocabulary(release_data, dataset),
                                   seed=zlib.crc32(stm.encode()) + set_index,
                                   phoenix=normalize != 'none')
    score = _check_against_sclite(ref_path, hypotheses, normalize, str(tmp_path))
    assert score.totals.ref_words == sum(len(r) for r in references.values())


@requires_sclite
def test_phoenix2014t_uses_the_same_rules(release_data, tmp_path):
    ref_path = osp.join(release_data, 'phoenix2014-T', 'phoenix2014-T-groundtruth-test.stm')
    references = read_stm(ref_path)
    hypotheses = random_hypotheses(references, _vocabulary(release_data, 'phoenix2014-T'),
                                   seed=7, phoenix=True)
    _check_against_sclite(ref_path, hypotheses, 'phoenix2014', str(tmp_path))


def test_samples_without_hypothesis_are_scored_as_empty():
    references = {'a': ['REGEN', 'SONNE'], 'b': ['NORD'], 'c': ['WIND']}
    score = score_corpus(references, {'a': ['REGEN', 'SONNE'], 'b': ['__EPENTHESIS__']},
                         'phoenix2014')
    by_id = {s.sample_id: s for s in score.samples}
    assert by_id['b'].hyp == by_id['c'].hyp == [EMPTY_HYPOTHESIS]
    assert by_id['b'].counts == ErrorCounts(1, 0, 0, 1)
    assert score.missing == ['c']
    assert score.totals == ErrorCounts(2, 0, 0, 4)
    assert score.totals.wer == 50.0


def test_a_reference_that_is_literally_empty_marker_matches():
    # [EMPTY] is an ordinary word, compared case-insensitively like the others.
    score = score_corpus({'a': ['[empty]']}, {}, 'none')
    assert score.totals == ErrorCounts(0, 0, 0, 1)


def test_hypothesis_for_unknown_sample_is_an_error():
    with pytest.raises(ValueError, match=r"not in the references, e\.g\. \['zz'\]"):
        score_corpus({'a': ['A']}, {'a': ['A'], 'zz': ['B']})
