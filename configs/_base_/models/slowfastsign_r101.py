# SlowFastSign (ICASSP 2024, SLOWFASTSIGN_SPEC.md): mmaction2's SlowFast R101 pathways
# (alpha 4, beta 1/8) with bidirectional gated fusion after the stem, res2, res3 and res4,
# and three CTC heads (fused, slow, fast; only the fused one at test time). The released
# normalisation (x / 255 - 0.45) / 0.225, not AdaptSign's and CorrNet's x / 127.5 - 1.
# Backbone weights: random (the authors' Kinetics initialisation is a PySlowFast pickle
# that mmsign cannot read yet; see docs/slowfastsign.md).
res4_temporal = (1, ) * 6 + (0, ) * 17  # res4: blocks 0-5 temporal (kernel 3), 6-22 not
model = dict(
    type='SignRecognizer',
    vocab=None,
    # 'features': the edge padding is applied to the backbone's features (cheapest);
    # 'frames': to the frames before the backbone, as the released code does (released
    # checkpoints' logits; the slow pathway then samples the padded video).
    padding_mode='features',
    data_preprocessor=dict(
        type='SignDataPreprocessor',
        mean=[114.75, 114.75, 114.75],  # 0.45 * 255
        std=[57.375, 57.375, 57.375]),  # 0.225 * 255
    backbone=dict(
        type='SlowFastSignResNet3d',
        slow_pathway=dict(type='resnet3d', depth=101, pretrained=None, lateral=False,
                          conv1_kernel=(1, 7, 7), conv1_stride_t=1, pool1_stride_t=1,
                          inflate=(0, 0, res4_temporal, 1)),
        fast_pathway=dict(type='resnet3d', depth=101, pretrained=None, lateral=False,
                          base_channels=8, conv1_kernel=(5, 7, 7), conv1_stride_t=1,
                          pool1_stride_t=1, inflate=(1, 1, res4_temporal, 1)),
        speed_ratio=4,
        fusion_kernel=5,
        feature_dropout=0.5,
        # Activation checkpointing per stage (1-4 = res2-res5): () fits 80 GB; (1, 2, 3)
        # fits 24 GB with the longest PHOENIX14 batch (docs/slowfastsign.md).
        checkpoint_stages=(),
        pretrained=None),
    head=dict(
        type='MultiPathwayCTCHead',
        pathway_channels=(2048, 256),  # slow, fast: the backbone's concatenation order
        pathway_weights=(0.25, 0.25),
        pathway_names=('slow', 'fast'),
        hidden_channels=1024,
        conv_pattern=('K5', 'P2', 'K5', 'P2'),
        lstm_layers=2,
        lstm_dropout=0.3,
        loss_ctc_seq=dict(type='SignCTCLoss', loss_weight=1.0),
        loss_ctc_conv=dict(type='SignCTCLoss', loss_weight=1.0),
        loss_distill=dict(type='SequenceDistillLoss', temperature=8.0, loss_weight=25.0,
                          drop_blank=True, average='all_rows')),
    # The released decoding: beam 10 on the fused head's sequence logits, no LM.
    decoder=dict(type='CTCBeamSearchDecoder', beam_width=10, top_k=40,
                 backend='flashlight'))
