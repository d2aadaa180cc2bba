# AdaptSign on DINOv2 ViT-B/14 (mmpretrain), PHOENIX14: the recipe of adaptsign_phoenix14.py
# with its frozen CLIP ViT-B/16 replaced by DINOv2's ViT-B/14 from the OpenMMLab model
# zoo. The same adapters, prefix tokens, aggregation query and temporal correlation; no
# output projection, so the head sees 768-dimensional frame features. No published WER.
#   python tools/train.py configs/adaptsign_dinov2-b14_phoenix14.py
# Weights: mmengine downloads the checkpoint below into the torch hub cache; offline, set
# model.backbone.pretrained=/path/to/vit-base-p14_dinov2-pre_3rdparty_20230426-ba246503.pth
# The checkpoint's position embedding (518 pixels, 37 x 37 patches) is resized once, at
# load time, to the recipe's 224-pixel crops (16 x 16 patches of 14 pixels).
_base_ = ['./adaptsign_phoenix14.py']

dinov2_b14 = ('https://download.openmmlab.com/mmpretrain/v1.0/dinov2/'
              'vit-base-p14_dinov2-pre_3rdparty_20230426-ba246503.pth')

model = dict(
    # DINOv2 was trained on ImageNet-normalised RGB images (the recipe's x / 127.5 - 1 is
    # the released AdaptSign code's input).
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(
        _delete_=True,
        type='AdaptSignMMPretrainViT',
        # mmpretrain's configs/dinov2/vit-base-p14_dinov2-pre_headless.py, at 224 pixels.
        vit=dict(arch='base', img_size=224, patch_size=14, layer_scale_init_value=1e-5),
        pretrained=dinov2_b14,
        num_prefix_tokens=8,
        adapter_ratio=0.25,
        temporal_window=5,
        temporal_edge='replicate',
        train_query=False,
        checkpointing='none'))
