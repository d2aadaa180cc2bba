# VAC's released 40-epoch schedule (the README's syncBN update; LINEAGE_SPEC.md): Adam, lr
# 1e-4, weight decay 1e-4 on all parameters, 40 epochs, lr x0.2 after epochs 20 and 35, 2
# videos per step, nothing frozen. The rest (mixed precision, validation every epoch) is
# AdaptSign's schedule, inherited. On several GPUs the BatchNorms synchronise (syncBN),
# as in the released code.
_base_ = ['./adaptsign_40e.py']

param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=40, milestones=[20, 35],
         gamma=0.2)
]
sync_bn = 'torch'
