"""Convert a checkpoint of a model's released code into an mmsign checkpoint.

The model is told apart by the checkpoint's keys (each model's rules are registered in
mmsign/models/converters/); --model forces one. Examples:
    python tools/model_converters/released_to_mmsign.py \
        phoenix2014_adaptsign.pt work_dirs/adaptsign_phoenix14_released.pth \
        --vocab data/phoenix2014/phoenix-2014-multisigner/gloss_vocab.json \
        --dataset phoenix2014
    python tools/test.py configs/adaptsign_phoenix14.py \
        work_dirs/adaptsign_phoenix14_released.pth --cfg-options model.padding_mode=frames
    python tools/model_converters/released_to_mmsign.py \
        dev_18.90_PHOENIX14.pt work_dirs/corrnet_phoenix14_released.pth \
        --config configs/corrnet_phoenix14.py
    python tools/model_converters/released_to_mmsign.py --list

The released file's optimiser, scheduler and RNG states are dropped; the output holds
every weight of the model and, in its meta, the vocabulary in class order and the config
options that reproduce the released model's outputs. See docs/model_zoo.md.
"""
import argparse
import os.path as osp
import sys
from typing import Optional

from mmaction.registry import DATASETS

from mmsign.cli.runtime import load_config
from mmsign.models.converters import (
    RELEASED_NUM_CLASSES,
    OfficialCheckpointError,
    convert_released_checkpoint,
    released_layouts,
)


def parse_args(argv=None) -> argparse.Namespace:
    layouts = released_layouts()
    parser = argparse.ArgumentParser(
        description='Convert a checkpoint of a released CSLR model (a model_state_dict of '
        f'{", ".join(sorted(layouts))}) into an mmsign checkpoint')
    parser.add_argument('src', nargs='?', help='released checkpoint (.pt)')
    parser.add_argument('dst', nargs='?', help='mmsign checkpoint to write (.pth)')
    parser.add_argument('--list', action='store_true',
                        help='list the released models this tool converts and exit')
    parser.add_argument('--vocab', help='gloss_vocab.json of the dataset the checkpoint was '
                        'trained on (class count and order are checked; stored in the meta)')
    parser.add_argument('--dataset', choices=sorted(RELEASED_NUM_CLASSES),
                        help='the dataset the checkpoint was trained on (class count checked)')
    parser.add_argument('--config', help='a recipe whose model the weights must fit exactly '
                        '(default: the architecture read from the checkpoint); its dataset is '
                        'checked against the class count, and its vocabulary file is used '
                        'when --vocab is not given and the file exists')
    parser.add_argument('--model', choices=['auto', *sorted(layouts)], default='auto',
                        help='the released model (default: told apart by the keys)')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='unpickle the file fully (weights_only=False): only for files '
                        'from a source you trust that safe loading refuses')
    parser.add_argument('--allow-mismatch', action='store_true',
                        help='convert although the vocabulary or dataset disagrees with the '
                        'checkpoint')
    args = parser.parse_args(argv)
    if not args.list and (args.src is None or args.dst is None):
        parser.error('give SRC and DST (or --list)')
    return args


def config_dataset(cfg) -> Optional[str]:
    """The released dataset a config's test loader reads (None for other datasets)."""
    dataset_type = cfg.get('test_dataloader', {}).get('dataset', {}).get('type')
    dataset_cls = DATASETS.get(dataset_type) if dataset_type else None
    name = getattr(dataset_cls, 'DATASET_NAME', None)
    return name if name in RELEASED_NUM_CLASSES else None


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        for name, layout in sorted(released_layouts().items()):
            print(f'{name:14s} {layout.description}')
        return 0
    model_cfg, vocab, dataset = None, args.vocab, args.dataset
    if args.config:
        cfg = load_config(args.config)
        model_cfg = cfg.model.to_dict()
        config_vocab = model_cfg.get('vocab')
        if vocab is None and isinstance(config_vocab, str) and osp.isfile(config_vocab):
            vocab = config_vocab
            print(f'vocabulary from the config: {vocab}')
        if dataset is None:
            dataset = config_dataset(cfg)
    try:
        # The file is read once: the conversion tells the model from its keys.
        meta = convert_released_checkpoint(
            args.src, args.dst, model=args.model, vocab=vocab, dataset=dataset,
            model_cfg=model_cfg, unsafe_load=args.unsafe_load,
            allow_mismatch=args.allow_mismatch)
    except (OfficialCheckpointError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    if args.model == 'auto':
        print(f'detected: {meta["model"]} ({released_layouts()[meta["model"]].description})')
    if meta['dropped_keys']:
        print(f'dropped {len(meta["dropped_keys"])} released tensors the model never uses: '
              f'{", ".join(meta["dropped_keys"])}')
    if meta['vocab'] is None:
        print('note: no vocabulary stored; give the model one at test time (the recipe\'s '
              'model.vocab) or convert again with --vocab')
    for problem in meta['vocab_problems']:
        print(f'warning: {problem}')
    print(f'wrote {args.dst} ({meta["model"]}, {meta["num_classes"]} classes, dataset '
          f'{meta["dataset"]}, arch {meta["arch"]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
