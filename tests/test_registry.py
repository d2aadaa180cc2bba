"""Every mmsign module builds by its type name from a config that only names mmsign in
``custom_imports``, as another OpenMMLab project would use it."""
import json
import os
import socket
import subprocess
import sys
import textwrap

TINY_CLIP = dict(width=32, layers=1, heads=2, patch_size=16, image_size=32, output_dim=16)
TINY_MMPRETRAIN = dict(arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                                 feedforward_channels=64), img_size=32, patch_size=16)
GLOSSES = ['A', 'B', 'C']
HEAD = dict(type='SignCTCHead', in_channels=16, num_classes=4, hidden_channels=16)

# Registry name -> type name -> build config (without ``type``). ``{tmp}`` is a
# scratch folder. Datasets build lazily (no annotation files needed to construct one).
SPECS = {
    'MODELS': {
        'AdaptSignViT': dict(arch=TINY_CLIP),
        'AdaptSignMMPretrainViT': dict(vit=TINY_MMPRETRAIN),
        'CorrNetResNet': dict(base_channels=16),
        'CorrelationIdentification': dict(channels=32),
        'FrameWiseResNet': dict(base_channels=16),
        'LocalSignGraph': dict(channels=16),
        'TemporalSignGraph': dict(channels=16),
        'SlowFastSignResNet3d': dict(
            slow_pathway=dict(type='resnet3d', depth=50, stage_blocks=(1, 1, 1, 1),
                              base_channels=8, lateral=False, conv1_kernel=(1, 7, 7),
                              inflate=(0, 0, 1, 1)),
            fast_pathway=dict(type='resnet3d', depth=50, stage_blocks=(1, 1, 1, 1),
                              base_channels=2, lateral=False, conv1_kernel=(5, 7, 7))),
        'MultiPathwayCTCHead': dict(in_channels=16, num_classes=4, hidden_channels=16,
                                    pathway_channels=(12, 4)),
        'SpatialEmphasis': dict(channels=32),
        'TemporalEmphasis': dict(channels=32, dilations=(1, 2, 3)),
        'MultiNeighbourCorrelationIdentification': dict(channels=32, neighbours=3),
        'SignDataPreprocessor': dict(),
        'CTCGreedyDecoder': dict(),
        'CTCBeamSearchDecoder': dict(),
        'SignCTCLoss': dict(),
        'SequenceDistillLoss': dict(),
        'LiftingLoss': dict(),
        'SignCTCHead': {k: v for k, v in HEAD.items() if k != 'type'},
        'SignRecognizer': dict(backbone=dict(type='AdaptSignViT', arch=TINY_CLIP),
                               head=dict(type='SignCTCHead', hidden_channels=16),
                               vocab=GLOSSES),
    },
    'DATASETS': {
        name: dict(data_root='{tmp}', split='train', vocab_file=GLOSSES, lazy_init=True)
        for name in ('Phoenix2014Dataset', 'Phoenix2014TDataset', 'CSLDailyDataset',
                     'CSLDataset', 'SyntheticSignDataset')
    } | {
        'CustomSignDataset': dict(data_root='{tmp}', ann_file='list.txt', split='train',
                                  vocab_file=GLOSSES, lazy_init=True),
    },
    'TRANSFORMS': {
        'SignInit': dict(), 'SignDecode': dict(), 'SignTemporalRescale': dict(),
        'SignRandomCrop': dict(size=32), 'SignCenterCrop': dict(size=32),
        'SignResize': dict(size=32), 'SignTopCrop': dict(),
        'SignFlip': dict(), 'PackSignInputs': dict(),
    },
    'METRICS': {'WERMetric': dict(normalize='phoenix2014')},
    'OPTIM_WRAPPERS': {'SignAmpOptimWrapper': dict(), 'SignOptimWrapper': dict()},
    'MODEL_WRAPPERS': {'DeviceAwareDistributedDataParallel': dict()},
    'HOOKS': {name: dict() for name in ('SafeCheckpointHook', 'TrainRandomStateHook',
                                        'BadSampleReportHook', 'CheckpointCompatibilityHook',
                                        'NonFiniteStepHook')},
    'LOOPS': {'ResumableEpochBasedTrainLoop': dict(max_epochs=1),
              'AmpValLoop': dict(dtype='bfloat16'), 'AmpTestLoop': dict(dtype=None)},
    'RUNNERS': {'SignRunner': dict(
        model=dict(type='SignRecognizer', backbone=dict(type='AdaptSignViT', arch=TINY_CLIP),
                   head=dict(type='SignCTCHead', hidden_channels=16), vocab=GLOSSES),
        work_dir='{tmp}/runner', default_scope='mmaction')},
}

