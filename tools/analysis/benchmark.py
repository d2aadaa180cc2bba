"""One benchmark command: speed, memory and cost figures of mmsign, by subcommand.

Usage::

    python tools/analysis/benchmark.py SUBCOMMAND [OPTIONS]
    python tools/analysis/benchmark.py SUBCOMMAND --help

Examples (CPU frames/s and peak memory of one 64-frame video)::

    python tools/analysis/benchmark.py inference configs/adaptsign_phoenix14.py \\
        --frames 64 --device cpu
    python tools/analysis/benchmark.py train configs/adaptsign_phoenix14.py \\
        --frames 64 --device cpu

The subcommands live in ``tools/dev/benchmark/`` (developer probes, not part of the
user's toolbox) and share their timing, memory and report code
(:mod:`mmsign.utils.benchmark`). docs/benchmarks.md gives every figure with its command.
"""
import importlib.util
import os.path as osp
import subprocess
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

HERE = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(osp.dirname(HERE))
IMPLEMENTATIONS = osp.join(REPO_ROOT, 'tools', 'dev', 'benchmark')
PROG = 'tools/analysis/benchmark.py'

#: subcommand -> (module in tools/dev/benchmark, what it measures)
SUBCOMMANDS: Dict[str, Tuple[str, str]] = {
    'train': ('steps', "training steps of a config's recognizer: frames/s, memory, MFU"),
    'inference': ('steps', "evaluation steps of a config's recognizer: frames/s, memory"),
    'onnx': ('runtimes', 'CPU inference: PyTorch vs onnxruntime on the same frames'),
    'video-memory': ('runtimes', 'peak memory of inference_recognizer vs video length'),
    'loading': ('loading', 'data loading pipelines vs a plain cv2.imread loop'),
    'startup': ('startup', 'start-up time of import mmsign and the tools'),
    'wer': ('wer', 'WER scoring: mmsign vs the sclite pipeline'),
    'lm': ('lm', 'gloss LM: perplexity by order, beam search cost'),
    'vit-reference': ('vit_reference', 'a plain frozen ViT-B/16 on the same frames'),
    'gpu': ('gpu.sh', "the GPU runs of docs/benchmarks.md in one go (bash)"),
}


def load(module: str):
    """Import ``tools/dev/benchmark/<module>.py``.

    Args:
        module (str): The file name without ``.py``.

    Returns:
        module: The loaded module.
    """
    path = osp.join(IMPLEMENTATIONS, f'{module}.py')
    spec = importlib.util.spec_from_file_location(f'mmsign_benchmark_{module}', path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def runner(name: str) -> Callable[[List[str]], int]:
    """The function that runs subcommand ``name`` on its arguments.

    Args:
        name (str): A key of :data:`SUBCOMMANDS`.

    Returns:
        callable: ``run(argv) -> exit status``.
    """
    module, _ = SUBCOMMANDS[name]
    prog = f'{PROG} {name}'
    if module.endswith('.sh'):
        script = osp.join(IMPLEMENTATIONS, module)
        return lambda argv: subprocess.call(['bash', script, *argv], cwd=REPO_ROOT)
    if name in ('train', 'inference'):
        mode = 'train' if name == 'train' else 'infer'
        return lambda argv: load(module).main(argv, mode=mode, prog=prog)
    if name in ('onnx', 'video-memory'):
        kind = 'speed' if name == 'onnx' else 'memory'
        return lambda argv: load(module).main(argv, prog=prog, what=kind)
    return lambda argv: status(load(module).main(argv, prog=prog))


def status(returned) -> int:
    """A subcommand's exit status: its ``int``, else 0 (some return their report)."""
    return returned if isinstance(returned, int) else 0


def usage() -> str:
    """The list of subcommands ``--help`` prints."""
    width = max(map(len, SUBCOMMANDS))
    lines = [f'usage: {PROG} SUBCOMMAND [OPTIONS]   ({PROG} SUBCOMMAND --help)', '',
             'subcommands:']
    lines += [f'  {name:<{width}}  {what}' for name, (_, what) in SUBCOMMANDS.items()]
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one subcommand.

    Args:
        argv (list[str], optional): ``SUBCOMMAND [OPTIONS]`` (default: ``sys.argv[1:]``).

    Returns:
        int: The exit status.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help'):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f'{PROG}: error: unknown subcommand {name!r}\n\n{usage()}', file=sys.stderr)
        return 2
    return runner(name)(rest)


if __name__ == '__main__':
    sys.exit(main())
