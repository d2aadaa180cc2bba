"""CTM files with the aligned gloss times score exactly as the placeholder ones."""
import os.path as osp

import torch
from sclite_oracle import official_pipeline, requires_sclite

from mmsign.evaluation import WERMetric, read_ctm
from mmsign.evaluation.sclite_io import write_ctm
from mmsign.models.decoders import CTCGreedyDecoder
from mmsign.utils.ctc import ctc_forced_alignment, gloss_timestamps

GLOSSES = ['A', 'B', 'C', 'D', 'E']


def predicted_samples(count=40, seed=0):
    """Data samples as SignRecognizer.predict writes them, from random posteriors.

    Lengths reach 130 output frames (520 input frames, 20.8 s at 25 fps), so starts pass
    10 s, where a text sort of unpadded times would reorder the glosses.
    """
    generator = torch.Generator().manual_seed(seed)
    decoder = CTCGreedyDecoder()
    samples = []
    for i in range(count):
        steps = int(torch.randint(1, 130, (), generator=generator))
        scores = torch.randn(steps, len(GLOSSES) + 1, generator=generator) * 2
        scores[:, 0] += 1.5  # blank-heavy like a CTC model
        log_probs = scores.log_softmax(-1)
        ids = decoder(log_probs[:, None], [steps])[0]
        stamps = gloss_timestamps(ctc_forced_alignment(log_probs, ids), [''] * len(ids),
                                  4, 4 * steps, None)
        reference = [GLOSSES[int(j)] for j in
                     torch.randint(0, len(GLOSSES), (int(torch.randint(1, 12, (),
                                                                        generator=generator)),),
                                   generator=generator)]
        samples.append(dict(sample_id=f'video{i:03d}', pred_glosses=[GLOSSES[j - 1] for j in ids],
                            pred_gloss_frames=[[s['start_frame'], s['end_frame']] for s in stamps],
                            gt_gloss_text=reference))
    return samples


@requires_sclite
def test_sclite_scores_real_times_as_the_placeholders(tmp_path):
    samples = predicted_samples()
    metric = WERMetric(normalize='none', out_dir=str(tmp_path / 'timed'), fps=25.0)
    metric.process({}, samples)
    metrics = metric.compute_metrics(metric.results)
    timed_ctm = str(tmp_path / 'timed' / 'hyp_seq.ctm')
    stm = str(tmp_path / 'timed' / 'ref.stm')

    # The CTM carries the aligned times in seconds, past 10 s for the long samples.
    with open(timed_ctm, encoding='utf-8') as f:
        lines = [line.split() for line in f]
    by_id = {s['sample_id']: s for s in samples}
    first = by_id[lines[0][0]]
    assert float(lines[0][2]) == first['pred_gloss_frames'][0][0] / 25
    assert float(lines[0][3]) == (first['pred_gloss_frames'][0][1]
                                  - first['pred_gloss_frames'][0][0]) / 25
    assert max(float(line[2]) for line in lines) > 10
    assert read_ctm(timed_ctm) == {s['sample_id']: s['pred_glosses'] for s in samples
                                   if s['pred_glosses']}

    placeholder_ctm = str(tmp_path / 'placeholder.ctm')
    write_ctm(placeholder_ctm, {s['sample_id']: s['pred_glosses'] for s in samples})
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    timed = official_pipeline(stm, timed_ctm, str(tmp_path / 'a'), phoenix=False)
    placeholder = official_pipeline(stm, placeholder_ctm, str(tmp_path / 'b'), phoenix=False)
    assert timed.samples == placeholder.samples and len(timed.samples) == len(samples)
    assert (timed.sub, timed.dele, timed.ins, timed.ref_words) == (
        placeholder.sub, placeholder.dele, placeholder.ins, placeholder.ref_words)
    # and both equal mmsign's own score
    assert metrics['seq_sub_count'] == timed.sub and metrics['seq_ref_words'] == timed.ref_words
    assert metrics['seq_del_count'] == timed.dele and metrics['seq_ins_count'] == timed.ins
    assert timed.sub + timed.dele + timed.ins > 0  # not vacuous


def test_samples_without_aligned_frames_keep_the_placeholders(tmp_path):
    metric = WERMetric(normalize='none', out_dir=str(tmp_path))
    metric.process({}, [dict(sample_id='v', pred_glosses=['A', 'B'], gt_gloss_text=['A'])])
    metric.compute_metrics(metric.results)
    with open(osp.join(str(tmp_path), 'hyp_seq.ctm'), encoding='utf-8') as f:
        assert f.read() == 'v 1 0.00 0.01 A\nv 1 0.01 0.01 B\n'
