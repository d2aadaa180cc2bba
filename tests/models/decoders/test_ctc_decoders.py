import importlib.util
import itertools
import sys

import pytest
import torch
from mmaction.registry import MODELS

from mmsign.models.decoders import (
    CTCBeamSearchDecoder,
    CTCGreedyDecoder,
    collapse_ctc,
    merge_repeats,
)

C = 4  # blank + 3 glosses


def random_problems(num: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    for _ in range(num):
        lengths = torch.randint(1, 7, (3,), generator=g).tolist()
        logits = torch.randn(max(lengths), len(lengths), C, generator=g) * 2
        yield logits.log_softmax(-1), lengths


def labelling_scores(log_probs: torch.Tensor) -> dict:
    """log P(labelling) for every labelling, by enumerating all C**T paths."""
    scores = {}
    lp = log_probs.tolist()
    for path in itertools.product(range(C), repeat=len(lp)):
        score = sum(lp[t][k] for t, k in enumerate(path))
        scores.setdefault(tuple(collapse_ctc(path)), []).append(score)
    return {k: torch.logsumexp(torch.tensor(v, dtype=torch.float64), 0).item()
            for k, v in scores.items()}


def test_collapse_and_merge():
    assert collapse_ctc([0, 1, 1, 0, 1, 2, 2, 0]) == [1, 1, 2]
    assert collapse_ctc([0, 0]) == []
    assert merge_repeats([1, 1, 2, 1]) == [1, 2, 1]


def test_beam_search_finds_the_most_probable_labelling():
    decoder = CTCBeamSearchDecoder(beam_width=200, top_k=C, merge_repeated_glosses=False)
    checked = 0
    for log_probs, lengths in random_problems(40):
        hyps = decoder(log_probs, lengths)
        for b, length in enumerate(lengths):
            scores = labelling_scores(log_probs[:length, b])
            ranked = sorted(scores.values(), reverse=True)
            if len(ranked) > 1 and ranked[0] - ranked[1] < 1e-4:
                continue  # a tie: either answer is right
            assert tuple(hyps[b]) == max(scores, key=scores.get)
            checked += 1
    assert checked > 100


def test_greedy_is_the_best_path():
    decoder = CTCGreedyDecoder(merge_repeated_glosses=False)
    for log_probs, lengths in random_problems(20, seed=1):
        hyps = decoder(log_probs, lengths)
        for b, length in enumerate(lengths):
            lp = log_probs[:length, b].tolist()
            best = max(itertools.product(range(C), repeat=length),
                       key=lambda p: sum(lp[t][k] for t, k in enumerate(p)))
            assert hyps[b] == collapse_ctc(best)


def test_frames_beyond_the_length_are_ignored():
    log_probs = torch.full((5, 1, C), -10.0)
    log_probs[:2, 0, 2] = 0.0
    log_probs[2:, 0, 3] = 0.0  # beyond length 2
    for decoder in (CTCGreedyDecoder(), CTCBeamSearchDecoder()):
        assert decoder(log_probs, [2]) == [[2]]


def test_repeated_glosses_are_merged_by_default():
    # best path 1 _ 1 2: CTC labelling [1, 1, 2]; the released decoding says [1, 2]
    log_probs = torch.full((4, 1, C), -10.0)
    for t, k in enumerate([1, 0, 1, 2]):
        log_probs[t, 0, k] = 0.0
    log_probs = log_probs.log_softmax(-1)
    for cls in (CTCGreedyDecoder, CTCBeamSearchDecoder):
        assert cls()(log_probs, [4]) == [[1, 2]]
        assert cls(merge_repeated_glosses=False)(log_probs, [4]) == [[1, 1, 2]]


def test_default_beam_search_is_the_released_configuration():
    decoder = MODELS.build(dict(type='CTCBeamSearchDecoder'))
    assert (decoder.beam_width, decoder.top_k, decoder.backend) == (10, 40, 'flashlight')
    # fewer classes than top_k is fine
    log_probs = torch.randn(7, 2, C).log_softmax(-1)
    assert len(decoder(log_probs, [7, 3])) == 2


def test_missing_backend_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, 'ctcdecode', None)  # import ctcdecode -> ImportError
    with pytest.raises(ImportError, match="'ctcdecode'"):
        CTCBeamSearchDecoder(backend='ctcdecode')
    monkeypatch.setitem(sys.modules, 'flashlight.lib.text.decoder', None)
    with pytest.raises(ImportError, match="'flashlight-text'"):
        CTCBeamSearchDecoder(backend='flashlight')
    with pytest.raises(ValueError, match='unknown beam search backend'):
        CTCBeamSearchDecoder(backend='pyctcdecode')


class FakeCTCBeamDecoder:
    """Stands in for ctcdecode.CTCBeamDecoder: records its arguments, answers fixed beams."""
    instances: list = []

    def __init__(self, labels, **kwargs):
        self.labels, self.kwargs = labels, kwargs
        FakeCTCBeamDecoder.instances.append(self)

    def decode(self, probs, seq_lens):
        self.inputs = (probs.clone(), seq_lens.clone())
        batch = probs.shape[0]
        beams = torch.tensor([[[2, 1, 3, 0], [1, 1, 1, 1]]] * batch, dtype=torch.int32)
        out_lens = torch.tensor([[3, 4], [1, 4]], dtype=torch.int32)[:batch]
        return beams, torch.zeros(batch, 2), torch.zeros_like(beams), out_lens


def test_ctcdecode_adapter_passes_the_released_settings(monkeypatch):
    fake = type(sys)('ctcdecode')
    fake.CTCBeamDecoder = FakeCTCBeamDecoder
    monkeypatch.setitem(sys.modules, 'ctcdecode', fake)
    log_probs = torch.randn(5, 2, C).log_softmax(-1)
    hyps = CTCBeamSearchDecoder(backend='ctcdecode')(log_probs, [5, 2])
    assert hyps == [[2, 1, 3], [2]]  # best beam, cut at its length
    made = FakeCTCBeamDecoder.instances[-1]
    assert len(made.labels) == C
    assert made.kwargs['beam_width'] == 10 and made.kwargs['cutoff_top_n'] == 40
    assert made.kwargs['blank_id'] == 0 and made.kwargs['log_probs_input'] is True
    probs, seq_lens = made.inputs
    assert torch.equal(probs, log_probs.transpose(0, 1)) and seq_lens.tolist() == [5, 2]


@pytest.mark.skipif(importlib.util.find_spec('ctcdecode') is None,
                    reason='ctcdecode is not installed')
def test_backends_agree():
    flashlight = CTCBeamSearchDecoder(backend='flashlight', merge_repeated_glosses=False)
    ctcdecode = CTCBeamSearchDecoder(backend='ctcdecode', merge_repeated_glosses=False)
    for log_probs, lengths in random_problems(20, seed=2):
        assert flashlight(log_probs, lengths) == ctcdecode(log_probs, lengths)


def test_bad_shapes_are_reported():
    with pytest.raises(ValueError, match='exceed'):
        CTCGreedyDecoder()(torch.zeros(3, 1, C), [4])
    with pytest.raises(ValueError, match='for 2 videos'):
        CTCGreedyDecoder()(torch.zeros(3, 1, C), [3, 3])
