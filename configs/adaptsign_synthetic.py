# The quick start: the real AdaptSign recognizer, pipeline, WER metric and Runner on
# synthetic sign videos, small enough to train on 2 CPU cores in a few minutes.
#   python tools/train.py configs/adaptsign_synthetic.py
# The data is generated into data/synthetic/ on first use (a few seconds). The ViT is a
# tiny CLIP-shaped one with random frozen weights (no download).
_base_ = [
    '_base_/models/adaptsign_vit-b16.py',
    '_base_/default_runtime.py',
]

data_root = 'data/synthetic'
image_size = 32          # crop fed to the ViT
generated_size = 36     # frames on disk (the recipes crop 224 from 256)
generator = dict(num_glosses=16, num_train=400, num_dev=60, num_test=60,
                 image_size=generated_size, seed=0)
# The generator's vocabulary, in class order (index i + 1), computed by the generator's
# own function so it cannot drift from the data; cfg.dump() shows the list.
from mmsign.datasets.synthetic.design import synthetic_glosses  # noqa: E402

glosses = synthetic_glosses(generator['num_glosses'])
del synthetic_glosses

model = dict(
    vocab=glosses,
    backbone=dict(
        arch=dict(_delete_=True, width=64, layers=2, heads=2, patch_size=8,
                  image_size=image_size,
                  output_dim=64),
        pretrained=None,
        num_prefix_tokens=4),
    head=dict(hidden_channels=128),
    decoder=dict(_delete_=True, type='CTCGreedyDecoder'))

train_pipeline = [
    dict(type='SignInit'),
    dict(type='SignTemporalRescale', scale_range=(0.8, 1.2), min_len=16, max_len=230,
         multiple=4),
    dict(type='SignDecode'),
    dict(type='SignRandomCrop', size=image_size),
    dict(type='PackSignInputs'),
]
test_pipeline = [
    dict(type='SignInit'),
    dict(type='SignDecode'),
    # A no-op on the generated frames; inference resizes a user's video to it.
    dict(type='SignResize', size=generated_size),
    dict(type='SignCenterCrop', size=image_size),
    dict(type='PackSignInputs'),
]
dataset = dict(type='SyntheticSignDataset', data_root=data_root, generator=generator,
               vocab_file=glosses)
train_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(split='train', pipeline=train_pipeline, **dataset))
val_dataloader = dict(
    batch_size=16, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(split='dev', pipeline=test_pipeline, test_mode=True, **dataset))
test_dataloader = dict(
    batch_size=16, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(split='test', pipeline=test_pipeline, test_mode=True, **dataset))
val_evaluator = dict(type='WERMetric', normalize='none')
test_evaluator = val_evaluator

train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=10, val_begin=1,
                 val_interval=1)
val_cfg = dict(type='AmpValLoop', dtype=None)
test_cfg = dict(type='AmpTestLoop', dtype=None)
optim_wrapper = dict(type='SignOptimWrapper',
                     optimizer=dict(type='Adam', lr=2e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=10, eta_min=1e-5)
]

default_hooks = dict(logger=dict(interval=10), checkpoint=dict(max_keep_ckpts=1))
randomness = dict(seed=0)
