"""The gloss n-gram LM (Kneser-Ney, ARPA) and beam search with it."""
import copy
import math
import random

import pytest
import torch
from mmaction.registry import MODELS

from mmsign.models.decoders import CTCBeamSearchDecoder
from mmsign.models.decoders.ngram import (
    BOS,
    EOS,
    UNK,
    ARPAFormatError,
    NgramLM,
    estimate_kneser_ney,
)

GLOSSES = ['A', 'B', 'C', 'D', 'E']
NUM_CLASSES = len(GLOSSES) + 1
ENGINES = ('kenlm', 'python')


def random_corpus(seed=0, num=300):
    rng = random.Random(seed)
    return [[rng.choice(GLOSSES) for _ in range(rng.randint(1, 7))] for _ in range(num)]


@pytest.fixture(scope='module')
def corpus_arpa(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('lm') / 'random_3gram.arpa')
    lm, _ = estimate_kneser_ney(random_corpus(), 3)
    lm.write_arpa(path, ['random test corpus'])
    return path


@pytest.fixture(scope='module')
def grammar_arpa(tmp_path_factory):
    """A 'grammar': A is always followed by B, never by C; C only starts sentences."""
    sentences = [['A', 'B', 'D'], ['C', 'E'], ['A', 'B'], ['D', 'A', 'B', 'E'],
                 ['C', 'D'], ['E', 'A', 'B']] * 5
    path = str(tmp_path_factory.mktemp('lm') / 'grammar_2gram.arpa')
    estimate_kneser_ney(sentences, 2)[0].write_arpa(path)
    return path


CONTEXTS = [(BOS,), (BOS, 'A'), ('A', 'B'), ('E', 'E'), ('C',), ('B', 'D', 'A'), ('Z', 'A')]


@pytest.mark.parametrize('modified', [True, False])
@pytest.mark.parametrize('order', [1, 2, 3, 4])
def test_kneser_ney_probabilities_sum_to_one(order, modified, tmp_path):
    lm, _ = estimate_kneser_ney(random_corpus(order), order, modified=modified)
    path = str(tmp_path / 'lm.arpa')
    lm.write_arpa(path)
    read = NgramLM.from_arpa(path)
    for model, tolerance in ((lm, 1e-9), (read, 1e-6)):  # the file rounds to 7 digits
        for context in CONTEXTS:
            total = sum(10 ** model.log10_prob(context, w) for w in [*GLOSSES, EOS, UNK])
            assert total == pytest.approx(1.0, abs=tolerance), (context, total)


def test_unigrams_are_continuation_counts():
    # 'B' is frequent but follows only 'A'; 'C' is rarer but follows many words. Kneser-Ney
    # backs off to how many contexts a word completes, so after an unseen context C wins.
    sentences = [['A', 'B']] * 20 + [[w, 'C'] for w in ('A', 'D', 'E', 'B')]
    lm, _ = estimate_kneser_ney(sentences, 2)
    assert lm.log10_prob(('C',), 'C') > lm.log10_prob(('C',), 'B')
    assert lm.log10_prob(('A',), 'B') > lm.log10_prob(('A',), 'C')


def test_arpa_reads_back_with_mmsign_and_kenlm(corpus_arpa):
    kenlm_module = pytest.importorskip('flashlight.lib.text.decoder.kenlm')
    from flashlight.lib.text.dictionary import Dictionary

    lm, _ = estimate_kneser_ney(random_corpus(), 3)
    read = NgramLM.from_arpa(corpus_arpa)
    assert read.order == 3 and [len(t) for t in read.entries] == [len(t) for t in lm.entries]
    for n, table in enumerate(lm.entries):
        for ngram, (logp, bo) in table.items():
            assert read.entries[n][ngram] == pytest.approx((logp, bo), abs=1e-6)

    tokens = ['<blank>', *GLOSSES, 'NEW']  # NEW is not in the LM: <unk>
    dictionary = Dictionary()
    for token in tokens:
        dictionary.add_entry(token)
    kenlm = kenlm_module.KenLM(corpus_arpa, dictionary)
    for sentence in (['A', 'B', 'C'], ['E', 'E', 'E', 'D', 'A'], ['NEW', 'A']):
        state, context = kenlm.start(False), (BOS,)
        for gloss in sentence:
            state, ken_score = kenlm.score(state, tokens.index(gloss))
            context, score = read.score(context, gloss)
            assert ken_score == pytest.approx(score, abs=1e-5)
        assert kenlm.finish(state)[1] == pytest.approx(read.log10_prob(context, EOS),
                                                       abs=1e-5)


