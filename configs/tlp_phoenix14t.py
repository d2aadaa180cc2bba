# TLP, ImageNet ResNet-18 run frame by frame, PHOENIX14-T (RWTH-PHOENIX-Weather 2014 T).
# Paper WER (dev / test): 19.4 / 21.2. Model and schedule as configs/tlp_phoenix14.py (80
# epochs, lr x0.2 after epochs 40 and 60).
#   python tools/train.py configs/tlp_phoenix14t.py
_base_ = [
    '_base_/models/tlp_resnet18.py',
    '_base_/datasets/phoenix2014t.py',
    '_base_/schedules/tlp_80e.py',
    '_base_/default_runtime.py',
]

model = dict(
    vocab={{_base_.vocab_file}},
    backbone=dict(pretrained='torchvision://resnet18'))
