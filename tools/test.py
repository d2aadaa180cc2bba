"""Evaluate a checkpoint with the mmengine Runner (WER on the test split).

Example:
    python tools/test.py configs/adaptsign_synthetic.py work_dirs/.../best_wer_seq_epoch_8.pth
    bash tools/dist_test.sh configs/adaptsign_phoenix14.py CHECKPOINT 8
"""
import argparse
import os
import os.path as osp

import mmsign  # noqa: F401  (registers mmsign's modules before the config is built)
from mmsign.utils.runtime import DictAction, apply_common_args, build_runner, load_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a CSLR model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save evaluation logs')
    parser.add_argument('--dump', type=str,
                        help='dump the per-sample predictions to this pickle file')
    parser.add_argument(
        '--show-dir', help='write the hypothesis CTM files and the per-sample '
        'alignment report of the WER metric into this folder')
    parser.add_argument('--amp', nargs='?', const='auto', choices=['auto', 'bf16', 'fp16'],
                        help='run the model under autocast')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries')
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
    cfg.load_from = args.checkpoint
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [
        cfg.test_evaluator]
    if args.show_dir:
        for evaluator in evaluators:
            if evaluator.get('type') == 'WERMetric':
                evaluator['out_dir'] = args.show_dir
    if args.dump:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump must end with .pkl or .pickle, got {args.dump}')
        cfg.test_evaluator = [*evaluators, dict(type='DumpResults', out_file_path=args.dump)]
    runner = build_runner(cfg)
    runner.test()


if __name__ == '__main__':
    main()