def test_bad_arpa_files_name_the_line(tmp_path):
    path = tmp_path / 'bad.arpa'
    path.write_text('\\data\\\nngram 1=2\n\n\\1-grams:\n-1.0\tA\nx B\n\\end\\\n')
    with pytest.raises(ARPAFormatError, match=r'bad.arpa:6: not a number'):
        NgramLM.from_arpa(str(path))
    path.write_text('\\data\\\nngram 1=3\n\n\\1-grams:\n-1.0\tA\n-1.0\t</s>\n\\end\\\n')
    with pytest.raises(ARPAFormatError, match=r'announces n-gram counts \[3\]'):
        NgramLM.from_arpa(str(path))
    path.write_text('just text\n')
    with pytest.raises(ARPAFormatError, match='no \\\\data'):
        NgramLM.from_arpa(str(path))


def random_problems(num, seed=0, classes=NUM_CLASSES):
    g = torch.Generator().manual_seed(seed)
    for _ in range(num):
        lengths = torch.randint(1, 30, (4,), generator=g).tolist()
        logits = torch.randn(max(lengths), len(lengths), classes, generator=g) * 3
        yield logits.log_softmax(-1), lengths


@pytest.mark.parametrize('engine', ENGINES)
def test_lm_decoder_at_weight_zero_is_the_plain_decoder(corpus_arpa, engine):
    plain = CTCBeamSearchDecoder(beam_width=8, top_k=4)
    fused = CTCBeamSearchDecoder(beam_width=8, top_k=4, lm=corpus_arpa, vocab=GLOSSES,
                                 lm_weight=0.0, lm_engine=engine)
    weighted = CTCBeamSearchDecoder(beam_width=8, top_k=4, lm=corpus_arpa, vocab=GLOSSES,
                                    lm_weight=2.0, lm_engine=engine)
    differ = 0
    for log_probs, lengths in random_problems(15):
        assert fused(log_probs, lengths) == plain(log_probs, lengths)
        differ += weighted(log_probs, lengths) != plain(log_probs, lengths)
    assert differ  # the same comparison sees a real weight


def ambiguous(first, between, favoured):
    """Posteriors: ``first`` clearly, then a frame ambiguous between two glosses."""
    num_classes = len(GLOSSES) + 1
    log_probs = torch.full((4, 1, num_classes), math.log(1e-4))
    ids = {g: GLOSSES.index(g) + 1 for g in GLOSSES}
    log_probs[0, 0, ids[first]] = math.log(0.99)
    log_probs[1, 0, 0] = math.log(0.99)
    for g in between:
        log_probs[2, 0, ids[g]] = math.log(0.52 if g == favoured else 0.47)
    log_probs[3, 0, 0] = math.log(0.99)
    return log_probs.log_softmax(-1)


@pytest.mark.parametrize('engine', ENGINES)
def test_lm_picks_the_grammatical_gloss(grammar_arpa, engine):
    # The acoustics slightly prefer 'A C'; the grammar only allows 'A B'.
    log_probs = ambiguous('A', ('B', 'C'), favoured='C')
    assert CTCBeamSearchDecoder()(log_probs, [4]) == [[1, 3]]
    decoder = CTCBeamSearchDecoder(lm=grammar_arpa, vocab=GLOSSES, lm_weight=1.0,
                                   lm_engine=engine)
    assert decoder(log_probs, [4]) == [[1, 2]]
    # and it does not overrule clear evidence for the gloss the grammar prefers anyway
    assert decoder(ambiguous('A', ('B', 'C'), favoured='B'), [4]) == [[1, 2]]


