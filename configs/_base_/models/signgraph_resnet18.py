# SignGraph (CVPR 2024, SIGNGRAPH_SPEC.md): CorrNet's 3-D ResNet-18 trunk with graph modules
# after layers 3 and 4 instead of correlation modules: a local (intra-frame) sign graph,
# k-NN over each frame's positions with an edge convolution, then a temporal (inter-frame)
# sign graph, a GCN between consecutive frames; each added as x + alpha[k] * M(x) with alpha
# from 1 (docs/signgraph.md). Everything else is AdaptSign's, as in the released code: the
# recognizer, the preprocessor (x / 127.5 - 1), the edge padding, the CTC head (K5 P2 K5 P2,
# 1024 hidden, 2-layer BiLSTM, one shared weight-normalised classifier), the losses and the
# beam search. ImageNet weights: pretrained=None builds random weights (no download); the
# recipes set 'torchvision://resnet18' and a local file path works offline.
_base_ = ['./adaptsign_vit-b16.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='CorrNetResNet',
        arch='resnet18',
        base_channels=64,
        # k: neighbours per position (itself included) in the local graph; node pairs per
        # pair of consecutive frames in the temporal graph (both capped at what the frame
        # size allows: 224-pixel crops give 14x14 and 7x7 grids).
        stage_modules=dict(
            layer3=[dict(type='LocalSignGraph', k=3), dict(type='TemporalSignGraph', k=49)],
            layer4=[dict(type='LocalSignGraph', k=4), dict(type='TemporalSignGraph', k=49)]),
        mixing_init=1.0,
        pretrained=None))
