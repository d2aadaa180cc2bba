# VAC + SMKD, ImageNet ResNet-18 run frame by frame, PHOENIX14 (RWTH-PHOENIX-Weather 2014
# multisigner). Paper WER (dev / test): 19.8 / 20.5 (the released VAC README's 40-epoch
# syncBN update). Released setting (LINEAGE_SPEC.md): one weight-normalised classifier
# shared by both branches, SeqCTC 1 + ConvCTC 1 + Dist 25; Adam lr 1e-4, weight decay 1e-4,
# 40 epochs, lr x0.2 after epochs 20 and 35, 2 videos per GPU, nothing frozen; the best
# checkpoint by dev WER; tools/test.py evaluates on test.
#   python tools/train.py configs/vac_phoenix14.py
#   bash tools/dist_train.sh configs/vac_phoenix14.py 8   (then --auto-scale-lr)
# The other settings of the paper's table: configs/vac-plain_phoenix14.py (VAC: Seq +
# Conv CTC, 21.5 / 22.1) and configs/vac-baseline_phoenix14.py (SeqCTC only, 23.8 / 25.4).
# Data preparation: docs/datasets.md. Weights: torchvision's ImageNet ResNet-18 is
# downloaded; offline, set model.backbone.pretrained=/path/to/resnet18-f37072fd.pth.
# Released checkpoints: docs/vac_tlp.md (tools/model_converters/released_to_mmsign.py).
_base_ = [
    '_base_/models/vac_resnet18.py',
    '_base_/datasets/phoenix2014.py',
    '_base_/schedules/vac_40e.py',
    '_base_/default_runtime.py',
]

model = dict(
    vocab={{_base_.vocab_file}},
    backbone=dict(pretrained='torchvision://resnet18'))
