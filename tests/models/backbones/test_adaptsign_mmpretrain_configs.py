"""The mmpretrain-backed recipes: DINOv2 ViT-B/14 on PHOENIX14 and its tiny synthetic twin."""
import os.path as osp

import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmsign.models.backbones import AdaptSignMMPretrainViT
from mmsign.models.recognizers import SignRecognizer

CONFIGS = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', '..', 'configs')
DINOV2_RECIPE = osp.join(CONFIGS, 'adaptsign_dinov2-b14_phoenix14.py')
CLIP_RECIPE = osp.join(CONFIGS, 'adaptsign_phoenix14.py')
TINY_RECIPE = osp.join(CONFIGS, 'adaptsign_tiny-mmpretrain_synthetic.py')
SYNTHETIC_RECIPE = osp.join(CONFIGS, 'adaptsign_synthetic.py')
TINY_ARCH = dict(embed_dims=64, num_layers=2, num_heads=2, feedforward_channels=128)
VOCAB = ['ABEND', 'GUT', 'REGEN', 'WETTER']


def test_dinov2_recipe_is_the_phoenix14_recipe_with_another_backbone():
    cfg, clip = Config.fromfile(DINOV2_RECIPE), Config.fromfile(CLIP_RECIPE)
    backbone = cfg.model.backbone
    assert backbone.type == 'AdaptSignMMPretrainViT' and 'arch' not in backbone
    assert backbone.pretrained.startswith('https://download.openmmlab.com/mmpretrain/')
    for key in ('num_prefix_tokens', 'adapter_ratio', 'temporal_window', 'temporal_edge',
                'train_query', 'checkpointing'):
        assert backbone[key] == clip.model.backbone[key], key
    # 224-pixel crops, 16 x 16 patches of 14 pixels, ImageNet normalisation (RGB).
    crops = [step['size'] for step in cfg.train_pipeline + cfg.test_pipeline
             if 'Crop' in step['type']]
    assert crops == [224, 224] == [backbone.vit.img_size] * 2
    assert backbone.vit.img_size % backbone.vit.patch_size == 0
    assert cfg.model.data_preprocessor.mean == [123.675, 116.28, 103.53]
    assert cfg.model.data_preprocessor.std == [58.395, 57.12, 57.375]
    for key in ('head', 'decoder', 'padding_mode', 'vocab'):
        assert cfg.model[key] == clip.model[key], key
    for key in ('train_dataloader', 'val_evaluator', 'train_cfg', 'optim_wrapper',
                'param_scheduler', 'default_hooks'):
        assert cfg[key] == clip[key], key

    with torch.device('meta'):
        vit = MODELS.build(dict(backbone, pretrained=None))
    assert isinstance(vit, AdaptSignMMPretrainViT) and vit.out_channels == 768
    assert vit.pos_embed.shape == (1, 1 + 16 * 16, 768)


def test_dinov2_recipe_trains_a_step_with_a_tiny_vit():
    """The recipe's model (preprocessor, backbone, head, losses) end to end."""
    cfg = Config.fromfile(DINOV2_RECIPE)
    cfg.merge_from_dict({
        'model.vocab': VOCAB,
        'model.backbone.pretrained': None,
        'model.backbone.vit': dict(_delete_=True, arch=TINY_ARCH, img_size=28, patch_size=14,
                                   layer_scale_init_value=1e-5),
        'model.head.hidden_channels': 16})
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert isinstance(model, SignRecognizer)
    assert model.head.temporal_conv.temporal_conv[0].in_channels == 64  # the ViT's width
    inputs, samples = [], []
    for length, glosses in [(12, [1, 2]), (16, [3, 4, 3])]:
        inputs.append(torch.randint(0, 256, (length, 3, 28, 28), dtype=torch.uint8))
        sample = ActionDataSample()
        sample.set_metainfo(dict(sample_id=f'video{length}', signer='S1', num_frames=length,
                                 gt_gloss_text=[VOCAB[k - 1] for k in glosses]))
        sample.gt_glosses = torch.tensor(glosses)
        samples.append(sample)
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), True)
    losses = model(**data, mode='loss')
    total = sum(value for key, value in losses.items() if key.startswith('loss'))
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.blocks[0].spatial_adapter.c_out.weight.grad is not None
    assert model.backbone.blocks[0].frozen.attn.qkv.weight.grad is None


def test_tiny_recipe_is_the_synthetic_recipe_with_a_tiny_mmpretrain_vit():
    cfg, synthetic = Config.fromfile(TINY_RECIPE), Config.fromfile(SYNTHETIC_RECIPE)
    backbone = cfg.model.backbone
    assert backbone.type == 'AdaptSignMMPretrainViT' and backbone.pretrained is None
    assert backbone.vit.img_size == synthetic.image_size
    assert backbone.vit.img_size % backbone.vit.patch_size == 0
    for key in ('num_prefix_tokens', 'temporal_edge'):
        assert backbone[key] == synthetic.model.backbone[key], key
    for key in set(cfg.model) - {'backbone'}:
        assert cfg.model[key] == synthetic.model[key], key
    for key in set(cfg) - {'model', 'filename'}:
        assert cfg[key] == synthetic[key], key


class ValidateBeforeTraining(Hook):
    """Runs the validation loop once before the first iteration: the untrained WER."""

    def before_train(self, runner) -> None:
        self.metrics = runner.val_loop.run()


@pytest.mark.slow
def test_tiny_recipe_trains_on_synthetic_data_and_its_wer_falls(tmp_path,
                                                                unformatted_config_text):
    """150 iterations on a small generated set (4 glosses, two-gloss sentences), constant
    lr: the sequence WER on the held-out dev signers leaves the untrained model's (100 %
    or more) for below 50 %."""
    epochs = 25  # of 6 iterations: 48 videos, 8 per batch
    options = {
        'work_dir': str(tmp_path / 'work'),
        'train_cfg.max_epochs': epochs,
        'train_cfg.val_interval': epochs,
        'optim_wrapper.optimizer.lr': 3e-3,
        'param_scheduler': None,
        'default_hooks.checkpoint.interval': -1,
        'default_hooks.logger.interval': 20,
        'visualizer.vis_backends': [dict(type='LocalVisBackend')],
        'randomness': dict(seed=0),
    }
    generator = dict(num_glosses=4, min_glosses=2, max_glosses=2, num_train=48, num_dev=16,
                     num_test=2)
    for loader in ('train_dataloader', 'val_dataloader'):
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
        options[f'{loader}.dataset.data_root'] = str(tmp_path / 'synthetic')
        for key, value in generator.items():
            options[f'{loader}.dataset.generator.{key}'] = value
    cfg = Config.fromfile(TINY_RECIPE)
    cfg.merge_from_dict(options)
    runner = Runner.from_cfg(cfg)
    assert isinstance(runner.model.backbone, AdaptSignMMPretrainViT)
    untrained = ValidateBeforeTraining()
    runner.register_hook(untrained, priority='LOWEST')
    runner.train()

    before = untrained.metrics['wer/seq']
    after = runner.message_hub.get_scalar('val/wer/seq').current()
    assert before >= 90 and after < 50, (before, after)
