"""The official CSLR scoring pipeline with the real sclite: the oracle of the WER tests.

Independent of mmsign's code on purpose: the PHOENIX normalisation runs as the released
``sed``/``grep``/``awk`` commands on whole CTM lines, the files are sorted with ``sort``
and samples without hypothesis get an ``[EMPTY]`` line as ``mergectmstm.py`` does, then
``sclite -f 0`` scores them.
"""
import os
import os.path as osp
import re
import shutil
import subprocess
from typing import Dict, List, NamedTuple, Sequence, Tuple

import pytest


def find_sclite():
    """Path of the sclite binary, or None."""
    for candidate in (shutil.which('sclite'), '/usr/lib/sctk/bin/sclite'):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


SCLITE = find_sclite()

requires_sclite = pytest.mark.skipif(
    SCLITE is None,
    reason='sclite (the WER oracle) is not installed: `apt-get install sctk` on '
    'Debian/Ubuntu, or `make sclite`')

# preprocess.sh of the PHOENIX release, restricted to the rules that can fire on a CTM
# line (one gloss per line), in the script's order.
PHOENIX_SED = [
    's,loc-,,g', 's,cl-,,g', 's,qu-,,g', 's,poss-,,g', 's,lh-,,g', 's,S0NNE,SONNE,g',
    's,HABEN2,HABEN,g', 's,__EMOTION__,,g', 's,__PU__,,g', 's,__LEFTHAND__,,g',
    's,ZEIGEN$,ZEIGEN-BILDSCHIRM,', r's,\([A-Z][A-Z]\)RAUM,\1,g', 's,-PLUSPLUS,,g'
]
PHOENIX_DROP = ['__LEFTHAND__', '__EPENTHESIS__', '__EMOTION__']

_C_LOCALE = dict(os.environ, LC_ALL='C')


class SampleCounts(NamedTuple):
    """sclite's counts for one sample."""

    correct: int
    sub: int
    dele: int
    ins: int


class OracleResult(NamedTuple):
    """Per-sample counts and set totals (S, D, I, N) from sclite."""

    samples: Dict[str, SampleCounts]
    sub: int
    dele: int
    ins: int
    ref_words: int


def _run(cmd: List[str], stdin_path: str, stdout_path: str) -> None:
    with open(stdin_path, 'rb') as fin, open(stdout_path, 'wb') as fout:
        subprocess.run(cmd, stdin=fin, stdout=fout, check=True, env=_C_LOCALE)


def _parse_pra(path: str) -> Dict[str, SampleCounts]:
    with open(path, encoding='utf-8', errors='replace') as f:
        text = f.read()
    found = re.findall(
        r'^File: (\S+)\nChannel: \S+\nScores: \(#C #S #D #I\) (\d+) (\d+) (\d+) (\d+)$',
        text, re.M)
    return {file_id: SampleCounts(*map(int, counts)) for file_id, *counts in found}


def run_sclite(ref_stm: str, hyp_ctm: str, out_dir: str) -> OracleResult:
    """Run ``sclite -h hyp_ctm ctm -r ref_stm stm -f 0`` and read its per-sample counts."""
    subprocess.run([SCLITE, '-h', hyp_ctm, 'ctm', '-r', ref_stm, 'stm', '-f', '0', '-o',
                    'pra', '-O', out_dir], check=True, capture_output=True)
    samples = _parse_pra(osp.join(out_dir, osp.basename(hyp_ctm) + '.pra'))
    return OracleResult(samples, sum(s.sub for s in samples.values()),
                        sum(s.dele for s in samples.values()),
                        sum(s.ins for s in samples.values()),
                        sum(s.correct + s.sub + s.dele for s in samples.values()))


