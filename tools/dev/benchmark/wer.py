"""Time mmsign's WER against the sclite pipeline on a PHOENIX14 split.

Example::

    python tools/analysis/benchmark.py wer --repeats 20 [--split dev]

A simulated system output (fixed seed, about 25 % WER, raw training glosses such as
``loc-NORD`` and ``__EPENTHESIS__`` included) is scored three ways:

* ``mmsign, in memory``: :func:`mmsign.evaluation.score_corpus` on hypotheses already in
  memory, which is what ``WERMetric`` does after each validation;
* ``mmsign, from files``: reading the STM and CTM files, then scoring (what
  ``tools/analysis/score_wer.py`` does once Python is running);
* ``score_wer.py command``: ``tools/analysis/score_wer.py`` as a fresh process, start-up
  included, which is what a user running the command waits for;
* ``sclite pipeline``: the official steps as shell commands (``sed`` normalisation,
  ``sort``, ``[EMPTY]`` filling with ``awk``, ``sclite -f 0``). The released scripts fill
  ``[EMPTY]`` with a Python script, which adds an interpreter start, so this is a lower
  bound on their time. ``sclite alone`` is the last step by itself.

Each figure is the median of ``--repeats`` runs; the counts of all ways must agree.
"""
import argparse
import json
import os.path as osp
import random
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

from mmsign.evaluation import (
    ErrorCounts,
    get_normalization,
    parse_sclite_dtl,
    read_ctm,
    read_stm,
    score_corpus,
    write_ctm,
)
from mmsign.utils.benchmark import median_seconds

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

# preprocess.sh of the PHOENIX release, the rules that fire on one gloss per line.
SED_RULES = [
    's,loc-,,g', 's,cl-,,g', 's,qu-,,g', 's,poss-,,g', 's,lh-,,g', 's,S0NNE,SONNE,g',
    's,HABEN2,HABEN,g', 's,__EMOTION__,,g', 's,__PU__,,g', 's,__LEFTHAND__,,g',
    's,ZEIGEN$,ZEIGEN-BILDSCHIRM,', r's,\([A-Z][A-Z]\)RAUM,\1,g', 's,-PLUSPLUS,,g'
]

PIPELINE = r"""
set -euo pipefail
cd "$1"
LC_ALL=C sed {sed} hyp.ctm \
  | {{ grep -v -e __LEFTHAND__ -e __EPENTHESIS__ -e __EMOTION__ || true; }} \
  | awk '$5 != ""' > normalised.ctm
LC_ALL=C sort -k1,1 ref.stm > ref.sorted.stm
awk 'NR == FNR {{ seen[$1] = 1; next }} !($1 in seen) {{ print $1 " 1 0.000 0.030 [EMPTY]" }}' \
  normalised.ctm ref.sorted.stm | cat normalised.ctm - | LC_ALL=C sort -k1,1 -k3,3 > merged.ctm
"$2" -h merged.ctm ctm -r ref.sorted.stm stm -f 0 -o dtl -O . > /dev/null
"""


def parse_args(argv=None, prog=None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split('\n\n')[0])
    parser.add_argument('--data-root', default=osp.join(REPO_ROOT, 'tests', 'data'),
                        help='folder with phoenix2014/phoenix2014-groundtruth-test.stm')
    parser.add_argument('--split', default='test', choices=['dev', 'test'],
                        help='PHOENIX14 split to score (default: test)')
    parser.add_argument('--repeats', type=int, default=20, help='runs per method')
    parser.add_argument('--sclite', default=None, help='sclite binary (default: on PATH '
                        'or /usr/lib/sctk/bin/sclite)')
    parser.add_argument('--json', action='store_true', help='print one JSON line')
    return parser.parse_args(argv)


def simulated_hypotheses(references: Dict[str, List[str]], vocabulary: List[str],
                         seed: int = 0) -> Dict[str, List[str]]:
    """A plausible system output: substitutions, deletions, insertions and raw forms."""
    rng = random.Random(seed)
    hypotheses = {}
    for sample_id, words in references.items():
        hyp = []
        for word in words:
            roll = rng.random()
            if roll < 0.08:
                continue
            hyp.append(rng.choice(vocabulary) if roll < 0.18 else
                       rng.choice(['{}', '{}', '{}', 'loc-{}', '{}-PLUSPLUS']).format(word))
            if rng.random() < 0.05:
                hyp.append(rng.choice(vocabulary + ['__EPENTHESIS__', '__EMOTION__']))
        hypotheses[sample_id] = hyp
    return hypotheses


