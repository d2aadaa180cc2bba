# TLP (temporal lift pooling), ImageNet ResNet-18 run frame by frame, PHOENIX14. Paper WER
# (dev / test): 19.7 / 20.8. Released setting (LINEAGE_SPEC.md): lift pooling in place of
# both max pools, plain Linear classifiers (the conv branch has its own), SeqCTC 1 +
# ConvCTC 1 + Dist 25 + Cu 0.001 + Cp 0.001; Adam lr 1e-4, weight decay 1e-4, 80 epochs,
# lr x0.2 after epochs 40 and 60, 2 videos per GPU, nothing frozen; the best checkpoint by
# dev WER; tools/test.py evaluates on test.
#   python tools/train.py configs/tlp_phoenix14.py
#   bash tools/dist_train.sh configs/tlp_phoenix14.py 8   (then --auto-scale-lr)
# Data preparation: docs/datasets.md. Weights: torchvision's ImageNet ResNet-18 is
# downloaded; offline, set model.backbone.pretrained=/path/to/resnet18-f37072fd.pth.
# Released checkpoints: docs/vac_tlp.md (tools/model_converters/released_to_mmsign.py).
_base_ = [
    '_base_/models/tlp_resnet18.py',
    '_base_/datasets/phoenix2014.py',
    '_base_/schedules/tlp_80e.py',
    '_base_/default_runtime.py',
]

model = dict(
    vocab={{_base_.vocab_file}},
    backbone=dict(pretrained='torchvision://resnet18'))
