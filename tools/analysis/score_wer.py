"""Score a hypothesis CTM file against a reference STM file, as the official CSLR pipeline.

Examples::

    python tools/analysis/score_wer.py \\
        --ref tests/data/phoenix2014/phoenix2014-groundtruth-test.stm \\
        --hyp work_dirs/adaptsign_phoenix14/hyp_seq.ctm --normalize phoenix2014
    python tools/analysis/score_wer.py --ref REF.stm --hyp HYP.ctm --json --sclite

The CTM may come from any system (one gloss per line, raw glosses as the model wrote
them; the released AdaptSign code writes ``output-hypothesis-{dev,test}.ctm`` this way).
``--sclite`` also runs the real sclite (Debian package ``sctk``) on the normalised,
``[EMPTY]``-filled hypotheses and reports both; the exit status is 1 if they disagree.
"""
import argparse
import importlib
import importlib.util
import json
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import types
from typing import Dict, List, Optional

#: mmsign.evaluation's modules that score a CTM file: the standard library only.
PURE_MODULES = ('alignment', 'normalization', 'sclite_io', 'scoring', 'error_analysis',
                'error_report')


def load_scoring_modules() -> types.SimpleNamespace:
    """mmsign's pure-Python WER modules, without ``import mmsign`` unless it is loaded.

    ``import mmsign`` registers every module (torch, mmengine, mmaction2: seconds of
    start-up); scoring needs none of it. The modules of ``mmsign/evaluation/`` are
    loaded under a package of their own, which does not run the ``__init__`` files.
    """
    if 'mmsign' in sys.modules:
        package = 'mmsign.evaluation'
    else:
        spec = importlib.util.find_spec('mmsign')
        if spec is None or not spec.submodule_search_locations:
            raise ImportError('mmsign is not installed: pip install -e . in the checkout')
        package = 'mmsign_pure_evaluation'
        if package not in sys.modules:
            module = types.ModuleType(package)
            module.__path__ = [osp.join(spec.submodule_search_locations[0], 'evaluation')]
            sys.modules[package] = module
    return types.SimpleNamespace(**{
        name: importlib.import_module(f'{package}.{name}') for name in PURE_MODULES})


_wer = load_scoring_modules()
NORMALIZATIONS = _wer.normalization.NORMALIZATIONS
ErrorCounts = _wer.alignment.ErrorCounts
TranscriptFormatError = _wer.sclite_io.TranscriptFormatError
read_ctm, read_stm = _wer.sclite_io.read_ctm, _wer.sclite_io.read_stm
CorpusScore, score_corpus = _wer.scoring.CorpusScore, _wer.scoring.score_corpus
format_counts = _wer.scoring.format_counts
parse_sclite_dtl = _wer.sclite_io.parse_sclite_dtl
analyze, diagnose = _wer.error_analysis.analyze, _wer.error_analysis.diagnose
read_stm_speakers = _wer.error_analysis.read_stm_speakers
write_report_files = _wer.error_report.write_report_files

_SCLITE_CANDIDATES = ('sclite', '/usr/lib/sctk/bin/sclite')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Word error rate of a CTM file against an STM file, with the '
        'official CSLR normalisation and sclite alignment (no sclite needed).')
    parser.add_argument('--ref', required=True, help='reference STM file')
    parser.add_argument('--hyp', required=True, help='hypothesis CTM file')
    parser.add_argument('--normalize', default='none', choices=sorted(NORMALIZATIONS),
                        help='hypothesis normalisation: phoenix2014 for PHOENIX14 and '
                        'PHOENIX14-T, none for CSL-Daily, CSL and others (default: none)')
    parser.add_argument('--json', action='store_true',
                        help='print one JSON line (wer in percent, unrounded)')
    parser.add_argument('--sclite', nargs='?', const='', default=None, metavar='BINARY',
                        help='also score with the real sclite (found on PATH or in '
                        '/usr/lib/sctk/bin unless BINARY is given) and report both')
    parser.add_argument('--report', metavar='FILE.md',
                        help='write a readable error report (SER, top substitutions / '
                        'deletions / insertions, per-gloss errors, WER by length and by '
                        'signer) to FILE.md, the same as JSON to FILE.json, and the '
                        'alignments to aligned.txt next to it (unless --aligned is given)')
    parser.add_argument('--aligned', metavar='FILE',
                        help="write each sample's alignment as sclite's -o pra prints it")
    parser.add_argument('--plot', metavar='FILE.png',
                        help='bar chart of the most frequent errors (needs matplotlib)')
    parser.add_argument('--top', type=int, default=10,
                        help='rows of the most-frequent tables and bars (default: 10)')
    return parser.parse_args(argv)


