# SlowFastSign, SlowFast R101 (alpha 4, beta 1/8), CSL-Daily.
# Paper WER (dev / test): 25.49 / 24.85. Released schedule (SLOWFASTSIGN_SPEC.md): Adam lr
# 1e-4, weight decay 1e-4, 80 epochs, lr x0.2 after epochs 40 and 60, 2 videos per GPU,
# mixed precision, the whole network trained; the best checkpoint by dev WER. CSL-Daily
# only: every frame loses its top 40 rows and is resized back to 256x256 (SignTopCrop).
#   python tools/train.py configs/slowfastsign_csl-daily.py
#   bash tools/dist_train.sh configs/slowfastsign_csl-daily.py 8   (then --auto-scale-lr)
# GPU memory: model.backbone.checkpoint_stages=(1,2,3) on 24 GB cards (docs/slowfastsign.md).
# Data preparation: docs/datasets.md. Released checkpoints: docs/model_zoo.md
# (tools/model_converters/).
_base_ = [
    '_base_/models/slowfastsign_r101.py',
    '_base_/datasets/csl-daily.py',
    '_base_/schedules/slowfastsign_80e.py',
    '_base_/default_runtime.py',
]

model = dict(vocab={{_base_.vocab_file}})

train_pipeline = [
    dict(type='SignInit'),
    dict(type='SignTemporalRescale', scale_range=(0.8, 1.2), min_len=32, max_len=230,
         multiple=4),
    dict(type='SignDecode'),
    dict(type='SignTopCrop', rows=40, size=256),
    dict(type='SignRandomCrop', size=224),
    dict(type='SignFlip', flip_ratio=0.5),
    dict(type='PackSignInputs'),
]
test_pipeline = [
    dict(type='SignInit'),
    dict(type='SignDecode'),
    # A no-op on the prepared 256x256 frames; inference resizes a user's video to it.
    dict(type='SignResize', size=256),
    dict(type='SignTopCrop', rows=40, size=256),
    dict(type='SignCenterCrop', size=224),
    dict(type='PackSignInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
