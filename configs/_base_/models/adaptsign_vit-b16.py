# AdaptSign with a CLIP ViT-B/16 (spec sections 2 to 5 and 7).
# CLIP weights: pretrained=None builds random weights (no download); set
# model.backbone.pretrained='openai' (open_clip downloads them) or a local file path.
# The vocabulary comes from the dataset config: model.vocab = vocab_file.
model = dict(
    type='SignRecognizer',
    vocab=None,
    # 'features': the released edge padding is applied to the backbone's features
    # (cheap); 'frames': to the frames before the backbone, as the released code does
    # (for parity with released checkpoints; ~27 % more frames through the backbone).
    padding_mode='features',
    data_preprocessor=dict(
        type='SignDataPreprocessor',
        mean=[127.5, 127.5, 127.5],  # x / 127.5 - 1, as the released code (not CLIP's)
        std=[127.5, 127.5, 127.5]),
    backbone=dict(
        type='AdaptSignViT',
        arch='ViT-B-16',
        pretrained=None,
        num_prefix_tokens=8,
        adapter_ratio=0.25,
        temporal_window=5,
        # Real frames at a video's edge see copies of the edge frame, as in the released
        # code (its window runs over the padded batch); padding_mode='frames' sets 'zeros'.
        temporal_edge='replicate',
        train_query=False,
        checkpointing='none'),
    head=dict(
        type='SignCTCHead',
        hidden_channels=1024,
        conv_pattern=('K5', 'P2', 'K5', 'P2'),
        lstm_layers=2,
        lstm_dropout=0.3,
        loss_ctc_seq=dict(type='SignCTCLoss', loss_weight=1.0),
        loss_ctc_conv=dict(type='SignCTCLoss', loss_weight=1.0),
        loss_distill=dict(type='SequenceDistillLoss', temperature=8.0, loss_weight=25.0,
                          drop_blank=True, average='all_rows')),
    # The released decoding: beam 10, the 40 most likely classes per frame, no LM.
    # type='CTCGreedyDecoder' is the fast alternative; backend='ctcdecode' if installed.
    decoder=dict(type='CTCBeamSearchDecoder', beam_width=10, top_k=40,
                 backend='flashlight'))
