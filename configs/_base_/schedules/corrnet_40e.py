# CorrNet's released schedule (CORRNET_SPEC.md): Adam, lr 1e-4, weight decay 1e-4, 40
# epochs, lr x0.2 after epochs 20 and 35, the whole network trained (nothing frozen), 2
# videos per step (the dataset configs' batch_size). Everything but the milestones is
# AdaptSign's schedule, inherited: mixed precision (bf16 on GPUs that have it, fp16 with
# dynamic loss scaling otherwise, fp32 on the CPU), validation on dev after every epoch.
_base_ = ['./adaptsign_40e.py']

param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=40, milestones=[20, 35],
         gamma=0.2)
]
