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
    check_data_sources(cfg, ('train_dataloader', 'val_dataloader'), ('val_evaluator',))
    return build_runner(cfg)


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


def shown_path(path: str) -> str:
    """``path`` relative to the working directory when it lies inside it."""
    relative = osp.relpath(path)
    return path if relative.startswith('..') else relative


def next_steps(args: argparse.Namespace, runner) -> str:
    """What to try after training: test the best checkpoint, recognise a dev video and
    plot it, plot the curves; the real paths of this run.

    Args:
        args (argparse.Namespace): From :func:`parse_args`.
        runner (Runner): The runner that trained.

    Returns:
        str: The lines to print.
    """
    python = shown_path(sys.executable)
    checkpoint = runner.message_hub.get_info('best_ckpt')
    if checkpoint is None:
        last = osp.join(runner.work_dir, 'last_checkpoint')
        if not osp.isfile(last):
            return ''
        with open(last, encoding='utf-8') as f:
            checkpoint = f.read().strip()
    checkpoint, config = shown_path(checkpoint), shown_path(args.config)
    lines = ['Next:',
             f'  test the best checkpoint:  {python} tools/test.py {config} {checkpoint} '
             f'--out-dir {shown_path(osp.join(runner.work_dir, "test"))}']
    loop = runner.val_loop  # None with --no-validate
    dataset = getattr(loop.dataloader, 'dataset', None) if loop is not None else None
    video = (dataset.get_data_info(0).get('frame_dir')
             if hasattr(dataset, 'get_data_info') else None)
    if video:
        lines.append(f'  recognise a dev video:    {python} tools/demo/recognize.py {config} '
                     f'{checkpoint} {shown_path(video)} --plot ctc.png')
    lines.append(f'  plot the learning curves: {python} tools/analysis/plot_curves.py '
                 f'{shown_path(runner.work_dir)} --out curves.png')
    return '\n'.join(lines)


def train(args: argparse.Namespace) -> None:
    """Build the Runner and train; Ctrl-C says where to resume from; the end says what
    to try next."""
    from mmengine.dist import is_main_process

    from mmsign.cli.command import caused_by_ctrl_c, interrupted_training
    runner = build(args)
    try:
        runner.train()
    except BaseException as e:
        if not caused_by_ctrl_c(e):
            raise
        raise interrupted_training(runner.work_dir,
                                   resume_command(args, runner.work_dir)) from None
    if is_main_process():
        print(next_steps(args, runner), flush=True)


def main(argv: Optional[List[str]] = None) -> None:
    """Train; a known failure ends with one line and exit status 1."""
    args = parse_args(argv)
    from mmsign.cli.command import run_cli
    run_cli(lambda: train(args), PROG, debug=args.debug or None)


if __name__ == '__main__':
    main()
