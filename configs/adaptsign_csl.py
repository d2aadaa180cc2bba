# AdaptSign, CLIP ViT-B/16 (OpenAI weights), CSL (continuous, 100 sentences).
# The paper reports no CSL result. Spec section 6: Adam lr 1e-4, weight decay 1e-4,
# 40 epochs, lr x0.2 after epochs 20 and 30, 2 videos per GPU, mixed precision; the best
# checkpoint by dev WER; tools/test.py evaluates on the test split.
#   python tools/train.py configs/adaptsign_csl.py
#   bash tools/dist_train.sh configs/adaptsign_csl.py 8   (then --auto-scale-lr)
# Data preparation: docs/datasets.md. Weights: open_clip downloads OpenAI's ViT-B/16;
# offline, set model.backbone.pretrained=/path/to/ViT-B-16.pt.
_base_ = [
    '_base_/models/adaptsign_vit-b16.py',
    '_base_/datasets/csl.py',
    '_base_/schedules/adaptsign_40e.py',
    '_base_/default_runtime.py',
]

model = dict(
    vocab={{_base_.vocab_file}},
    backbone=dict(pretrained='openai'))
