# SignGraph's released schedule (SIGNGRAPH_SPEC.md, configs/baseline.yaml): Adam, lr 1e-4,
# weight decay 1e-4, 101 epochs (0 to 100), lr x0.2 after epochs 20, 30 and 35, 4 videos per
# step (the recipes' batch_size), the whole network trained. Everything else is AdaptSign's
# schedule, inherited: mixed precision (bf16 on GPUs that have it, fp16 with dynamic loss
# scaling otherwise, fp32 on the CPU), validation on dev after every epoch, the best
# checkpoint by dev WER kept.
_base_ = ['./adaptsign_40e.py']

train_cfg = dict(max_epochs=101)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=101, milestones=[20, 30, 35],
         gamma=0.2)
]
auto_scale_lr = dict(enable=False, base_batch_size=4)
# Distributed runs: every BatchNorm becomes torch's SyncBatchNorm, as the release trains
# (DDP + SyncBatchNorm). mmengine reads this for distributed runs only; SyncBatchNorm needs
# CUDA tensors, so a CPU (gloo) run sets --cfg-options sync_bn=None.
sync_bn = 'torch'
