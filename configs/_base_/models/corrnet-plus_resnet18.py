# CorrNet+ (2024, LINEAGE_SPEC.md): CorrNet's 3-D ResNet-18; after layers 2, 3, 4 a
# multi-neighbour correlation module (n = 1, 3, 5 frames on each side; mean / max /
# attention-pooled query; CorrNet's identification map), mixed in with alpha (starting at
# 0), then a temporal weighting (SEN's TSEM with dilations 1, 2, 3 and its own alpha,
# starting at 0). The head's temporal conv pools with temporal lift pooling (its two
# losses weighted 0.0005) and one weight-normalised classifier serves both branches;
# losses SeqCTC 1, ConvCTC 1, Dist 25. ImageNet weights: pretrained=None builds random
# weights (no download); the recipes set 'torchvision://resnet18'.
_base_ = ['./corrnet_resnet18.py']


def stage(neighbours):
    return [dict(type='MultiNeighbourCorrelationIdentification', neighbours=neighbours),
            dict(type='TemporalEmphasis', dilations=(1, 2, 3))]


model = dict(
    backbone=dict(
        _delete_=True,
        type='CorrNetResNet',
        arch='resnet18',
        base_channels=64,
        stage_modules=dict(layer2=stage(1), layer3=stage(3), layer4=stage(5)),
        mixing_init=0.0,
        pretrained=None),
    # Temporal lift pooling in place of max pooling, its losses Cu and Cp weighted 0.0005;
    # one shared weight-normalised classifier (the head's default, as CorrNet's).
    head=dict(
        pooling='lift',
        loss_lift_update=dict(type='LiftingLoss', loss_weight=0.0005),
        loss_lift_predict=dict(type='LiftingLoss', loss_weight=0.0005)))
del stage
