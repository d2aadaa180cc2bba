# SlowFastSign, SlowFast R101 (alpha 4, beta 1/8), PHOENIX14 (RWTH-PHOENIX-Weather 2014
# multisigner).
# Paper WER (dev / test): 18.01 / 18.28. Released schedule (SLOWFASTSIGN_SPEC.md): Adam lr
# 1e-4, weight decay 1e-4, 80 epochs, lr x0.2 after epochs 40 and 60, 2 videos per GPU,
# mixed precision, the whole network trained; the best checkpoint by dev WER.
#   python tools/train.py configs/slowfastsign_phoenix14.py
#   bash tools/dist_train.sh configs/slowfastsign_phoenix14.py 8   (then --auto-scale-lr)
# GPU memory: model.backbone.checkpoint_stages=(1,2,3) on 24 GB cards (docs/slowfastsign.md).
# Data preparation: docs/datasets.md. Released checkpoints: docs/model_zoo.md
# (tools/model_converters/).
_base_ = [
    '_base_/models/slowfastsign_r101.py',
    '_base_/datasets/phoenix2014.py',
    '_base_/schedules/slowfastsign_80e.py',
    '_base_/default_runtime.py',
]

model = dict(vocab={{_base_.vocab_file}})
