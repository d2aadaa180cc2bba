# The synthetic quick start (adaptsign_synthetic.py) with SEN's backbone: a narrow 3-D
# ResNet-18 (stage widths 16, 32, 64, 128) with the spatial and temporal emphasis modules
# inside every residual block, random weights, trained whole on 2 CPU cores without a
# download; SEN's plain classifier per branch. Pipeline, data and schedule are the
# synthetic recipe's.
#   python tools/train.py configs/sen_tiny_synthetic.py
_base_ = ['./adaptsign_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='CorrNetResNet',
        arch='resnet18',
        base_channels=16,
        stage_modules=dict(),
        block_modules=[dict(type='SpatialEmphasis'), dict(type='TemporalEmphasis')],
        pretrained=None),
    head=dict(classifier='Linear', share_classifier=False))
