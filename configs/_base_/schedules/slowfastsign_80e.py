# SlowFastSign's released schedule (SLOWFASTSIGN_SPEC.md section 7): Adam, lr 1e-4, weight
# decay 1e-4 on every parameter (fusion gates and BatchNorms included), 80 epochs, lr x0.2
# after epochs 40 and 60, nothing frozen, 2 videos per step (the dataset configs'
# batch_size). Everything else is AdaptSign's schedule, inherited: mixed precision (the
# release: fp16 with a GradScaler; here bf16 on GPUs that have it, fp16 with dynamic loss
# scaling otherwise, fp32 on the CPU), non-finite steps skipped, dev after every epoch.
_base_ = ['./adaptsign_40e.py']

train_cfg = dict(max_epochs=80)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=80, milestones=[40, 60],
         gamma=0.2)
]
