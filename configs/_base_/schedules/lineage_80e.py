# The 80-epoch schedule of the released SEN and CorrNet+ code (LINEAGE_SPEC.md): Adam, lr
# 1e-4, weight decay 1e-4, 80 epochs, lr x0.2 after epochs 40 and 60, the whole network
# trained, 2 videos per step (the dataset configs' batch_size). Everything but the length
# and the milestones is AdaptSign's schedule, inherited: mixed precision (bf16 on GPUs
# that have it, fp16 with dynamic loss scaling otherwise, fp32 on the CPU), validation on
# dev after every epoch.
_base_ = ['./adaptsign_40e.py']

train_cfg = dict(max_epochs=80)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=80, milestones=[40, 60],
         gamma=0.2)
]
