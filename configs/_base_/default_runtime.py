default_scope = 'mmaction'
custom_imports = dict(imports=['mmsign'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # WER: lower is better, which mmengine cannot infer from the key.
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='wer/seq', rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='TensorboardIfInstalledVisBackend'),
]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)

# A random seed per run unless --seed is given (tools/train.py fills in `seed`).
randomness = dict(seed=None)

log_level = 'INFO'
load_from = None
resume = False
