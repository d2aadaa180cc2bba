"""Train a sign language recognizer with the mmengine Runner.

Example:
    python tools/train.py configs/adaptsign_synthetic.py
    bash tools/dist_train.sh configs/adaptsign_phoenix14.py 8
"""
import argparse
import os
import os.path as osp

import mmsign  # noqa: F401  (registers mmsign's modules before the config is built)
from mmsign.engine.resume import CheckpointError
from mmsign.utils.runtime import DictAction, apply_common_args, build_runner, load_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a CSLR model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest complete checkpoint in '
        'the work dir when no path is given (a truncated one is skipped with a warning)')
    parser.add_argument(
        '--amp', nargs='?', const='auto', choices=['auto', 'bf16', 'fp16'],
        help='mixed precision training: bf16 where the GPU supports it, else fp16 '
        '(with a dynamic loss scale)')
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
        '--cfg-options', nargs='+', action=DictAction,
        help='override config entries, e.g. model.backbone.pretrained=openai')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
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
    try:
        runner = build_runner(cfg)
        runner.train()
    except CheckpointError as e:  # a broken or mismatched checkpoint: no traceback needed
        raise SystemExit(f'tools/train.py: error: {e}') from None


if __name__ == '__main__':
    main()
