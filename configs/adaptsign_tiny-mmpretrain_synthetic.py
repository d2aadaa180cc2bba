# The synthetic quick start (adaptsign_synthetic.py) with its tiny CLIP-shaped ViT replaced
# by a tiny mmpretrain VisionTransformer: the AdaptSignMMPretrainViT path end to end, on
# 2 CPU cores, without a download (random frozen weights).
#   python tools/train.py configs/adaptsign_tiny-mmpretrain_synthetic.py
_base_ = ['./adaptsign_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='AdaptSignMMPretrainViT',
        # Layer scale switched on as in DINOv2 (at 1.0: random frozen blocks need no
        # damping), 4 x 4 patches of 8 pixels.
        vit=dict(arch=dict(embed_dims=64, num_layers=2, num_heads=2,
                           feedforward_channels=256),
                 img_size={{_base_.image_size}}, patch_size=8, layer_scale_init_value=1.0),
        pretrained=None,
        num_prefix_tokens=4,
        adapter_ratio=0.25,
        temporal_window=5,
        temporal_edge='replicate',
        train_query=False,
        checkpointing='none'))
