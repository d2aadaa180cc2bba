# The synthetic quick start (adaptsign_synthetic.py) with VAC's backbone: a narrow ResNet-18
# (stage widths 16, 32, 64, 128) run frame by frame, random weights, trained whole on 2 CPU
# cores without a download. Head (VAC+SMKD: one shared weight-normalised classifier),
# losses, pipeline, data and schedule are the synthetic recipe's.
#   python tools/train.py configs/vac_tiny_synthetic.py
_base_ = ['./adaptsign_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='FrameWiseResNet',
        arch='resnet18',
        base_channels=16,
        pretrained=None))