def find_sclite(binary: str) -> str:
    """Locate sclite: ``binary`` if given, else on PATH or where Debian installs it.

    Raises:
        FileNotFoundError: If there is no executable sclite.
    """
    for candidate in ([binary] if binary else _SCLITE_CANDIDATES):
        path = shutil.which(candidate)
        if path:
            return path
    raise FileNotFoundError(
        f'sclite not found ({binary or " or ".join(_SCLITE_CANDIDATES)}): install it '
        'with `apt-get install sctk` or pass its path to --sclite')


def score_with_sclite(sclite: str, ref_path: str, score: CorpusScore) -> ErrorCounts:
    """Run sclite on the hypotheses exactly as mmsign scored them.

    The CTM holds each sample's normalised hypothesis (``[EMPTY]`` where there was
    none), in the order of the reference file, which sclite requires.

    Args:
        sclite (str): sclite binary.
        ref_path (str): Reference STM file, given to sclite unchanged.
        score (CorpusScore): mmsign's result, for the hypotheses.

    Returns:
        ErrorCounts: sclite's totals.
    """
    with tempfile.TemporaryDirectory(prefix='mmsign_sclite_') as tmp:
        ctm_path = osp.join(tmp, 'hyp.ctm')
        with open(ctm_path, 'w', encoding='utf-8') as f:
            for sample in score.samples:
                f.writelines(f'{sample.sample_id} 1 {i / 100:.2f} 0.01 {word}\n'
                             for i, word in enumerate(sample.hyp))
        cmd = [sclite, '-h', ctm_path, 'ctm', '-r', ref_path, 'stm', '-f', '0', '-o', 'dtl',
               '-O', tmp]
        done = subprocess.run(cmd, capture_output=True, text=True)
        dtl_path = ctm_path + '.dtl'
        if done.returncode != 0 or not osp.isfile(dtl_path):
            raise RuntimeError(f'sclite failed ({" ".join(cmd)}): {done.stderr.strip()}')
        with open(dtl_path, encoding='utf-8', errors='replace') as f:
            return parse_sclite_dtl(f.read())


def counts_dict(counts: ErrorCounts) -> Dict[str, float]:
    """The JSON fields of a set of counts."""
    return {'wer': counts.wer, 'sub': counts.substitutions, 'del': counts.deletions,
            'ins': counts.insertions, 'errors': counts.errors,
            'ref_words': counts.ref_words}


def main(argv: Optional[List[str]] = None) -> int:
    """Score and print; returns the exit status."""
    args = parse_args(argv)
    try:
        references = read_stm(args.ref)
        hypotheses = read_ctm(args.hyp)
        score = score_corpus(references, hypotheses, args.normalize)
    except (OSError, TranscriptFormatError, ValueError) as err:
        print(f'score_wer: error: {err}', file=sys.stderr)
        return 2
    problem = diagnose(score, hypotheses)
    if problem:
        print(f'score_wer: warning: {problem}', file=sys.stderr)
    signers = read_stm_speakers(args.ref)
    analysis = analyze(score, signers)
    report_dir = osp.dirname(osp.abspath(args.report or '.'))
    write_report_files(
        score, analysis, signers,
        f'{args.hyp} against {args.ref}, normalisation {args.normalize}',
        markdown=args.report,
        json_file=args.report and osp.splitext(args.report)[0] + '.json',
        aligned=args.aligned or (args.report and osp.join(report_dir, 'aligned.txt')),
        plot=args.plot, top=args.top, warning=problem, system_name=osp.basename(args.hyp))

    result = counts_dict(score.totals)
    result.update(ser=analysis.ser, samples=len(score.samples),
                  samples_without_hypothesis=len(score.missing), normalize=args.normalize,
                  warning=problem)
    sclite_counts = None
    if args.sclite is not None:
        try:
            sclite_counts = score_with_sclite(find_sclite(args.sclite), args.ref, score)
        except (FileNotFoundError, RuntimeError, TranscriptFormatError) as err:
            print(f'score_wer: error: {err}', file=sys.stderr)
            return 2
        result['sclite'] = counts_dict(sclite_counts)
        result['sclite_match'] = sclite_counts == score.totals

    if args.json:
        print(json.dumps(result))
    else:
        print(f'mmsign: {format_counts(score.totals)}; {len(score.samples)} samples, '
              f'{len(score.missing)} without hypothesis (scored as [EMPTY])')
        if sclite_counts is not None:
            verdict = 'same counts' if result['sclite_match'] else 'COUNTS DIFFER'
            print(f'sclite: {format_counts(sclite_counts)}; {verdict}')
    return 1 if sclite_counts is not None and not result['sclite_match'] else 0


if __name__ == '__main__':
    sys.exit(main())
