"""Train a sign language recognizer with the mmengine Runner.

Example:
    python tools/train.py configs/adaptsign_synthetic.py
    bash tools/dist_train.sh configs/adaptsign_phoenix14.py 8

Every option sets a config key (the config dump in the log file shows what ran); the
Runner is built as mmaction2's own tools/train.py builds it.
"""
import argparse
import os
import os.path as osp
import shlex
import sys
from typing import List, Optional

PROG = 'tools/train.py'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line (answers ``--help`` before torch or mmengine is imported).

    Args:
        argv (list[str], optional): Arguments. Defaults to ``sys.argv[1:]``.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(prog=PROG, description='Train a CSLR model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest complete checkpoint in '
        'the work dir when no path is given (a truncated one is skipped with a warning)')
    parser.add_argument(
        '--amp', nargs='?', const='auto', choices=['auto', 'bf16', 'fp16'],
        help='mixed precision in training, validation and testing: bf16 (GPUs that have '
        'it, and the CPU) or fp16 (GPUs, with a dynamic loss scale); no value: bf16 where '
        'supported, else fp16')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate checkpoints during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate with the total batch size')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--diff-rank-seed', action='store_true',
                        help='use a different seed on each rank')
    parser.add_argument('--deterministic', action='store_true',
                        help='make cuDNN and torch algorithms deterministic')
    parser.add_argument(
        '--cfg-options', nargs='+', metavar='KEY=VALUE',
        help='override config entries, e.g. model.backbone.pretrained=openai')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
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
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    # mmengine's set_randomness needs a seed entry (None draws one at random).
    randomness = dict(cfg.get('randomness') or {})
    randomness.setdefault('seed', None)
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.deterministic:
        randomness['deterministic'] = True
    if args.diff_rank_seed:
        randomness['diff_rank_seed'] = True
    cfg.randomness = randomness
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
    return build_runner(build_config(args))


def resume_command(args: argparse.Namespace, work_dir: str) -> str:
    """The command that resumes this run (its own arguments, ``--resume`` last)."""
    kept, argv = [], sys.argv[1:]
    for i, arg in enumerate(argv):
        resume_path = i and argv[i - 1] == '--resume' and arg == args.resume
        if arg != '--resume' and not arg.startswith('--resume=') and not resume_path:
            kept.append(arg)
    if '--work-dir' not in kept:
        kept += ['--work-dir', work_dir]
    return 'python ' + shlex.join([PROG, *kept, '--resume'])


def train(args: argparse.Namespace) -> None:
    """Build the Runner and train; Ctrl-C says where to resume from."""
    from mmsign.cli.command import caused_by_ctrl_c, interrupted_training
    runner = build(args)
    try:
        runner.train()
    except BaseException as e:
        if not caused_by_ctrl_c(e):
            raise
        raise interrupted_training(runner.work_dir,
                                   resume_command(args, runner.work_dir)) from None


def main(argv: Optional[List[str]] = None) -> None:
    """Train; a known failure ends with one line and exit status 1."""
    args = parse_args(argv)
    from mmsign.cli.command import run_cli
    run_cli(lambda: train(args), PROG, debug=args.debug or None)


if __name__ == '__main__':
    main()
