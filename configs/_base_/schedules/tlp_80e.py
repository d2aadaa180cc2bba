# TLP's released schedule (LINEAGE_SPEC.md; configs/baseline.yaml of the release): Adam,
# lr 1e-4, weight decay 1e-4 on all parameters, 80 epochs, lr x0.2 after epochs 40 and 60,
# 2 videos per step, nothing frozen. The rest is AdaptSign's schedule, inherited.
_base_ = ['./adaptsign_40e.py']

train_cfg = dict(max_epochs=80)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=80, milestones=[40, 60],
         gamma=0.2)
]
