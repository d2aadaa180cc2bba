"""WERMetric: metric names and values, references from an STM, outputs, distributed."""
import math
import os
from unittest import mock

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from mmaction.registry import METRICS
from mmengine.structures import BaseDataElement
from sclite_oracle import official_pipeline, requires_sclite

import mmsign  # noqa: F401  (registers WERMetric)
from mmsign.evaluation import WERMetric, read_ctm


def _sample(sample_id, ref, seq, conv=None):
    sample = dict(sample_id=sample_id, gt_gloss_text=ref, pred_glosses=seq)
    if conv is not None:
        sample['pred_glosses_conv'] = conv
    return sample


# seq: a has 1 S (loc-X -> X); b is D S S S. conv: a correct; b is [EMPTY] -> 1 S 3 D.
SAMPLES = [
    _sample('a', ['A', 'B', 'C'], ['a', 'loc-X', 'C'], ['A', 'B', 'C']),
    _sample('b', ['A', 'B', 'C', 'D'], ['E', 'F', 'G'], ['__EPENTHESIS__']),
]


def _evaluate(metric, batches):
    for batch in batches:
        metric.process(None, batch)
    return metric.evaluate(sum(len(b) for b in batches))


def test_registered_and_reports_both_branches():
    metric = METRICS.build(dict(type='WERMetric', normalize='phoenix2014'))
    assert isinstance(metric, WERMetric)
    metrics = _evaluate(metric, [SAMPLES[:1], SAMPLES[1:]])
    assert metrics == {
        'wer/seq': pytest.approx(100 * 5 / 7), 'wer/seq_sub': pytest.approx(100 * 4 / 7),
        'wer/seq_del': pytest.approx(100 / 7), 'wer/seq_ins': 0.0,
        'wer/seq_sub_count': 4, 'wer/seq_del_count': 1, 'wer/seq_ins_count': 0,
        'wer/seq_ref_words': 7, 'wer/seq_ser': 100.0,
        'wer/conv': pytest.approx(100 * 4 / 7), 'wer/conv_sub': pytest.approx(100 / 7),
        'wer/conv_del': pytest.approx(300 / 7), 'wer/conv_ins': 0.0,
        'wer/conv_sub_count': 1, 'wer/conv_del_count': 3, 'wer/conv_ins_count': 0,
        'wer/conv_ref_words': 7, 'wer/conv_ser': 50.0,
    }
    assert metric.results == []


def test_normalisation_is_selectable():
    sample = _sample('a', ['NORD', 'REGEN'], ['loc-NORD', 'REGEN-PLUSPLUS'])
    assert _evaluate(WERMetric(normalize='phoenix2014'), [[sample]])['wer/seq'] == 0.0
    assert _evaluate(WERMetric(normalize='none'), [[sample]])['wer/seq'] == 100.0


def test_data_elements_and_insertions():
    element = BaseDataElement(metainfo=dict(sample_id='a', gt_gloss_text=['NORD']),
                              pred_glosses=['NORD', 'NORD', 'nord'])
    metrics = _evaluate(WERMetric(), [[element]])
    assert metrics['wer/seq'] == 200.0
    assert metrics['wer/seq_ins_count'] == 2
    assert 'wer/conv' not in metrics


def test_conv_is_reported_only_when_every_sample_has_it():
    samples = [SAMPLES[0], _sample('b', ['A'], ['A'])]
    with mock.patch('mmsign.evaluation.wer_metric.print_log') as log:
        metrics = _evaluate(WERMetric(), [samples])
    assert 'wer/conv' not in metrics and metrics['wer/seq_ref_words'] == 4
    assert any('only 1 of 2 samples' in str(call) for call in log.call_args_list)


def test_a_sample_seen_twice_is_counted_once():
    metric = WERMetric()
    metric.process(None, SAMPLES)
    metric.process(None, SAMPLES[:1])  # padding of the distributed sampler
    assert metric.compute_metrics(list(metric.results))['seq_ref_words'] == 7

    metric.process(None, [dict(SAMPLES[0], pred_glosses=['A', 'B', 'C'])])
    with mock.patch('mmsign.evaluation.wer_metric.print_log') as log:
        metrics = metric.compute_metrics(list(metric.results))
    assert metrics['seq_sub_count'] == 4  # the first prediction of 'a' is scored
    assert any('more than once with different glosses' in str(call)
               for call in log.call_args_list)


