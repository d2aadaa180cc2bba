"""AdaptSignMMPretrainViT: mmpretrain parity, position-embedding resizing, packing,
freezing, weight loading, unsupported ViTs."""
import re
from unittest import mock

import pytest
import torch
from mmaction.registry import MODELS
from mmpretrain.models import VisionTransformer
from mmpretrain.models.utils import resize_pos_embed

from mmsign.models.backbones import AdaptSignMMPretrainViT, AdaptSignViT, FrozenMMPretrainBlock

TINY_ARCH = dict(embed_dims=64, num_layers=2, num_heads=2, feedforward_channels=128)
# Tiny twins of the mmpretrain ViT families AdaptSign supports.
VITS = {
    'vit': dict(arch=TINY_ARCH, img_size=32, patch_size=16),
    'dinov2': dict(arch=TINY_ARCH, img_size=28, patch_size=14, layer_scale_init_value=1e-5),
    'clip': dict(arch=TINY_ARCH, img_size=32, patch_size=16, pre_norm=True),
    'swiglu_no_qkv_bias_no_final_norm': dict(
        arch=TINY_ARCH, img_size=32, patch_size=16, layer_scale_init_value=1e-5,
        qkv_bias=False, final_norm=False, layer_cfgs=dict(ffn_type='swiglu_fused')),
}
DINOV2 = VITS['dinov2']


def _perturb_(module: torch.nn.Module, scale: float = 0.1) -> None:
    """Move every parameter off its initial value (zero adapters, unit LayerNorms ...)."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * scale)


def _reference_vit(vit: dict, seed: int = 0) -> VisionTransformer:
    """mmpretrain's own ViT with non-trivial weights everywhere, in eval mode."""
    torch.manual_seed(seed)
    reference = VisionTransformer(**vit)
    _perturb_(reference)
    reference.eval()  # mmpretrain's BaseBackbone.train() returns None: no chaining
    return reference


def _save_mmpretrain_checkpoint(vit: VisionTransformer, path, **extra) -> str:
    """As the OpenMMLab model zoo publishes them: a classifier's state dict and meta."""
    state = {'backbone.' + key: value for key, value in vit.state_dict().items()}
    state['head.fc.weight'] = torch.zeros(10, vit.embed_dims)
    state.update(extra)
    torch.save({'meta': {'mmpretrain_version': '1.2.0'}, 'state_dict': state}, str(path))
    return str(path)