def official_pipeline(ref_stm: str, raw_ctm: str, work_dir: str,
                      phoenix: bool) -> OracleResult:
    """Score a raw hypothesis CTM as the released evaluation scripts do.

    Args:
        ref_stm (str): Reference STM.
        raw_ctm (str): Hypothesis CTM as written by the model code.
        work_dir (str): Scratch folder.
        phoenix (bool): Apply the PHOENIX normalisation.

    Returns:
        OracleResult: sclite's counts.
    """
    normalised = osp.join(work_dir, 'normalised.ctm')
    if phoenix:
        sed_out = osp.join(work_dir, 'sed.ctm')
        cmd = ['sed']
        for expression in PHOENIX_SED:
            cmd += ['-e', expression]
        _run(cmd, raw_ctm, sed_out)
        grep_out = osp.join(work_dir, 'grep.ctm')
        cmd = ['grep', '-v']
        for token in PHOENIX_DROP:
            cmd += ['-e', token]
        with open(sed_out, 'rb') as fin, open(grep_out, 'wb') as fout:
            # grep exits with 1 when no line is left, a valid outcome here.
            status = subprocess.run(cmd, stdin=fin, stdout=fout, env=_C_LOCALE).returncode
        assert status in (0, 1), f'grep failed with status {status}'
        source = grep_out
    else:
        source = raw_ctm
    # awk '{if ($5!="") print $0}': a line whose gloss was deleted entirely goes.
    with open(source, encoding='utf-8') as f:
        kept = [line for line in f if len(line.split()) >= 5]
    with open(normalised, 'w', encoding='utf-8') as f:
        f.writelines(kept)

    sorted_ctm = osp.join(work_dir, 'sorted.ctm')
    _run(['sort', '-k1,1', '-k3,3'], normalised, sorted_ctm)
    sorted_stm = osp.join(work_dir, 'ref.stm')
    _run(['sort', '-k1,1'], ref_stm, sorted_stm)

    # mergectmstm.py: every STM sample without CTM line gets "[EMPTY]".
    by_id: Dict[str, List[str]] = {}
    with open(sorted_ctm, encoding='utf-8') as f:
        for line in f:
            by_id.setdefault(line.split()[0], []).append(line)
    merged = osp.join(work_dir, 'merged.ctm')
    stm_ids = []
    with open(sorted_stm, encoding='utf-8') as f, open(merged, 'w', encoding='utf-8') as out:
        for line in f:
            stm_ids.append(line.split()[0])
            out.writelines(by_id.get(stm_ids[-1], [f'{stm_ids[-1]} 1 0.000 0.030 [EMPTY]\n']))
    result = run_sclite(sorted_stm, merged, work_dir)
    # sclite reports file ids in lower case.
    original = {sample_id.lower(): sample_id for sample_id in stm_ids}
    return result._replace(samples={original[k]: v for k, v in result.samples.items()})


def score_pairs_with_sclite(pairs: Sequence[Tuple[Sequence[str], Sequence[str]]],
                            work_dir: str) -> List[Tuple[str, SampleCounts]]:
    """Align many (ref, hyp) word lists in one sclite run, without normalisation.

    Args:
        pairs: Non-empty hypotheses and their references.
        work_dir (str): Scratch folder.

    Returns:
        list[tuple[str, SampleCounts]]: sclite's alignment ops (``'C'``, ``'S'``,
        ``'D'``, ``'I'`` from first to last column) and counts, per pair.
    """
    ids = [f'u{i:06d}' for i in range(len(pairs))]
    stm, ctm = osp.join(work_dir, 'pairs.stm'), osp.join(work_dir, 'pairs.ctm')
    with open(stm, 'w', encoding='utf-8') as fs, open(ctm, 'w', encoding='utf-8') as fc:
        for sample_id, (ref, hyp) in zip(ids, pairs):
            fs.write(f'{sample_id} 1 s 0.0 1.79769e+308 {" ".join(ref)}\n')
            fc.writelines(f'{sample_id} 1 {k / 100:.2f} 0.01 {w}\n' for k, w in enumerate(hyp))
    subprocess.run([SCLITE, '-h', ctm, 'ctm', '-r', stm, 'stm', '-f', '0', '-o', 'sgml',
                    'pra', '-O', work_dir], check=True, capture_output=True)
    with open(ctm + '.sgml', encoding='utf-8') as f:
        sgml = f.read()
    ops = {}
    for file_id, body in re.findall(r'<PATH [^>]*file="([^"]+)"[^>]*>\n(.*?)</PATH>',
                                    sgml, re.S):
        ops[file_id] = ''.join(column[0] for column in body.strip().split(':') if column)
    counts = _parse_pra(ctm + '.pra')
    return [(ops[i], counts[i]) for i in ids]
