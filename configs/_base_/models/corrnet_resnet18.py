# CorrNet (CVPR 2023, CORRNET_SPEC.md): a 3-D ResNet-18 with correlation and identification
# modules after layers 2, 3 and 4. Everything else is AdaptSign's, as in the released code:
# the recognizer, the preprocessor (x / 127.5 - 1), the edge padding, the CTC head (K5 P2 K5
# P2, 1024 hidden, 2-layer BiLSTM, one shared weight-normalised classifier), the losses
# and the beam search are inherited from the AdaptSign model config; only the backbone is
# replaced. ImageNet weights: pretrained=None builds random weights (no download); the
# recipes set 'torchvision://resnet18' (torchvision's resnet18-f37072fd.pth, downloaded)
# and a local file path works offline (torchvision or mmpretrain layout).
_base_ = ['./adaptsign_vit-b16.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='CorrNetResNet',
        arch='resnet18',
        base_channels=64,
        # Correlation + identification after layers 2, 3 and 4 (no layer2 module in the
        # released CSL-Daily checkpoint); each added as x + alpha[k] * M(x), alpha from 0.
        # affinity_dtype: the affinity products in bfloat16 on CUDA, in the input dtype on
        # the CPU.
        stage_modules=dict(
            layer2=[dict(type='CorrelationIdentification', affinity_dtype='auto')],
            layer3=[dict(type='CorrelationIdentification', affinity_dtype='auto')],
            layer4=[dict(type='CorrelationIdentification', affinity_dtype='auto')]),
        mixing_init=0.0,
        pretrained=None))
