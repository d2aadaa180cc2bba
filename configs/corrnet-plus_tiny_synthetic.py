# The synthetic quick start (adaptsign_synthetic.py) with CorrNet+'s backbone: a narrow 3-D
# ResNet-18 (stage widths 16, 32, 64, 128) with the multi-neighbour correlation and the
# temporal weighting after layers 2, 3 and 4, random weights, trained whole on 2 CPU cores
# without a download; the head pools with temporal lift pooling and its two losses.
# Pipeline, data and schedule are the synthetic recipe's.
#   python tools/train.py configs/corrnet-plus_tiny_synthetic.py
_base_ = ['./adaptsign_synthetic.py']


def stage(neighbours):
    return [dict(type='MultiNeighbourCorrelationIdentification', neighbours=neighbours),
            dict(type='TemporalEmphasis', dilations=(1, 2, 3))]


model = dict(
    backbone=dict(
        _delete_=True,
        type='CorrNetResNet',
        arch='resnet18',
        base_channels=16,
        stage_modules=dict(layer2=stage(1), layer3=stage(3), layer4=stage(5)),
        mixing_init=0.0,
        pretrained=None),
    head=dict(
        pooling='lift',
        loss_lift_update=dict(type='LiftingLoss', loss_weight=0.0005),
        loss_lift_predict=dict(type='LiftingLoss', loss_weight=0.0005)))
del stage
