# PHOENIX14-T (RWTH-PHOENIX-Weather 2014 T). Prepare once with
#   python tools/data/phoenix2014t/preprocess.py --root data/phoenix2014t/PHOENIX-2014-T
# (frames resized to 256x256 and the vocabulary written to data_root/gloss_vocab.json).
dataset_type = 'Phoenix2014TDataset'
data_root = 'data/phoenix2014t/PHOENIX-2014-T'
vocab_file = data_root + '/gloss_vocab.json'
num_classes = 1116  # glosses of the released vocabulary + the CTC blank (class 0)

# AdaptSign's input pipeline (spec section 1): temporal rescale, one random 224 crop and
# a flip with p=0.5 for the whole video in training; a centre crop for evaluation.
train_pipeline = [
    dict(type='SignInit'),
    dict(type='SignTemporalRescale', scale_range=(0.8, 1.2), min_len=32, max_len=230,
         multiple=4),
    dict(type='SignDecode'),
    dict(type='SignRandomCrop', size=224),
    dict(type='SignFlip', flip_ratio=0.5),
    dict(type='PackSignInputs'),
]
test_pipeline = [
    dict(type='SignInit'),
    dict(type='SignDecode'),
    # The prepared frames are 256x256 already: this step states the size for inference
    # on other videos (mmsign.apis) and changes nothing here.
    dict(type='SignResize', size=256),
    dict(type='SignCenterCrop', size=224),
    dict(type='PackSignInputs'),
]

# Videos have different lengths: pseudo_collate keeps them as a list.
train_dataloader = dict(
    batch_size=2,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        vocab_file=vocab_file,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='dev',
        vocab_file=vocab_file,
        pipeline=test_pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=2,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        vocab_file=vocab_file,
        pipeline=test_pipeline,
        test_mode=True))

val_evaluator = dict(type='WERMetric', normalize='phoenix2014')
test_evaluator = val_evaluator
