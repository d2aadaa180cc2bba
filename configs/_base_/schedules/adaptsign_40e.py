# AdaptSign's schedule (spec section 6): Adam, lr 1e-4, weight decay 1e-4, 40 epochs,
# lr x0.2 after epochs 20 and 30, mixed precision (bf16 on GPUs that have it, fp16 with
# dynamic loss scaling otherwise, fp32 on the CPU). Validation on dev after every epoch.
# ResumableEpochBasedTrainLoop: mmengine's loop that resumes inside an epoch exactly. The
# evaluation loops autocast to `dtype` (None: fp32; tools/*.py --amp sets the training
# dtype here).
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=40, val_begin=1,
                 val_interval=1)
val_cfg = dict(type='AmpValLoop', dtype=None)
test_cfg = dict(type='AmpTestLoop', dtype=None)

optim_wrapper = dict(
    type='SignAmpOptimWrapper',
    dtype='auto',
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=1e-4))

param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=40, milestones=[20, 30],
         gamma=0.2)
]

# Two videos per GPU in the paper; scale the lr with the total batch when it changes.
auto_scale_lr = dict(enable=False, base_batch_size=2)
