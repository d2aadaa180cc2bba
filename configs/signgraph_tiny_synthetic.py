# The synthetic quick start (adaptsign_synthetic.py) with SignGraph's backbone: a narrow 3-D
# ResNet-18 (stage widths 16, 32, 64, 128) with the local and temporal sign graphs after
# layers 3 and 4 (alpha from 1), random weights, trained whole on 2 CPU cores without a
# download. The 32-pixel crops give 2x2 and 1x1 grids: the local graph joins each position
# to 3 of 4 (and to itself at 1x1), the temporal graph every pair of positions of
# consecutive frames (k=49 capped at 16 and 1 pairs). Head, losses, pipeline, data and
# schedule are the synthetic recipe's.
#   python tools/train.py configs/signgraph_tiny_synthetic.py
_base_ = ['./adaptsign_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='CorrNetResNet',
        arch='resnet18',
        base_channels=16,
        stage_modules=dict(
            layer3=[dict(type='LocalSignGraph', k=3), dict(type='TemporalSignGraph', k=49)],
            layer4=[dict(type='LocalSignGraph', k=4), dict(type='TemporalSignGraph', k=49)]),
        mixing_init=1.0,
        pretrained=None))
