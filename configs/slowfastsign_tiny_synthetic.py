# The synthetic quick start (adaptsign_synthetic.py) with SlowFastSign's model: mmaction2
# SlowFast pathways of one bottleneck block per stage (slow 16 base channels, fast 2,
# alpha 4), the bidirectional gated fusion, the three CTC heads and the released
# normalisation; random weights, trained whole on 2 CPU cores without a download.
# Pipeline, data and schedule are the synthetic recipe's.
#   python tools/train.py configs/slowfastsign_tiny_synthetic.py
_base_ = ['./adaptsign_synthetic.py']

model = dict(
    data_preprocessor=dict(mean=[114.75, 114.75, 114.75], std=[57.375, 57.375, 57.375]),
    backbone=dict(
        _delete_=True,
        type='SlowFastSignResNet3d',
        slow_pathway=dict(type='resnet3d', depth=50, stage_blocks=(1, 1, 1, 1),
                          base_channels=16, pretrained=None, lateral=False,
                          conv1_kernel=(1, 7, 7), conv1_stride_t=1, pool1_stride_t=1,
                          inflate=(0, 0, 1, 1)),
        fast_pathway=dict(type='resnet3d', depth=50, stage_blocks=(1, 1, 1, 1),
                          base_channels=2, pretrained=None, lateral=False,
                          conv1_kernel=(5, 7, 7), conv1_stride_t=1, pool1_stride_t=1,
                          inflate=(1, 1, 1, 1)),
        speed_ratio=4,
        fusion_kernel=5,
        feature_dropout=0.5,
        checkpoint_stages=(),
        pretrained=None),
    head=dict(
        type='MultiPathwayCTCHead',
        pathway_channels=(512, 64),
        pathway_weights=(0.25, 0.25),
        pathway_names=('slow', 'fast')))
