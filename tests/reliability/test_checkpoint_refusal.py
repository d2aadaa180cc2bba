"""Checkpoints that do not fit are refused, whatever the cause (issue 17): another
backbone, missing trained tensors, tensors the model has no place for, a file that is no
checkpoint at all. Before, a checkpoint of the open_clip recipe evaluated with the
mmpretrain recipe only logged mmengine's key warnings, evaluated a backbone that was
never loaded, reported WER 100 % and exited 0."""
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from reliability_helpers import GENERATOR, REPO, TEST, log_of, run_tool

from mmsign.apis import init_recognizer
from mmsign.engine import CheckpointCompatibilityHook, CheckpointError, check_checkpoint
from mmsign.engine.checkpoint import check_checkpoint_file

CLIP_RECIPE = osp.join(REPO, 'configs', 'adaptsign_synthetic.py')
MMPRETRAIN_RECIPE = osp.join(REPO, 'configs', 'adaptsign_tiny-mmpretrain_synthetic.py')


def _model(recipe: str, **backbone):
    cfg = Config.fromfile(recipe)
    torch.manual_seed(0)
    model_cfg = dict(cfg.model)
    model_cfg['backbone'] = dict(cfg.model.backbone, **backbone)
    return MODELS.build(model_cfg), cfg


def _runner(model, cfg, training=False, pretrained=None):
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)) if training else None
    model_cfg = dict(type=cfg.model.type, backbone=dict(pretrained=pretrained))
    return SimpleNamespace(model=model, optim_wrapper=optim,
                           cfg=Config(dict(load_from='work/epoch_3.pth', model=model_cfg)))


def _checkpoint(state_dict, glosses):
    return dict(state_dict=state_dict, meta=dict(dataset_meta=dict(glosses=list(glosses))))


@pytest.fixture(scope='module')
def clip():
    return _model(CLIP_RECIPE)


@pytest.fixture(scope='module')
def mmpretrain():
    return _model(MMPRETRAIN_RECIPE)


def test_checkpoint_of_another_backbone_is_refused(clip, mmpretrain):
    hook = CheckpointCompatibilityHook()
    (theirs, cfg), (ours, ours_cfg) = clip, mmpretrain
    checkpoint = _checkpoint(theirs.state_dict(), cfg.glosses)
    for training in (False, True):
        with pytest.raises(CheckpointError) as info:
            hook.after_load_checkpoint(_runner(ours, ours_cfg, training), checkpoint)
        message = str(info.value)
        assert message.startswith('work/epoch_3.pth does not fit the model: it holds another '
                                  "backbone than the model's AdaptSignMMPretrainViT")
        assert 'conv1' in message and 'patch_embed' in message
        assert 'Use the config it was trained with' in message
    # Its own checkpoint fits.
    hook.after_load_checkpoint(_runner(ours, ours_cfg), _checkpoint(ours.state_dict(),
                                                                     ours_cfg.glosses))


def test_missing_trained_and_unexpected_tensors_are_refused_for_evaluation(mmpretrain):
    hook = CheckpointCompatibilityHook()
    model, cfg = mmpretrain
    state = dict(model.state_dict())
    del state['head.classifier.weight']
    del state['backbone.alpha']
    with pytest.raises(CheckpointError, match=r"it lacks 2 of the model's tensors "
                       r'\(backbone.alpha, head.classifier.weight\): they would keep their '
                       'random initial values'):
        hook.after_load_checkpoint(_runner(model, cfg), _checkpoint(state, cfg.glosses))
    # Fine-tuning from load_from may leave the classifier out (another vocabulary).
    hook.after_load_checkpoint(_runner(model, cfg, training=True),
                               _checkpoint(state, cfg.glosses))

    extra = dict(model.state_dict(), **{'head.extra.weight': torch.zeros(2)})
    with pytest.raises(CheckpointError, match=r'it holds 1 tensors the model has no place '
                       r'for \(head.extra.weight\)'):
        hook.after_load_checkpoint(_runner(model, cfg), _checkpoint(extra, cfg.glosses))
    wrapped = {'module.' + k: v for k, v in model.state_dict().items()}
    hook.after_load_checkpoint(_runner(model, cfg), _checkpoint(wrapped, cfg.glosses))


