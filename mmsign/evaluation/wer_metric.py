"""``WERMetric``: the official CSLR word error rate as an mmengine metric."""
import logging
import os
import os.path as osp
import re
from typing import Any, Dict, List, Optional, Sequence

from mmaction.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import MessageHub, print_log
from mmengine.structures import BaseDataElement

from .error_analysis import ErrorAnalysis, analyze, diagnose, read_stm_speakers
from .error_report import write_report_files
from .normalization import get_normalization
from .sclite_io import read_stm, write_ctm, write_stm
from .scoring import CorpusScore, format_alignment_report, format_counts, score_corpus

#: Result key and metric-name stem of each prediction branch, with its data-sample key.
BRANCHES = {'seq': 'pred_glosses', 'conv': 'pred_glosses_conv'}
_WHITESPACE = re.compile(r'\s')


def in_training() -> bool:
    """Whether this evaluation is the validation of a training run (mmengine's
    ``RuntimeInfoHook`` records ``max_iters`` when training starts)."""
    hub = MessageHub.get_current_instance()
    return hub.get_info('loop_stage') == 'val' and hub.get_info('max_iters') is not None


@METRICS.register_module()
class WERMetric(BaseMetric):
    """Word error rate of the sequence and conv branches, equal to the official scoring.

    Scoring follows the pipeline behind published PHOENIX14, PHOENIX14-T and
    CSL-Daily numbers (hypothesis normalisation, ``[EMPTY]`` for samples without
    hypothesis, sclite's alignment), without needing sclite: see ``docs/evaluation.md``.

    Each data sample given to :meth:`process` is a dict (mmengine converts data
    elements with ``to_dict()``) with:

    - ``sample_id`` (str): the sample id, as in the reference STM file;
    - ``pred_glosses`` (list[str]): glosses decoded from the sequence (BiLSTM) branch;
    - ``pred_glosses_conv`` (list[str], optional): glosses of the conv branch;
    - ``gt_gloss_text`` (list[str]): reference glosses, unless ``ref_file`` is set.

    Metrics, with the default prefix ``wer`` (``{b}`` is ``seq`` or ``conv``; ``conv``
    only when every sample has ``pred_glosses_conv``):

    - ``wer/{b}``: WER in percent, (S + D + I) / N, unrounded;
    - ``wer/{b}_sub``, ``wer/{b}_del``, ``wer/{b}_ins``: S / N, D / N, I / N in percent;
    - ``wer/{b}_sub_count``, ``wer/{b}_del_count``, ``wer/{b}_ins_count``: S, D, I;
    - ``wer/{b}_ref_words``: N;
    - ``wer/{b}_ser``: sentence error rate in percent (samples with any error).

    A branch whose hypotheses are all empty, or mostly outside the references'
    vocabulary, logs a warning naming the likely cause (see
    :func:`~.error_analysis.diagnose`) instead of a silent 100 %. During training
    (validation inside a train run) empty hypotheses are what CTC gives in its first
    epochs (only blank is predicted): one information line names the branches instead.

    Use ``save_best='wer/seq', rule='less'`` in the checkpoint hook.

    In distributed evaluation mmengine gathers the per-sample results of all ranks on
    rank 0. Its sampler repeats a few samples to give every rank the same number, so a
    sample id can arrive more than once: the first result in gathered order is scored
    and the repeats are dropped (with a warning if their hypotheses differ).

    Args:
        normalize (str): Hypothesis normalisation: ``'phoenix2014'`` for PHOENIX14 and
            PHOENIX14-T, ``'none'`` for CSL-Daily, CSL and custom data.
            Defaults to ``'phoenix2014'``.
        ref_file (str, optional): Reference STM file (e.g.
            ``phoenix2014-groundtruth-dev.stm``). When set, references come from it by
            sample id, and every sample in it is scored, those without a prediction as
            ``[EMPTY]`` (the official pipeline). When None, references are the samples'
            ``gt_gloss_text``.
        out_dir (str, optional): When set, each evaluation writes here
            ``hyp_{b}.ctm`` (raw hypotheses with their aligned times when the recognizer
            gives ``pred_gloss_frames``, scorable again with
            ``tools/analysis/score_wer.py`` or sclite), ``alignment_{b}.txt`` (per-sample
            alignments), ``aligned_{b}.txt`` (the same in sclite's ``-o pra`` layout),
            ``report_{b}.md`` and ``errors_{b}.json`` (SER, top confusions, per-gloss
            errors, WER by length and by signer) and, without ``ref_file``,
            ``ref.stm``. Files of an earlier evaluation are overwritten.
        fps (float): Frame rate of the evaluated videos, for the CTM times: each gloss's
            frames (``pred_gloss_frames`` from the recognizer's alignment) become
            seconds. Defaults to 25 (PHOENIX14 / PHOENIX14-T).
        collect_device (str): ``'cpu'`` or ``'gpu'``, as in
            :class:`mmengine.evaluator.BaseMetric`. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. Defaults to ``'wer'``.
        collect_dir (str, optional): Shared directory for CPU collection.
    """

    default_prefix: Optional[str] = 'wer'

    def __init__(self,
                 normalize: str = 'phoenix2014',
                 ref_file: Optional[str] = None,
                 out_dir: Optional[str] = None,
                 fps: float = 25.0,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)
        get_normalization(normalize)  # fail at build time on a misspelt name
        if ref_file is not None and not osp.isfile(ref_file):
            raise FileNotFoundError(
                f'WERMetric reference file not found: {ref_file}; point ref_file at the '
                'groundtruth STM of the evaluated split or set it to None to use the '
                "samples' gt_gloss_text")
        self.normalize = normalize
        self.ref_file = ref_file
        self.out_dir = out_dir
        if fps <= 0:
            raise ValueError(f'WERMetric fps must be positive, got {fps}')
        self.fps = fps
        self._stm_references: Optional[Dict[str, List[str]]] = None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep sample id, hypotheses and (without ``ref_file``) reference per sample.

        Args:
            data_batch (Any): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): Model outputs, one dict per sample with the
                keys listed in the class docstring.
        """
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            result = {'sample_id': str(self._require(sample, 'sample_id', None))}
            for branch, key in BRANCHES.items():
                if branch == 'seq' or key in sample:
                    result[branch] = self._glosses(sample, key, result)
                    frames = sample.get(key.replace('pred_glosses', 'pred_gloss_frames'))
                    if frames is not None and len(frames) == len(result[branch]):
                        result[branch + '_times'] = [
                            (first / self.fps, stop / self.fps) for first, stop in frames]
            if self.ref_file is None:
                result['ref'] = self._glosses(sample, 'gt_gloss_text', result)
            if sample.get('signer') is not None:
                result['signer'] = str(sample['signer'])
            self.results.append(result)

    @classmethod
    def _glosses(cls, sample: dict, key: str, result: dict) -> List[str]:
        value = cls._require(sample, key, result)
        if isinstance(value, str):
            # Iterating a string would score its characters as glosses.
            raise TypeError(f'WERMetric: {key} of sample {result["sample_id"]!r} must be a '
                            f'list of glosses, got the string {value!r}')
        glosses = [str(g) for g in value]
        for gloss in glosses:
            if _WHITESPACE.search(gloss):
                # sclite would score it as several words: refuse rather than disagree.
                raise ValueError(f'WERMetric: {key} of sample {result["sample_id"]!r} has '
                                 f'the gloss {gloss!r} with whitespace; glosses are '
                                 'single words')
        return glosses

    @staticmethod
    def _require(sample: dict, key: str, result: Optional[dict]) -> Any:
        if key not in sample:
            which = f' of sample {result["sample_id"]!r}' if result else ''
            hint = ("set ref_file to the split's STM or make the dataset pack it"
                    if key == 'gt_gloss_text' else
                    'the recognizer predict() and the dataset packing set it')
            raise KeyError(f'WERMetric needs {key!r} in each data sample{which}: {hint}; '
                           f'got keys {sorted(sample)}')
        return sample[key]

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Score the gathered results of the whole evaluation set.

        Args:
            results (list[dict]): What :meth:`process` kept, from all ranks.

        Returns:
            dict[str, float]: Metric values by name, without the prefix.
        """
        results = self._first_per_sample(results)
        references = self._references(results)
        signers = self._signers(results)
        if self.out_dir is not None:
            os.makedirs(self.out_dir, exist_ok=True)
            if self.ref_file is None:
                write_stm(osp.join(self.out_dir, 'ref.stm'), references, signers)
        metrics: Dict[str, float] = {}
        still_blank = []  # branches that predict no gloss yet, during training
        for branch in BRANCHES:
            present = sum(branch in r for r in results)
            if branch != 'seq' and present < len(results):
                if present:
                    print_log(f'WERMetric: only {present} of {len(results)} samples have '
                              f'{BRANCHES[branch]!r}; wer/{branch} is not reported',
                              logger='current', level=logging.WARNING)
                continue
            hypotheses = {r['sample_id']: r[branch] for r in results}
            times = {r['sample_id']: r[branch + '_times'] for r in results
                     if branch + '_times' in r}
            score = score_corpus(references, hypotheses, self.normalize)
            if score.missing and self.ref_file is not None:
                print_log(f'WERMetric: {len(score.missing)} of {len(references)} samples '
                          f'of {self.ref_file} have no prediction and are scored as '
                          f'[EMPTY], e.g. {score.missing[:3]}',
                          logger='current', level=logging.WARNING)
            print_log(f'WERMetric {branch}: {format_counts(score.totals)}',
                      logger='current')
            problem = diagnose(score, hypotheses)
            if problem and in_training() and not any(hypotheses.values()):
                still_blank.append(branch)
            elif problem:
                print_log(f'WERMetric {branch}: {problem}', logger='current',
                          level=logging.WARNING)
            analysis = analyze(score, signers)
            if self.out_dir is not None:
                self._write_outputs(branch, hypotheses, score, times)
                self._write_analysis(branch, score, analysis, signers, problem)
            metrics.update(self._branch_metrics(branch, score))
            metrics[f'{branch}_ser'] = analysis.ser
        if still_blank:
            print_log(f'WERMetric: no gloss predicted yet ({", ".join(still_blank)} '
                      'branch): the model outputs only blank, as CTC training does in its '
                      'first epochs', logger='current')
        return metrics

    @staticmethod
    def _first_per_sample(results: List[dict]) -> List[dict]:
        kept: Dict[str, dict] = {}
        differing = []
        for result in results:
            first = kept.setdefault(result['sample_id'], result)
            if first is not result and first != result:
                differing.append(result['sample_id'])
        if differing:
            print_log(f'WERMetric: {len(differing)} sample(s) were predicted more than once '
                      f'with different glosses, e.g. {differing[:3]}; the first '
                      'prediction of each is scored', logger='current',
                      level=logging.WARNING)
        return list(kept.values())

    def _references(self, results: List[dict]) -> Dict[str, List[str]]:
        if self.ref_file is None:
            return {r['sample_id']: r['ref'] for r in results}
        if self._stm_references is None:
            self._stm_references = read_stm(self.ref_file)
        return self._stm_references

    def _signers(self, results: List[dict]) -> Dict[str, str]:
        """Signer by sample id: the STM speaker with ``ref_file``, else the samples'."""
        if self.ref_file is not None:
            return read_stm_speakers(self.ref_file)
        return {r['sample_id']: r['signer'] for r in results if 'signer' in r}

    def _write_analysis(self, branch: str, score: CorpusScore, analysis: ErrorAnalysis,
                        signers: Dict[str, str], problem: Optional[str]) -> None:
        write_report_files(
            score, analysis, signers,
            f'WERMetric, branch {branch}, normalisation {self.normalize}, reference '
            f'{self.ref_file or "gt_gloss_text"}',
            markdown=osp.join(self.out_dir, f'report_{branch}.md'),
            json_file=osp.join(self.out_dir, f'errors_{branch}.json'),
            aligned=osp.join(self.out_dir, f'aligned_{branch}.txt'), warning=problem,
            system_name=f'hyp_{branch}.ctm')

    def _write_outputs(self, branch: str, hypotheses: Dict[str, List[str]],
                       score: CorpusScore, times: Dict[str, list]) -> None:
        ctm_path = osp.join(self.out_dir, f'hyp_{branch}.ctm')
        report_path = osp.join(self.out_dir, f'alignment_{branch}.txt')
        write_ctm(ctm_path, hypotheses, times)  # real times where the model aligned
        title = (f'mmsign WERMetric, branch {branch}, normalisation {self.normalize}, '
                 f'reference {self.ref_file or "gt_gloss_text"}')
        with open(report_path, 'w', encoding='utf-8') as f:
            f.write(format_alignment_report(score, title))
        print_log(f'WERMetric {branch}: hypotheses in {ctm_path}, alignments in '
                  f'{report_path}', logger='current')

    @staticmethod
    def _branch_metrics(branch: str, score: CorpusScore) -> Dict[str, float]:
        totals = score.totals
        n = totals.ref_words
        counts = {'sub': totals.substitutions, 'del': totals.deletions,
                  'ins': totals.insertions}
        metrics = {branch: totals.wer}
        for name, count in counts.items():
            metrics[f'{branch}_{name}'] = 100.0 * count / n if n else float('nan')
        for name, count in counts.items():
            metrics[f'{branch}_{name}_count'] = count
        metrics[f'{branch}_ref_words'] = n
        return metrics
