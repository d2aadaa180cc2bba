"""Start-up time of mmsign's commands: median wall time of fresh processes.

Example (today's checkout against an older one, side by side in one run)::

    git worktree add /tmp/mmsign_before <older commit>
    python tools/analysis/benchmark.py startup --runs 5 --checkout . /tmp/mmsign_before

For each checkout (put first on ``PYTHONPATH``, so its ``mmsign`` is the one imported):
``python -c "import mmsign"`` and ``python tools/analysis/score_wer.py --help``, each run
``--runs`` times in turn with the others (so a change in the machine's load touches all
alike); the median is printed. Run it on a quiet machine: the figures are wall times.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

COMMANDS = {
    'import mmsign': ['-c', 'import mmsign'],
    'score_wer.py --help': [osp.join('tools', 'analysis', 'score_wer.py'), '--help'],
}


def parse_args(argv: Sequence[str] = None,
               prog: Optional[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split('\n\n')[0])
    parser.add_argument('--checkout', nargs='+', default=['.'],
                        help='repository checkouts to compare (default: this one)')
    parser.add_argument('--runs', type=int, default=5, help='fresh processes per command')
    parser.add_argument('--json', action='store_true', help='print one JSON line')
    return parser.parse_args(argv)


def wall_time(checkout: str, args: List[str]) -> float:
    """Seconds one fresh ``python ARGS`` takes with ``checkout`` first on the path."""
    env = dict(os.environ, PYTHONPATH=checkout)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=checkout, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: Sequence[str] = None, prog: Optional[str] = None) -> int:
    args = parse_args(argv, prog)
    checkouts = [osp.abspath(path) for path in args.checkout]
    times: Dict[str, Dict[str, List[float]]] = {
        path: {name: [] for name in COMMANDS} for path in checkouts}
    for _ in range(args.runs):
        for path in checkouts:
            for name, command in COMMANDS.items():
                times[path][name].append(wall_time(path, command))
    medians = {path: {name: statistics.median(values) for name, values in row.items()}
               for path, row in times.items()}
    if args.json:
        print(json.dumps({'runs': args.runs, 'median_s': medians}))
        return 0
    print(f'median of {args.runs} fresh processes, seconds')
    print('| checkout | ' + ' | '.join(COMMANDS) + ' |')
    print('|---|' + '---:|' * len(COMMANDS))
    for path, row in medians.items():
        print(f'| {path} | ' + ' | '.join(f'{row[name]:.2f}' for name in COMMANDS) + ' |')
    return 0

