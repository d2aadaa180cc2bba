# SignGraph, ImageNet ResNet-18, PHOENIX14-T (RWTH-PHOENIX-Weather 2014 T).
# Released checkpoint WER (dev / test, README of the release): 17.00 / 19.44, scored by the
# release's python edit distance, the better of its two branches (not sclite: see
# docs/model_zoo.md). Released schedule (SIGNGRAPH_SPEC.md): Adam lr 1e-4, weight decay
# 1e-4, 101 epochs, lr x0.2 after epochs 20, 30 and 35, 4 videos per GPU, AMP, the whole
# network trained, SyncBatchNorm in distributed runs; the best checkpoint by dev WER.
#   python tools/train.py configs/signgraph_phoenix14t.py
#   bash tools/dist_train.sh configs/signgraph_phoenix14t.py 8   (then --auto-scale-lr)
# Data preparation: docs/datasets.md. Weights: torchvision's ImageNet ResNet-18 is
# downloaded; offline, set model.backbone.pretrained=/path/to/resnet18-f37072fd.pth.
# Released checkpoints: docs/model_zoo.md (tools/model_converters/released_to_mmsign.py).
_base_ = [
    '_base_/models/signgraph_resnet18.py',
    '_base_/datasets/phoenix2014t.py',
    '_base_/schedules/signgraph_101e.py',
    '_base_/default_runtime.py',
]

model = dict(
    vocab={{_base_.vocab_file}},
    backbone=dict(pretrained='torchvision://resnet18'))
train_dataloader = dict(batch_size=4)
val_dataloader = dict(batch_size=4)
test_dataloader = dict(batch_size=4)
