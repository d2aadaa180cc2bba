# VAC (ICCV 2021) + SMKD (ICCV 2021), LINEAGE_SPEC.md: torchvision's ResNet-18 run frame by
# frame (FrameWiseResNet: mmpretrain's ResNet with torchvision's layer names, 512-d per
# frame), then AdaptSign's head: K5 P2 K5 P2 with max pooling and BatchNorm, 1024 hidden,
# 2-layer BiLSTM. This is the VAC+SMKD setting of the released code (share_classifier and
# weight_norm True: one weight-normalised classifier for both branches; SeqCTC 1 + ConvCTC
# 1 + Dist 25, SeqKD with T = 8), which is AdaptSign's head and losses, inherited; the
# plain-VAC and baseline settings are the recipes configs/vac-plain_phoenix14.py and
# configs/vac-baseline_phoenix14.py. Preprocessing (x / 127.5 - 1), edge padding, beam
# search: the lineage's, inherited. ImageNet weights: pretrained=None builds torchvision's
# random initialisation (no download); the recipes set 'torchvision://resnet18'
# (resnet18-f37072fd.pth, downloaded) and a local file path works offline.
# padding_mode='frames' (--cfg-options model.padding_mode=frames) is the released code's
# padding: each video's own padded frames through the CNN, zeros beyond.
_base_ = ['./adaptsign_vit-b16.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='FrameWiseResNet',
        arch='resnet18',
        base_channels=64,
        pretrained=None))