def test_references_from_stm_file_and_unevaluated_samples(tmp_path):
    stm = tmp_path / 'ref.stm'
    stm.write_text('a 1 s 0.0 1.79769e+308 A B C\n'
                   'b 1 s 0.0 1.79769e+308 A B C D\n'
                   'c 1 s 0.0 1.79769e+308 X Y\n', encoding='utf-8')
    metric = WERMetric(ref_file=str(stm))
    # gt_gloss_text is neither needed nor used when the STM gives the references.
    samples = [{k: v for k, v in s.items() if k != 'gt_gloss_text'} for s in SAMPLES]
    samples[0]['sample_id'] = 'a'
    with mock.patch('mmsign.evaluation.wer_metric.print_log') as log:
        metrics = _evaluate(metric, [samples])
    # c has no prediction: scored as [EMPTY] against X Y (1 S, 1 D), as officially.
    assert metrics['wer/seq_ref_words'] == 9
    assert (metrics['wer/seq_sub_count'], metrics['wer/seq_del_count']) == (5, 2)
    assert any('1 of 3 samples' in str(call) for call in log.call_args_list)


def test_clear_errors_for_bad_configuration_and_samples(tmp_path):
    with pytest.raises(KeyError, match='unknown WER normalisation'):
        WERMetric(normalize='phoenix')
    with pytest.raises(FileNotFoundError, match='missing.stm'):
        WERMetric(ref_file=str(tmp_path / 'missing.stm'))
    with pytest.raises(KeyError, match="'pred_glosses' in each data sample of sample 'a'"):
        WERMetric().process(None, [dict(sample_id='a', gt_gloss_text=['A'])])
    with pytest.raises(KeyError, match="'gt_gloss_text'.*set ref_file"):
        WERMetric().process(None, [dict(sample_id='a', pred_glosses=['A'])])
    with pytest.raises(ValueError, match="pred_glosses of sample 'a' has the gloss 'A B'"):
        WERMetric().process(None, [_sample('a', ['A'], ['A B'])])
    with pytest.raises(TypeError, match="gt_gloss_text of sample 'a' must be a list"):
        WERMetric().process(None, [_sample('a', 'A B', ['A'])])


@requires_sclite
def test_written_files_score_the_same_with_sclite(tmp_path):
    out_dir = tmp_path / 'work_dir'
    metric = WERMetric(normalize='phoenix2014', out_dir=str(out_dir))
    metrics = _evaluate(metric, [SAMPLES])
    assert sorted(os.listdir(out_dir)) == [
        'aligned_conv.txt', 'aligned_seq.txt', 'alignment_conv.txt', 'alignment_seq.txt',
        'errors_conv.json', 'errors_seq.json', 'hyp_conv.ctm', 'hyp_seq.ctm', 'ref.stm',
        'report_conv.md', 'report_seq.md']
    # The CTM keeps the raw glosses; scoring normalises them.
    assert read_ctm(str(out_dir / 'hyp_seq.ctm'))['a'] == ['a', 'loc-X', 'C']
    for branch in ('seq', 'conv'):
        oracle = official_pipeline(str(out_dir / 'ref.stm'), str(out_dir / f'hyp_{branch}.ctm'),
                                   str(tmp_path), phoenix=True)
        assert (oracle.sub, oracle.dele, oracle.ins, oracle.ref_words) == (
            metrics[f'wer/{branch}_sub_count'], metrics[f'wer/{branch}_del_count'],
            metrics[f'wer/{branch}_ins_count'], metrics[f'wer/{branch}_ref_words'])
    report = (out_dir / 'alignment_seq.txt').read_text(encoding='utf-8')
    assert 'WER 71.43% (S 4, D 1, I 0, N 7)' in report
    assert 'REF:  A B C D\nHYP:  * E F G\nEval: D S S S' in report


def _distributed_worker(rank, world_size, init_file, collect_dir, shards, out_file):
    torch_dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                                  world_size=world_size)
    try:
        metric = WERMetric(normalize='phoenix2014', collect_dir=collect_dir)
        for sample in shards[rank]:
            metric.process(None, [sample])
        metrics = metric.evaluate(size=len(DIST_SAMPLES))
        if rank == 0:
            torch.save(metrics, out_file)
    finally:
        torch_dist.destroy_process_group()


DIST_SAMPLES = [
    _sample(f's{i}', ['NORD', 'REGEN', 'SONNE'][:i % 3 + 1], hyp)
    for i, hyp in enumerate([['NORD'], ['loc-NORD', 'WIND'], [], ['REGEN', 'REGEN'], ['X']])
]


@pytest.mark.slow
def test_distributed_evaluation_gathers_all_ranks(tmp_path):
    # What DefaultSampler gives two ranks for five samples: interleaved, the last
    # rank padded with the first sample.
    shards = [DIST_SAMPLES[0::2], DIST_SAMPLES[1::2] + DIST_SAMPLES[:1]]
    out_file = str(tmp_path / 'metrics.pth')
    mp.spawn(_distributed_worker, nprocs=2,
             args=(2, str(tmp_path / 'init'), str(tmp_path / 'collect'), shards, out_file))
    gathered = torch.load(out_file)
    single = _evaluate(WERMetric(normalize='phoenix2014'), [DIST_SAMPLES])
    assert gathered == single
    assert gathered['wer/seq_ref_words'] == 1 + 2 + 3 + 1 + 2
    assert not math.isnan(gathered['wer/seq'])
