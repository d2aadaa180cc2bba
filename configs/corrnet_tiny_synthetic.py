# The synthetic quick start (adaptsign_synthetic.py) with CorrNet's backbone: a narrow 3-D
# ResNet-18 (stage widths 16, 32, 64, 128) with the correlation and identification modules
# after layers 2, 3 and 4, random weights, trained whole on 2 CPU cores without a download.
# Head, losses, pipeline, data and schedule are the synthetic recipe's.
#   python tools/train.py configs/corrnet_tiny_synthetic.py
_base_ = ['./adaptsign_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='CorrNetResNet',
        arch='resnet18',
        base_channels=16,
        stage_modules=dict(
            layer2=[dict(type='CorrelationIdentification', affinity_dtype='auto')],
            layer3=[dict(type='CorrelationIdentification', affinity_dtype='auto')],
            layer4=[dict(type='CorrelationIdentification', affinity_dtype='auto')]),
        mixing_init=0.0,
        pretrained=None))
