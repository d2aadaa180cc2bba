# CorrNet+, ImageNet ResNet-18, PHOENIX14 (RWTH-PHOENIX-Weather 2014 multisigner).
# Paper WER (dev / test): 18.0 / 18.2. Released schedule (LINEAGE_SPEC.md): Adam lr 1e-4, weight
# decay 1e-4, 80 epochs, lr x0.2 after epochs 40 and 60, 2 videos per GPU, the whole
# network trained; the best checkpoint by dev WER; tools/test.py evaluates on test.
#   python tools/train.py configs/corrnet-plus_phoenix14.py
#   bash tools/dist_train.sh configs/corrnet-plus_phoenix14.py 8   (then --auto-scale-lr)
# Data preparation: docs/datasets.md. Weights: torchvision's ImageNet ResNet-18 is
# downloaded; offline, set model.backbone.pretrained=/path/to/resnet18-f37072fd.pth.
# Released checkpoints: docs/model_zoo.md (tools/model_converters/released_to_mmsign.py).
_base_ = [
    '_base_/models/corrnet-plus_resnet18.py',
    '_base_/datasets/phoenix2014.py',
    '_base_/schedules/lineage_80e.py',
    '_base_/default_runtime.py',
]

model = dict(
    vocab={{_base_.vocab_file}},
    backbone=dict(pretrained='torchvision://resnet18'))