DRIVER = textwrap.dedent('''
    import json, os, sys
    import torch
    from mmengine.config import Config
    cfg = Config.fromfile(sys.argv[1])          # imports mmsign through custom_imports
    from mmengine.registry import init_default_scope
    init_default_scope(cfg.default_scope)
    import mmaction.registry as registries
    from mmengine.registry import Registry
    from mmengine.optim import build_optim_wrapper
    specs = json.loads(cfg.specs)
    from mmengine.registry import MODEL_WRAPPERS as ROOT_MODEL_WRAPPERS
    pairs = [(name, getattr(registries, name)) for name in dir(registries)
             if isinstance(getattr(registries, name), Registry)
             and not name.startswith('MMENGINE_')]
    pairs.append(('MODEL_WRAPPERS', ROOT_MODEL_WRAPPERS))  # where the Runner looks
    registered = sorted(
        f'{name}.{key}' for name, registry in pairs
        for key, cls in registry.module_dict.items()
        if getattr(cls, '__module__', '').startswith('mmsign'))
    built = []
    tiny = torch.nn.Linear(2, 2)
    for name, types in specs.items():
        registry = ROOT_MODEL_WRAPPERS if name == 'MODEL_WRAPPERS' else getattr(registries, name)
        for type_name, args in types.items():
            args = dict(args, type=type_name)
            if name == 'OPTIM_WRAPPERS':
                obj = build_optim_wrapper(tiny, dict(args, optimizer=dict(type='SGD', lr=0.1)))
            elif name == 'MODEL_WRAPPERS':
                torch.distributed.init_process_group(
                    'gloo', init_method='tcp://127.0.0.1:' + os.environ['PORT'],
                    rank=0, world_size=1)
                obj = registry.build(args, default_args=dict(module=tiny))
            elif name == 'LOOPS':
                from types import SimpleNamespace
                from mmengine.evaluator import Evaluator
                runner = SimpleNamespace(visualizer=SimpleNamespace())
                loader = torch.utils.data.DataLoader(list(range(4)))
                default_args = dict(runner=runner, dataloader=loader)
                if 'max_epochs' not in args:
                    default_args['evaluator'] = Evaluator([])
                obj = registry.build(args, default_args=default_args)
            elif name == 'RUNNERS':
                args = dict(args, runner_type=args.pop('type'))
                obj = registry.build(Config(args))
            else:
                obj = registry.build(args)
            assert type(obj).__name__ == type_name, (type_name, type(obj))
            built.append(f'{name}.{type_name}')
    print(json.dumps(dict(registered=registered, built=sorted(built))))
''')


def test_every_mmsign_module_builds_from_custom_imports(tmp_path):
    specs = json.dumps(SPECS).replace('{tmp}', str(tmp_path))
    (tmp_path / 'list.txt').write_text('video.mp4|A B\n')
    config = tmp_path / 'uses_mmsign.py'
    config.write_text("custom_imports = dict(imports=['mmsign'], allow_failed_imports=False)\n"
                      "default_scope = 'mmaction'\n"
                      f'specs = {specs!r}\n')
    driver = tmp_path / 'driver.py'
    driver.write_text(DRIVER)
    with socket.socket() as probe:  # a free loopback port: other runs may hold any fixed one
        probe.bind(('127.0.0.1', 0))
        port = str(probe.getsockname()[1])
    env = dict(os.environ, PORT=port)
    result = subprocess.run([sys.executable, str(driver), str(config)], capture_output=True,
                            text=True, timeout=1800, env=env, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # Every module mmsign registers is in SPECS (a new module must be added there) ...
    assert report['registered'] == report['built']
    assert len(report['built']) >= 25