def test_trainable_only_checkpoint_needs_the_pretrained_vit(clip):
    hook = CheckpointCompatibilityHook()
    model, cfg = clip
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert 'backbone.conv1.weight' in frozen and 'backbone.proj' not in frozen
    trainable = {k: v for k, v in model.state_dict().items()
                 if k not in frozen or k == 'backbone.aggregation.query'}
    checkpoint = _checkpoint(trainable, cfg.glosses)
    # The synthetic recipe has pretrained=None: the frozen ViT would stay random.
    with pytest.raises(CheckpointError, match=r'lacks \d+ of the model.s tensors '
                       r'\(backbone.class_embedding, .*backbone.conv1.weight, .*needs the '
                       'frozen ViT from model.backbone.pretrained'):
        hook.after_load_checkpoint(_runner(model, cfg), checkpoint)
    hook.after_load_checkpoint(_runner(model, cfg, pretrained='clip.pt'), checkpoint)
    # The trained ln_post / proj cannot come from the pretrained file.
    del trainable['backbone.proj']
    with pytest.raises(CheckpointError, match=r'lacks 1 of .* \(backbone.proj\)'):
        hook.after_load_checkpoint(_runner(model, cfg, pretrained='clip.pt'), checkpoint)


def test_random_bytes_are_not_a_checkpoint(tmp_path):
    path = tmp_path / 'weights.pth'
    data = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    assert not data.startswith((b'PK', b'\x80'))
    path.write_bytes(data)
    for check in (check_checkpoint_file, check_checkpoint):
        with pytest.raises(CheckpointError,
                           match='not a checkpoint at all: neither a zip archive') as info:
            check(str(path))
        assert 'weights_only' not in str(info.value)
    with pytest.raises(CheckpointError, match='not a checkpoint'):
        init_recognizer(CLIP_RECIPE, str(path))


def test_inference_refuses_a_checkpoint_of_another_backbone(clip, tmp_path):
    model, cfg = clip
    path = str(tmp_path / 'clip.pth')
    torch.save(_checkpoint(model.state_dict(), cfg.glosses), path)
    with pytest.raises(CheckpointError, match='another backbone'):
        init_recognizer(MMPRETRAIN_RECIPE, path)
    assert init_recognizer(CLIP_RECIPE, path).vocab.glosses == cfg.glosses


@pytest.mark.slow
def test_tools_test_refuses_the_open_clip_recipes_checkpoint(clip, data_root, tmp_path):
    """The new user's try of the issue, through the command line."""
    model, cfg = clip
    checkpoint = str(tmp_path / 'open_clip_recipe.pth')
    torch.save(_checkpoint(model.state_dict(), cfg.glosses), checkpoint)
    loader = ('dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict('
              f'data_root={data_root!r}, generator={GENERATOR!r}))')
    config = tmp_path / 'config.py'
    config.write_text(f'_base_ = [{MMPRETRAIN_RECIPE!r}]\n'
                      f'val_dataloader = {loader}\ntest_dataloader = {loader}\n')
    result = run_tool([TEST, str(config), checkpoint, '--work-dir', str(tmp_path / 'work')],
                      cwd=str(tmp_path))
    log = log_of(result)
    assert result.returncode != 0
    assert (f"CheckpointError: {checkpoint} does not fit the model: it holds another "
            "backbone than the model's AdaptSignMMPretrainViT") in log
    assert 'Epoch(test)' not in log
    noise = tmp_path / 'noise.pth'
    noise.write_bytes(np.random.default_rng(1).integers(1, 127, 4096,
                                                        dtype=np.uint8).tobytes())
    result = run_tool([TEST, str(config), str(noise), '--work-dir', str(tmp_path / 'work')],
                      cwd=str(tmp_path))
    log = log_of(result)
    assert result.returncode != 0 and 'not a checkpoint' in log
    assert 'weights_only' not in log
