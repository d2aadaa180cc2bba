# TLP, ImageNet ResNet-18 run frame by frame, CSL (continuous, signer-independent split).
# Paper WER: 1.8 (the released README; the paper's supplementary material). The released
# CSL setting differs from PHOENIX's in two places: the lift pooling's predictor and
# updater have 5-frame depthwise kernels (padding 2), and the schedule is 20 epochs with
# the lr x0.2 after epochs 10 and 15.
#   python tools/train.py configs/tlp_csl.py
_base_ = [
    '_base_/models/tlp_resnet18.py',
    '_base_/datasets/csl.py',
    '_base_/schedules/tlp_80e.py',
    '_base_/default_runtime.py',
]

model = dict(
    vocab={{_base_.vocab_file}},
    backbone=dict(pretrained='torchvision://resnet18'),
    head=dict(lift_kernel=5))
train_cfg = dict(max_epochs=20)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=20, milestones=[10, 15],
         gamma=0.2)
]
