default_scope = 'mmaction'
custom_imports = dict(imports=['mmsign'], allow_failed_imports=False)
# Everything below is what runs, with mmsign's tools and with mmaction2's own
# tools/train.py and tools/test.py alike (docs/reliability.md says what each piece does).
# SignRunner is mmengine's Runner that keeps the config dump and the hook table in the log
# file (the terminal shows them with verbose_terminal=True, or tools/train.py --verbose).
runner_type = 'SignRunner'
verbose_terminal = False

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # WER: lower is better, which mmengine cannot infer from the key. SafeCheckpointHook:
    # mmengine's CheckpointHook whose checkpoints are never seen half-written.
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='wer/seq', rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'),
)

custom_hooks = [
    dict(type='TrainRandomStateHook'),         # exact resume: random state in checkpoints
    dict(type='BadSampleReportHook'),          # report the samples on_error='skip' passed
    dict(type='CheckpointCompatibilityHook'),  # refuse checkpoints that do not fit
    dict(type='NonFiniteStepHook'),            # log skipped_step and the samples of a NaN
]

# Read by mmengine for distributed runs only: PyTorch's DDP, also for CPU modules (gloo).
# Its own options go here (e.g. find_unused_parameters=True): mmengine reads the
# top-level find_unused_parameters only without a model_wrapper_cfg.
model_wrapper_cfg = dict(type='DeviceAwareDistributedDataParallel')

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)

# A random seed per run unless --seed is given (tools/train.py fills in `seed`).
randomness = dict(seed=None)

log_level = 'INFO'
load_from = None
resume = False
