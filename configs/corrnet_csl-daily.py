# CorrNet, ImageNet ResNet-18, CSL-Daily.
# Paper WER (dev / test): 30.6 / 30.1. Released schedule (CORRNET_SPEC.md): Adam lr 1e-4,
# weight decay 1e-4, 40 epochs, lr x0.2 after epochs 20 and 35, 2 videos per GPU, the
# whole network trained; the best checkpoint by dev WER; tools/test.py evaluates on test.
#   python tools/train.py configs/corrnet_csl-daily.py
#   bash tools/dist_train.sh configs/corrnet_csl-daily.py 8   (then --auto-scale-lr)
# Data preparation: docs/datasets.md. Weights: torchvision's ImageNet ResNet-18 is
# downloaded; offline, set model.backbone.pretrained=/path/to/resnet18-f37072fd.pth.
# Released checkpoints: docs/model_zoo.md (tools/model_converters/).
_base_ = [
    '_base_/models/corrnet_resnet18.py',
    '_base_/datasets/csl-daily.py',
    '_base_/schedules/corrnet_40e.py',
    '_base_/default_runtime.py',
]

model = dict(
    vocab={{_base_.vocab_file}},
    # The released CSL-Daily model has no correlation module after layer2.
    backbone=dict(pretrained='torchvision://resnet18', stage_modules=dict(layer2=[])))