def test_word_score_counters_deletions():
    log_probs = torch.full((3, 1, len(GLOSSES) + 1), math.log(1e-4))
    log_probs[0, 0, 1] = math.log(0.99)
    log_probs[1, 0, 0], log_probs[1, 0, 2] = math.log(0.55), math.log(0.45)
    log_probs[2, 0, 0] = math.log(0.99)
    log_probs = log_probs.log_softmax(-1)
    assert CTCBeamSearchDecoder()(log_probs, [3]) == [[1]]
    assert CTCBeamSearchDecoder(word_score=0.5)(log_probs, [3]) == [[1, 2]]
    assert CTCBeamSearchDecoder(word_score=-0.5)(log_probs, [3]) == [[1]]


def test_lm_decoder_builds_from_config_and_copies(grammar_arpa):
    cfg = dict(type='CTCBeamSearchDecoder', lm=grammar_arpa, vocab=GLOSSES, lm_weight=1.0,
               lm_engine='python')
    decoder = MODELS.build(cfg)
    log_probs = ambiguous('A', ('B', 'C'), favoured='C')
    assert copy.deepcopy(decoder)(log_probs, [4]) == decoder(log_probs, [4]) == [[1, 2]]


def test_bad_lm_configurations_are_explained(grammar_arpa, tmp_path):
    with pytest.raises(ValueError, match='needs vocab'):
        CTCBeamSearchDecoder(lm=grammar_arpa)
    with pytest.raises(ValueError, match='without lm'):
        CTCBeamSearchDecoder(lm_weight=1.0)
    with pytest.raises(FileNotFoundError, match='build_gloss_lm.py'):
        CTCBeamSearchDecoder(lm=str(tmp_path / 'missing.arpa'), vocab=GLOSSES)
    bad = tmp_path / 'bad.arpa'
    bad.write_text('\\data\\\nngram 1=2\n\n\\1-grams:\n-1\tA\n\\end\\\n')
    with pytest.raises(ValueError, match=r'KenLM cannot read the language model .*bad\.arpa'):
        CTCBeamSearchDecoder(lm=str(bad), vocab=GLOSSES, lm_weight=1.0)
    with pytest.raises(ValueError, match='announces n-gram counts'):
        CTCBeamSearchDecoder(lm=str(bad), vocab=GLOSSES, lm_weight=1.0, lm_engine='python')
    with pytest.raises(ValueError, match='unknown lm_engine'):
        CTCBeamSearchDecoder(lm=grammar_arpa, vocab=GLOSSES, lm_engine='srilm')
    decoder = CTCBeamSearchDecoder(lm=grammar_arpa, vocab=GLOSSES[:3], lm_weight=1.0)
    with pytest.raises(ValueError, match="give the model's vocab"):
        decoder(torch.randn(3, 1, len(GLOSSES) + 1).log_softmax(-1), [3])


@pytest.mark.parametrize('word_score', [0.0, 0.7])
def test_engines_decode_alike(corpus_arpa, word_score):
    # word_score 0: flashlight's KenLM binding straight in the decoder (the fast path);
    # otherwise KenLM behind mmsign's Python scorer. Either equals mmsign's ARPA reader.
    decoders = [CTCBeamSearchDecoder(beam_width=8, top_k=4, lm=corpus_arpa, vocab=GLOSSES,
                                     lm_weight=1.5, word_score=word_score, lm_engine=engine)
                for engine in ENGINES]
    for log_probs, lengths in random_problems(15, seed=3):
        kenlm, python = (d(log_probs, lengths) for d in decoders)
        assert kenlm == python
