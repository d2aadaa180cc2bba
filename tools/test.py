"""Evaluate a checkpoint with the mmengine Runner (WER on the test split).

Example:
    python tools/test.py configs/adaptsign_synthetic.py work_dirs/.../best_wer_seq_epoch_8.pth \
        --out-dir work_dirs/test_out
    bash tools/dist_test.sh configs/adaptsign_phoenix14.py CHECKPOINT 8

Every option sets a config key (the config dump in the log file shows what ran); the
Runner is built as mmaction2's own tools/test.py builds it.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

PROG = 'tools/test.py'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line (answers ``--help`` before torch or mmengine is imported).

    Args:
        argv (list[str], optional): Arguments. Defaults to ``sys.argv[1:]``.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(prog=PROG, description='Test (and evaluate) a CSLR model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save evaluation logs')
    parser.add_argument('--dump', type=str,
                        help='dump the per-sample predictions to this pickle file')
    parser.add_argument(
        '--out-dir', '--show-dir', dest='out_dir', metavar='DIR',
        help='write what the WER metric scored into DIR: the hypotheses (hyp_<branch>.ctm), '
        'the references (ref.stm, unless the config names a reference STM), the per-sample '
        'errors (errors_<branch>.json, report_<branch>.md) and alignments')
    parser.add_argument('--amp', nargs='?', const='auto', choices=['auto', 'bf16', 'fp16'],
                        help='run the model under autocast: bf16 (GPUs that have it, and '
                        'the CPU) or fp16 (GPUs); no value: bf16 where supported')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='override config entries')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--verbose', action='store_true',
                        help='print the config dump and the hook table on the terminal '
                        'too (they are always in the log file)')
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of a failure (or set MMSIGN_DEBUG=1)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args: argparse.Namespace):
    """The config the command line asks for.

    Args:
        args (argparse.Namespace): From :func:`parse_args`.

    Returns:
        Config: The config the Runner is built from.
    """
    from mmsign.cli.runtime import apply_common_args, load_config, parse_cfg_options
    cfg = load_config(args.config, parse_cfg_options(args.cfg_options))
    apply_common_args(cfg, args, default_work_dir=osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0]))
    cfg.load_from = args.checkpoint
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [
        cfg.test_evaluator]
    if args.out_dir:
        wer_metrics = [e for e in evaluators if e.get('type') == 'WERMetric']
        if not wer_metrics:
            raise ValueError('--out-dir: the config\'s test_evaluator has no WERMetric to '
                             'write the hypotheses and errors')
        cfg.model.timestamps = True  # the CTM files carry the glosses' aligned times
        for evaluator in wer_metrics:
            evaluator['out_dir'] = args.out_dir
    if args.dump:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump must end with .pkl or .pickle, got {args.dump}')
        cfg.test_evaluator = [*evaluators, dict(type='DumpResults', out_file_path=args.dump)]
    if args.verbose:
        cfg.verbose_terminal = True
    return cfg


def build(args: argparse.Namespace):
    """The Runner of the command line, not yet started.

    Args:
        args (argparse.Namespace): From :func:`parse_args`.

    Returns:
        Runner: The runner.
    """
    import mmsign  # noqa: F401  (registers mmsign's modules before the config is built)
    from mmsign.cli.runtime import build_runner
    from mmsign.datasets.preflight import check_data_sources
    cfg = build_config(args)
    # A missing data root or annotation file is reported before the model is built.
    check_data_sources(cfg, ('test_dataloader',), ('test_evaluator',))
    return build_runner(cfg)


def main(argv: Optional[List[str]] = None) -> None:
    """Test; a known failure ends with one line and exit status 1."""
    args = parse_args(argv)
    from mmsign.cli.command import run_cli
    run_cli(lambda: build(args).test(), PROG, debug=args.debug or None)


if __name__ == '__main__':
    main()
