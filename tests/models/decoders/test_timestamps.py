"""CTC forced alignment of decoded glosses: segments, times and confidences."""
from itertools import groupby

import pytest
import torch

from mmsign.models.decoders import CTCGreedyDecoder, collapse_ctc
from mmsign.models.heads.temporal_conv import TemporalConv
from mmsign.utils.ctc import (
    ctc_forced_alignment,
    gloss_timestamps,
)


def greedy_runs(path):
    runs, t = [], 0
    for label, group in groupby(path):
        n = len(list(group))
        if label != 0:
            runs.append((label, t, t + n))
        t += n
    return runs


def test_alignment_of_the_greedy_decoding_is_the_best_path():
    generator = torch.Generator().manual_seed(0)
    for _ in range(300):
        frames = int(torch.randint(1, 40, (), generator=generator))
        log_probs = (torch.randn(frames, 6, generator=generator) * 3).log_softmax(-1)
        best = log_probs.argmax(-1).tolist()
        segments = ctc_forced_alignment(log_probs, collapse_ctc(best))
        assert [(s.label, s.start, s.end) for s in segments] == greedy_runs(best)
        for s in segments:
            expected = log_probs[s.start:s.end, s.label].exp().mean().item()
            assert s.confidence == pytest.approx(expected, rel=1e-5)


def brute_force_best(log_probs, labels):
    """The best path collapsing to ``labels`` by enumerating every path (tiny T, C)."""
    import itertools
    frames, classes = log_probs.shape
    best, best_path = -float('inf'), None
    for path in itertools.product(range(classes), repeat=frames):
        if collapse_ctc(path) == list(labels):
            score = sum(log_probs[t, c].item() for t, c in enumerate(path))
            if score > best:
                best, best_path = score, path
    return best_path


def test_alignment_of_another_sequence_is_its_viterbi_path():
    generator = torch.Generator().manual_seed(1)
    for labels in ([1, 2], [2, 2], [1, 2, 1], [3]):
        log_probs = torch.randn(6, 4, generator=generator).log_softmax(-1)
        segments = ctc_forced_alignment(log_probs, labels)
        assert [s.label for s in segments] == labels
        assert greedy_runs(brute_force_best(log_probs, labels)) == [
            (s.label, s.start, s.end) for s in segments]
        # repeated glosses are separated by at least one blank frame
        assert all(a.end < b.start for a, b in zip(segments, segments[1:])
                   if a.label == b.label)


def test_too_many_glosses_for_the_frames_is_an_error():
    log_probs = torch.zeros(3, 4).log_softmax(-1)
    assert ctc_forced_alignment(log_probs, []) == []
    assert len(ctc_forced_alignment(log_probs, [1, 2, 3])) == 3
    with pytest.raises(ValueError, match='need at least 4 frames'):
        ctc_forced_alignment(log_probs, [1, 1, 2])


def test_merged_repeats_of_the_decoder_are_aligned_as_one_gloss():
    # path A A _ A decodes (merge_repeated_glosses) to [A]: one gloss over its best run
    log_probs = torch.full((4, 3), -10.0)
    log_probs[[0, 1, 3], 1] = 0.0
    log_probs[2, 0] = 0.0
    ids = CTCGreedyDecoder()(log_probs[:, None], [4])[0]
    assert ids == [1]
    (segment, ) = ctc_forced_alignment(log_probs, ids)
    assert segment.label == 1 and segment.end - segment.start >= 2


def test_times_use_the_head_stride_and_the_frame_rate():
    assert TemporalConv(8, 8, ('K3', 'P2', 'K3', 'P3')).geometry.stride == 6
    log_probs = torch.full((5, 3), -10.0)
    log_probs[:, 0] = 0.0
    log_probs[1:3, 2] = 1.0
    log_probs[4, 1] = 1.0
    segments = ctc_forced_alignment(log_probs.log_softmax(-1), [2, 1])
    stamps = gloss_timestamps(segments, ['B', 'A'], stride=4, num_frames=18, fps=25.0)
    assert [(s['gloss'], s['start_frame'], s['end_frame']) for s in stamps] == [
        ('B', 4, 12), ('A', 16, 18)]  # the last output frame covers 2 real frames
    assert stamps[0]['start'] == pytest.approx(0.16) and stamps[0]['end'] == pytest.approx(0.48)
    assert stamps[1]['end'] == pytest.approx(0.72)
    assert 0.5 < stamps[0]['confidence'] <= 1
    assert gloss_timestamps(segments, ['B', 'A'], 4, 18, None)[0]['start'] is None


def test_predict_writes_the_aligned_frames_of_both_branches():
    import os.path as osp

    from mmaction.structures import ActionDataSample

    from mmsign.apis import init_recognizer
    repo = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    torch.manual_seed(0)
    model = init_recognizer(osp.join(repo, 'configs', 'adaptsign_synthetic.py'),
                            cfg_options={'model.timestamps': True})
    lengths = [23, 9]
    inputs = torch.randn(sum(lengths), 3, 32, 32)
    samples = model.predict(inputs, lengths, [ActionDataSample(), ActionDataSample()])
    outputs = model.extract_feat(inputs, lengths)
    for b, (sample, length) in enumerate(zip(samples, lengths)):
        for suffix, logits in (('', outputs.seq_logits), ('_conv', outputs.conv_logits)):
            glosses = sample.get('pred_glosses' + suffix)
            frames = sample.get('pred_gloss_frames' + suffix)
            scores = sample.get('pred_gloss_scores' + suffix)
            assert len(frames) == len(glosses) == len(scores)
            ids = model.decoder(logits[:, b:b + 1].log_softmax(-1), [outputs.lengths[b]])[0]
            segments = ctc_forced_alignment(
                logits[:outputs.lengths[b], b].log_softmax(-1), ids)
            assert frames == [[4 * s.start, min(4 * s.end, length)] for s in segments]
            assert all(0 <= a < e <= length for a, e in frames)


def test_validation_does_not_align():
    """Forced alignment is opt-in: without model.timestamps, predict writes the glosses
    only (no Viterbi pass per sample at every validation)."""
    import os.path as osp

    from mmaction.structures import ActionDataSample

    from mmsign.apis import init_recognizer
    repo = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    model = init_recognizer(osp.join(repo, 'configs', 'adaptsign_synthetic.py'))
    assert model.timestamps is False
    (sample, ) = model.predict(torch.randn(12, 3, 32, 32), [12], [ActionDataSample()])
    assert 'pred_glosses' in sample and 'pred_glosses_conv' in sample
    assert 'pred_gloss_frames' not in sample and 'pred_gloss_scores_conv' not in sample
