# SEN (AAAI 2023, LINEAGE_SPEC.md): CorrNet's 3-D ResNet-18 without correlation modules, a
# spatial (SSEM) and a temporal (TSEM) self-emphasizing module inside every residual block
# (y = relu(bn1(conv1(x))); y <- y + SSEM(y) + TSEM(y); then conv2, bn2, residual). The
# head is AdaptSign's with plain classifiers (the conv branch has its own); losses SeqCTC
# 1, ConvCTC 1, Dist 25; the rest (preprocessor x / 127.5 - 1, edge padding, K5 P2 K5 P2
# with max pooling, 1024 hidden, 2-layer BiLSTM, beam search) as in CorrNet's config.
# ImageNet weights: pretrained=None builds random weights (no download); the recipes set
# 'torchvision://resnet18'.
_base_ = ['./corrnet_resnet18.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='CorrNetResNet',
        arch='resnet18',
        base_channels=64,
        stage_modules=dict(),
        # channels filled in per block; alpha_s starts at 1, alpha_t at 0.
        block_modules=[dict(type='SpatialEmphasis'), dict(type='TemporalEmphasis')],
        pretrained=None),
    # The released SEN has a plain Linear classifier per branch.
    head=dict(classifier='Linear', share_classifier=False))