def sclite_counts(dtl_path: str) -> ErrorCounts:
    """Read S, D, I and N from sclite's dtl report."""
    with open(dtl_path, encoding='utf-8', errors='replace') as f:
        return parse_sclite_dtl(f.read())


def main(argv=None, prog=None) -> int:
    """Run the benchmark and print the figures."""
    args = parse_args(argv, prog)
    sclite = shutil.which(args.sclite or 'sclite') or shutil.which('/usr/lib/sctk/bin/sclite')
    if sclite is None:
        print('benchmark.py wer: sclite not found: apt-get install sctk or pass --sclite',
              file=sys.stderr)
        return 2
    ref_path = osp.join(args.data_root, 'phoenix2014',
                        f'phoenix2014-groundtruth-{args.split}.stm')
    with open(osp.join(args.data_root, 'phoenix2014', 'gloss_vocab.json'),
              encoding='utf-8') as f:
        vocabulary = json.load(f)['glosses']
    references = read_stm(ref_path)
    hypotheses = simulated_hypotheses(references, vocabulary)

    with tempfile.TemporaryDirectory(prefix='mmsign_wer_bench_') as tmp:
        ctm_path = osp.join(tmp, 'hyp.ctm')
        write_ctm(ctm_path, hypotheses)
        shutil.copyfile(ref_path, osp.join(tmp, 'ref.stm'))
        script = osp.join(tmp, 'pipeline.sh')
        with open(script, 'w', encoding='utf-8') as f:
            f.write(PIPELINE.format(sed=' '.join(f"-e '{rule}'" for rule in SED_RULES)))

        def pipeline() -> None:
            subprocess.run(['bash', script, tmp, sclite], check=True)

        def sclite_alone() -> None:
            subprocess.run([sclite, '-h', 'merged.ctm', 'ctm', '-r', 'ref.sorted.stm', 'stm',
                            '-f', '0', '-o', 'dtl', '-O', '.'], cwd=tmp, check=True,
                           stdout=subprocess.DEVNULL)

        def from_files() -> ErrorCounts:
            return score_corpus(read_stm(ref_path), read_ctm(ctm_path), 'phoenix2014').totals

        command = [sys.executable, osp.join(REPO_ROOT, 'tools', 'analysis', 'score_wer.py'),
                   '--ref', ref_path, '--hyp', ctm_path, '--normalize', 'phoenix2014',
                   '--json']

        def score_wer_command() -> ErrorCounts:
            out = json.loads(subprocess.run(command, check=True, capture_output=True,
                                            text=True).stdout)
            return ErrorCounts(out['sub'], out['del'], out['ins'], out['ref_words'])

        def in_memory() -> ErrorCounts:
            return score_corpus(references, hypotheses, 'phoenix2014').totals

        get_normalization('phoenix2014')._cached_apply_one.cache_clear()
        start = time.perf_counter()
        mine = in_memory()
        cold = time.perf_counter() - start
        pipeline()
        official = sclite_counts(osp.join(tmp, 'merged.ctm.dtl'))
        if not mine == from_files() == official == score_wer_command():
            print(f'benchmark.py wer: counts differ: mmsign {mine}, sclite {official}',
                  file=sys.stderr)
            return 1
        seconds = {
            'mmsign_in_memory': median_seconds(in_memory, args.repeats),
            'mmsign_in_memory_cold': cold,
            'mmsign_from_files': median_seconds(from_files, args.repeats),
            'score_wer_command': median_seconds(score_wer_command, args.repeats),
            'sclite_pipeline': median_seconds(pipeline, args.repeats),
            'sclite_alone': median_seconds(sclite_alone, args.repeats),
        }

    result = {'samples': len(references), 'ref_words': mine.ref_words, 'wer': mine.wer,
              'errors': mine.errors, 'repeats': args.repeats,
              'ms': {k: round(v * 1000, 2) for k, v in seconds.items()},
              'speedup_vs_pipeline': {
                  'in_memory': seconds['sclite_pipeline'] / seconds['mmsign_in_memory'],
                  'from_files': seconds['sclite_pipeline'] / seconds['mmsign_from_files'],
                  'command': seconds['sclite_pipeline'] / seconds['score_wer_command']}}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f'PHOENIX14 {args.split}: {len(references)} samples, {mine.ref_words} reference words, '
          f'WER {mine.wer:.2f}% (same counts from mmsign and sclite)')
    print(f'median of {args.repeats} runs:')
    for name, value in seconds.items():
        print(f'  {name:24s} {value * 1000:8.2f} ms')
    for name, value in result['speedup_vs_pipeline'].items():
        print(f'  speed-up {name:15s} {value:8.1f}x')
    return 0