def _frames(n: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _trained_like(vit: dict = DINOV2, **kwargs) -> AdaptSignMMPretrainViT:
    """A tiny backbone whose new parts all have non-zero, non-initial values."""
    torch.manual_seed(1)
    model = AdaptSignMMPretrainViT(vit, **kwargs)
    _perturb_(model)
    with torch.no_grad():
        model.temporal.weight.fill_(0.7)
    return model


def _to_mmpretrain_name(name: str) -> str:
    name = re.sub(r'^blocks\.(\d+)\.frozen\.', r'layers.\1.', name)
    return re.sub(r'^ln_post\.', 'ln1.', name)


@pytest.mark.parametrize('temporal_window', [None, 5])
@pytest.mark.parametrize('family', sorted(VITS))
def test_equals_mmpretrain_with_new_parts_off(family, temporal_window, tmp_path):
    """Prefix off, adapters and temporal weight at their zero init, alpha = (1, 0)."""
    vit = VITS[family]
    reference = _reference_vit(vit)
    path = _save_mmpretrain_checkpoint(reference, tmp_path / 'vit.pth')
    model = AdaptSignMMPretrainViT(vit, pretrained=path, num_prefix_tokens=0,
                                   temporal_window=temporal_window).eval()
    with torch.no_grad():
        model.alpha.copy_(torch.tensor([1.0, 0.0]))
    size = vit['img_size']
    for frames in [_frames(7, size), _frames(3, 2 * size)]:  # mmpretrain resizes pos_embed
        with torch.no_grad():
            expected, = reference(frames)
            out = model(frames, [4, 3] if len(frames) == 7 else [3])
        assert out.shape == expected.shape == (len(frames), model.out_channels)
        assert (out - expected).abs().max().item() < 1e-5


def test_checkpoint_of_another_input_size_is_resized(tmp_path):
    """DINOv2's files are for 518 pixels; the recipe uses 224: pos_embed is resized once."""
    trained_at = dict(DINOV2, img_size=42)                     # 3 x 3 patches
    reference_file = _reference_vit(trained_at)
    path = _save_mmpretrain_checkpoint(reference_file, tmp_path / 'vit_42px.pth')
    # mmpretrain's own ViT at the new size, loading the file (its load hook resizes).
    reference = VisionTransformer(**DINOV2)                    # 2 x 2 patches
    reference.load_state_dict({key[len('backbone.'):]: value for key, value in
                               torch.load(path)['state_dict'].items()
                               if key.startswith('backbone.')})
    reference.eval()

    with mock.patch('mmsign.models.backbones.adaptsign_base.print_log') as log:
        model = AdaptSignMMPretrainViT(DINOV2, pretrained=path, num_prefix_tokens=0).eval()
    assert 'pos_embed resized from 3x3 to 2x2 patches' in log.call_args[0][0]
    expected_pos = resize_pos_embed(reference_file.pos_embed, (3, 3), (2, 2))
    torch.testing.assert_close(model.pos_embed, expected_pos, rtol=0, atol=0)
    with torch.no_grad():
        model.alpha.copy_(torch.tensor([1.0, 0.0]))
        frames = _frames(4, 28)
        assert (model(frames, [4]) - reference(frames)[0]).abs().max().item() < 1e-5


@pytest.mark.parametrize('temporal_edge', ['zeros', 'replicate'])
def test_packed_videos_equal_separate_forwards(temporal_edge):
    model = _trained_like(temporal_edge=temporal_edge).eval()
    lengths = [5, 9, 3]
    frames = _frames(sum(lengths), 28)
    with torch.no_grad():
        packed = model(frames, lengths)
        separate = torch.cat([model(video, [len(video)])
                              for video in frames.split(lengths)])
        # The term being tested is active: neighbours change the features.
        single_frames = model(frames, [1] * sum(lengths))
    torch.testing.assert_close(packed, separate, rtol=1e-5, atol=1e-5)
    assert (packed - single_frames).abs().max() > 1e-3


@pytest.mark.parametrize('family', ['dinov2', 'clip'])
def test_gradients_reach_exactly_trainable_parameters(family):
    model = _trained_like(VITS[family]).train()
    frozen_names = {'patch_embed.projection.weight', 'cls_token', 'pos_embed',
                    'aggregation.query'}
    if family == 'clip':  # pre_norm=True: CLIP's ln_pre, no patch-embedding bias
        frozen_names |= {'pre_norm.weight', 'pre_norm.bias'}
    else:
        frozen_names.add('patch_embed.projection.bias')
    frozen_names |= {name for name, _ in model.named_parameters() if '.frozen.' in name}
    params = dict(model.named_parameters())
    assert {name for name, p in params.items() if not p.requires_grad} == frozen_names
    assert any('gamma1' in name for name in frozen_names) == (family == 'dinov2')
    before = {name: p.detach().clone() for name, p in params.items()}

    optimizer = torch.optim.Adam([p for p in params.values() if p.requires_grad], lr=1e-2)
    size = VITS[family]['img_size']
    model(_frames(8, size), [5, 3]).square().mean().backward()
    for name, p in params.items():
        if name in frozen_names:
            assert p.grad is None, name
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    optimizer.step()
    for name, p in params.items():
        assert torch.equal(p, before[name]) == (name in frozen_names), name


def test_train_mode_changes_nothing():
    model = _trained_like()
    frames = _frames(6, 28)
    with torch.no_grad():
        eval_out = model.eval()(frames, [6])
        train_out = model.train()(frames, [6])
    torch.testing.assert_close(train_out, eval_out, rtol=0, atol=0)  # no dropout anywhere


@pytest.mark.parametrize('family', ['dinov2', 'clip'])
def test_bf16_autocast_forward_and_backward(family):
    model = _trained_like(VITS[family]).train()
    frames = _frames(6, VITS[family]['img_size'])
    with torch.no_grad():
        reference = model(frames, [2, 4])
    with torch.autocast('cpu', dtype=torch.bfloat16):
        tokens = model.embed(frames)
        attn_input = model.blocks[0].frozen.attn_norm(tokens)
        out = model(frames, [2, 4])
    # nn.LayerNorm (CLIP's pre_norm, ln1) would return fp32 under autocast.
    assert tokens.dtype == attn_input.dtype == torch.bfloat16
    assert (out.float() - reference).norm() / reference.norm() < 0.05
    out.float().square().mean().backward()
    assert model.blocks[0].prefix.key.grad is not None
    assert model.blocks[0].frozen.attn.qkv.weight.grad is None


def test_loads_every_vit_tensor_and_init_weights_keeps_them(tmp_path):
    reference = _reference_vit(DINOV2)
    # Pretraining's mask token (DINOv2, MAE) has no place in the ViT: named and ignored.
    path = _save_mmpretrain_checkpoint(reference, tmp_path / 'vit.pth',
                                       **{'backbone.mask_token': torch.zeros(1, 64)})
    with mock.patch('mmsign.models.backbones.adaptsign_base.print_log') as log:
        model = AdaptSignMMPretrainViT(DINOV2, pretrained=path)
    assert "1 tensors of the file outside the backbone (head, neck ...) and ['mask_token'] " \
        'ignored' in log.call_args[0][0]
    model.init_weights()  # the Runner calls it before training: it must keep the weights
    expected = reference.state_dict()
    state = model.state_dict()
    names = model.pretrained_parameter_names()
    assert len(names) == len(expected)
    for name in names:
        torch.testing.assert_close(state[name], expected[_to_mmpretrain_name(name)],
                                   rtol=0, atol=0, msg=name)


def test_loading_is_strict(tmp_path):
    path = _save_mmpretrain_checkpoint(_reference_vit(DINOV2), tmp_path / 'vit.pth')
    deeper = dict(DINOV2, arch=dict(TINY_ARCH, num_layers=3))
    with pytest.raises(ValueError, match=r"missing \['layers\.2\."):
        AdaptSignMMPretrainViT(deeper, pretrained=path)
    # DINOv2 without layer_scale_init_value: its layer scales must not be dropped.
    with pytest.raises(ValueError, match=r'unexpected \[.layers\.0\.attn\.gamma1'):
        AdaptSignMMPretrainViT(dict(DINOV2, layer_scale_init_value=0.0), pretrained=path)
    with pytest.raises(ValueError, match=r'missing \[.layers\.0\.attn\.gamma1'):
        AdaptSignMMPretrainViT(DINOV2, pretrained=_save_mmpretrain_checkpoint(
            _reference_vit(dict(DINOV2, layer_scale_init_value=0.0)), tmp_path / 'no_ls.pth'))
    with pytest.raises(ValueError, match=r'shape mismatches \[.patch_embed'):
        AdaptSignMMPretrainViT(dict(DINOV2, patch_size=16, img_size=32), pretrained=path)
    classifier_head = str(tmp_path / 'head_only.pth')
    torch.save({'state_dict': {'head.fc.weight': torch.zeros(2, 2)}}, classifier_head)
    with pytest.raises(KeyError, match='has no mmpretrain ViT'):
        AdaptSignMMPretrainViT(DINOV2, pretrained=classifier_head)
    with pytest.raises(FileNotFoundError):
        AdaptSignMMPretrainViT(DINOV2, pretrained=str(tmp_path / 'missing.pth'))


@pytest.mark.parametrize('vit, match', [
    (dict(type='BEiTViT', arch='base'), 'VisionTransformer only'),
    (dict(DINOV2, drop_path_rate=0.1), 'no dropout'),
    (dict(DINOV2, out_type='avg_featmap'), 'class token'),
    (dict(DINOV2, init_cfg=dict(type='Pretrained', checkpoint='x.pth')), '`pretrained`'),
    (dict(DINOV2, frozen_stages=12), 'unsupported keys'),
])
def test_rejects_what_adaptsign_cannot_wrap(vit, match):
    with pytest.raises(ValueError, match=match):
        AdaptSignMMPretrainViT(vit)


def test_rejects_dropout_inside_blocks():
    with pytest.raises(ValueError, match='drop rates to 0'):
        AdaptSignMMPretrainViT(dict(DINOV2, layer_cfgs=dict(drop_rate=0.1)))


def test_rejects_bad_lengths():
    model = AdaptSignMMPretrainViT(DINOV2)
    with pytest.raises(ValueError, match='sum to the 5 packed frames'):
        model(_frames(5, 28), [2, 2])


def test_builds_from_registry():
    model = MODELS.build(dict(type='AdaptSignMMPretrainViT',
                              vit=dict(type='mmpretrain.VisionTransformer', **DINOV2),
                              temporal_edge='replicate'))
    assert isinstance(model, AdaptSignMMPretrainViT) and model.out_channels == 64


def test_dinov2_b14_has_the_adaptsign_modules_of_clip_b16():
    """Same width, depth and heads: the same AdaptSign modules, less CLIP's projection."""
    dinov2_b14 = dict(arch='base', img_size=224, patch_size=14, layer_scale_init_value=1e-5)
    with torch.device('meta'):
        model = AdaptSignMMPretrainViT(dinov2_b14)
        vit = VisionTransformer(**dinov2_b14)
        clip_b16 = AdaptSignViT('ViT-B-16')
    vit_params = sum(p.numel() for p in vit.parameters())
    final_norm = sum(p.numel() for p in vit.ln1.parameters())
    counts = model.parameter_counts()
    assert counts['frozen'] == vit_params - final_norm + 768  # + the frozen query
    proj = 768 * 512
    assert counts['trainable'] == clip_b16.parameter_counts()['trainable'] - proj
    assert model.out_channels == 768
    assert model.pos_embed.shape == (1, 1 + 16 * 16, 768)


def test_rejects_blocks_that_are_not_plain_vit_blocks():
    vit = VisionTransformer(**DINOV2)
    vit.layers[0].attn.v_shortcut = True  # the value shortcut of some mmpretrain models
    with pytest.raises(TypeError, match='not a plain mmpretrain ViT block'):
        FrozenMMPretrainBlock(vit.layers[0])
    with pytest.raises(TypeError, match='not a plain mmpretrain ViT block'):
        FrozenMMPretrainBlock(torch.nn.Linear(4, 4))


@pytest.mark.parametrize('arch', sorted({name for name in VisionTransformer.arch_zoo
                                         if len(name) > 1}))
def test_every_mmpretrain_vit_arch_builds(arch):
    """Every arch of mmpretrain's VisionTransformer zoo (meta device: no memory)."""
    vit = dict(arch=arch, img_size=224, patch_size=14, layer_scale_init_value=1e-5)
    if arch.startswith('dinov2-g'):
        vit['layer_cfgs'] = dict(ffn_type='swiglu_fused')
    with torch.device('meta'):
        model = AdaptSignMMPretrainViT(vit)
    settings = VisionTransformer.arch_zoo[arch]
    assert model.out_channels == settings['embed_dims']
    assert len(model.blocks) == len(model.aggregation.blocks) == settings['num_layers']
    assert model.blocks[0].frozen.num_heads == settings['num_heads']
