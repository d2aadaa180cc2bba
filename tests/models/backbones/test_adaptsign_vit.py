"""AdaptSignViT: CLIP parity, packing, freezing, weight loading, parameter counts."""
import json
import os.path as osp
import re

import open_clip
import pytest
import torch
from mmaction.registry import MODELS
from safetensors.torch import save_file

from mmsign.models.backbones import AdaptSignViT
from mmsign.models.backbones.clip_vit import resolve_pretrained

TINY = dict(width=64, layers=2, heads=2, patch_size=16, image_size=32, output_dim=32)
TINY_OPEN_CLIP = dict(width=64, layers=2, head_width=32, patch_size=16, image_size=32)
TINY_TEXT = dict(context_length=8, vocab_size=64, width=32, heads=2, layers=1)


def _perturb_(module: torch.nn.Module, scale: float = 0.1) -> None:
    """Move every parameter off its initial value (zero adapters, unit LayerNorms ...)."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * scale)


@pytest.fixture(scope='module')
def clip_model():
    """A tiny open_clip CLIP (QuickGELU) with non-trivial weights everywhere."""
    torch.manual_seed(0)
    model = open_clip.CLIP(TINY['output_dim'], TINY_OPEN_CLIP, TINY_TEXT, quick_gelu=True)
    _perturb_(model)
    return model.eval()


@pytest.fixture(scope='module')
def clip_files(clip_model, tmp_path_factory):
    """The tiny CLIP saved the ways CLIP weights are distributed."""
    root = tmp_path_factory.mktemp('clip')
    files = dict(state_dict=str(root / 'openai_state_dict.pt'),
                 open_clip=str(root / 'open_clip_epoch_1.pt'),
                 safetensors=str(root / 'open_clip_model.safetensors'),
                 torchscript=str(root / 'ViT-tiny.pt'))
    # OpenAI's files hold fp16 weights.
    fp16 = {k: v.half() for k, v in clip_model.state_dict().items()}
    torch.save(fp16, files['state_dict'])
    torch.save({'epoch': 1, 'name': 'tiny',
                'state_dict': {'module.' + k: v for k, v in clip_model.state_dict().items()}},
               files['open_clip'])
    save_file(clip_model.state_dict(), files['safetensors'])
    half = open_clip.CLIP(TINY['output_dim'], TINY_OPEN_CLIP, TINY_TEXT, quick_gelu=True)
    half.load_state_dict(fp16)
    with pytest.warns(FutureWarning):  # torch.jit.script is deprecated, OpenAI's files exist
        torch.jit.script(half.half()).save(files['torchscript'])
    return files


def _frames(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def _trained_like(**kwargs) -> AdaptSignViT:
    """A tiny backbone whose new parts all have non-zero, non-initial values."""
    torch.manual_seed(1)
    model = AdaptSignViT(TINY, **kwargs)
    _perturb_(model)
    with torch.no_grad():
        model.temporal.weight.fill_(0.7)
    return model


@pytest.mark.parametrize('temporal_window', [None, 5])
def test_equals_open_clip_with_new_parts_off(clip_model, clip_files, temporal_window):
    """Prefix off, adapters and temporal weight at their zero init, alpha = (1, 0)."""
    model = AdaptSignViT(TINY, pretrained=clip_files['open_clip'], num_prefix_tokens=0,
                         temporal_window=temporal_window).eval()
    with torch.no_grad():
        model.alpha.copy_(torch.tensor([1.0, 0.0]))
    frames = _frames(7)
    with torch.no_grad():
        expected = clip_model.visual(frames)
        out = model(frames, [4, 3])
    assert out.shape == (7, model.out_channels) == (7, 32)
    assert (out - expected).abs().max().item() < 1e-5


@pytest.mark.parametrize('temporal_edge', ['zeros', 'replicate'])
def test_packed_videos_equal_separate_forwards(temporal_edge):
    model = _trained_like(temporal_edge=temporal_edge).eval()
    lengths = [5, 9, 3]
    frames = _frames(sum(lengths))
    with torch.no_grad():
        packed = model(frames, lengths)
        separate = torch.cat([model(video, [len(video)])
                              for video in frames.split(lengths)])
        # The term being tested is active: neighbours change the features.
        single_frames = model(frames, [1] * sum(lengths))
    torch.testing.assert_close(packed, separate, rtol=1e-5, atol=1e-5)
    assert (packed - single_frames).abs().max() > 1e-3


def test_replicate_edge_equals_released_frame_padding():
    """Released code: a video padded with copies of its edge frames, window with zeros."""
    model = _trained_like(temporal_edge='replicate').eval()
    zeros = _trained_like(temporal_edge='zeros').eval()
    frames = _frames(6)
    padded = torch.cat([frames[:1].expand(6, -1, -1, -1), frames,
                        frames[-1:].expand(6, -1, -1, -1)])
    with torch.no_grad():
        expected = zeros(padded, [len(padded)])[6:-6]
        out = model(frames, [6])
        plain = zeros(frames, [6])
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert (out - plain).abs().max() > 1e-3  # the two edge modes differ at the edges


@pytest.mark.parametrize('train_query', [False, True])
def test_gradients_reach_exactly_trainable_parameters(train_query):
    model = _trained_like(train_query=train_query).train()
    frozen_names = {'conv1.weight', 'class_embedding', 'positional_embedding',
                    'ln_pre.weight', 'ln_pre.bias'}
    frozen_names |= {name for name, _ in model.named_parameters() if '.frozen.' in name}
    if not train_query:
        frozen_names.add('aggregation.query')
    params = dict(model.named_parameters())
    assert {name for name, p in params.items() if not p.requires_grad} == frozen_names
    before = {name: p.detach().clone() for name, p in params.items()}

    optimizer = torch.optim.Adam([p for p in params.values() if p.requires_grad], lr=1e-2,
                                 weight_decay=1e-4)
    model(_frames(8), [5, 3]).square().mean().backward()
    for name, p in params.items():
        if name in frozen_names:
            assert p.grad is None, name
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    optimizer.step()
    for name, p in params.items():
        if name in frozen_names:
            assert torch.equal(p, before[name]), name
        else:
            assert not torch.equal(p, before[name]), name


def test_train_mode_keeps_frozen_and_changes_nothing():
    model = _trained_like()
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    frames = _frames(6)
    with torch.no_grad():
        eval_out = model.eval()(frames, [6])
        train_out = model.train()(frames, [6])
    assert {name for name, p in model.named_parameters() if not p.requires_grad} == frozen
    torch.testing.assert_close(train_out, eval_out, rtol=0, atol=0)  # no dropout anywhere


@pytest.mark.parametrize('mode', ['selective', 'full'])
def test_checkpointing_gives_same_outputs_and_gradients(mode):
    frames = _frames(7)
    results = []
    for checkpointing in ['none', mode]:
        model = _trained_like(checkpointing=checkpointing).train()
        out = model(frames, [4, 3])
        out.square().mean().backward()
        results.append((out.detach(), {name: p.grad for name, p in model.named_parameters()
                                       if p.requires_grad}))
    torch.testing.assert_close(results[1][0], results[0][0])
    for name, grad in results[0][1].items():
        torch.testing.assert_close(results[1][1][name], grad, msg=name)


def test_bf16_autocast_forward_and_backward():
    model = _trained_like().train()
    frames = _frames(6)
    with torch.no_grad():
        reference = model(frames, [2, 4])
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = model(frames, [2, 4])
    assert out.dtype == torch.bfloat16
    assert (out.float() - reference).norm() / reference.norm() < 0.05
    out.float().square().mean().backward()
    assert model.blocks[0].prefix.key.grad is not None
    assert model.blocks[0].frozen.attn.in_proj_weight.grad is None


@pytest.mark.parametrize('kind', ['state_dict', 'open_clip', 'safetensors', 'torchscript'])
def test_loads_clip_checkpoint_files(clip_model, clip_files, kind):
    model = AdaptSignViT(TINY, pretrained=clip_files[kind])
    model.init_weights()  # the Runner calls it before training: it must keep CLIP's weights
    expected = {k[len('visual.'):]: v for k, v in clip_model.state_dict().items()
                if k.startswith('visual.')}
    if kind in ('state_dict', 'torchscript'):
        expected = {k: v.half().float() for k, v in expected.items()}
    state = model.state_dict()
    names = model.pretrained_parameter_names()
    assert len(names) == len(expected)
    for name in names:
        clip_name = re.sub(r'^blocks\.(\d+)\.frozen\.', r'transformer.resblocks.\1.', name)
        torch.testing.assert_close(state[name], expected[clip_name], rtol=0, atol=0,
                                   msg=name)


def test_loading_is_strict(clip_files, tmp_path):
    wider = dict(TINY, layers=3)
    with pytest.raises(ValueError, match=r'missing \[.*transformer\.resblocks\.2\.'):
        AdaptSignViT(wider, pretrained=clip_files['state_dict'])
    text_only = str(tmp_path / 'text_only.pt')
    torch.save({'token_embedding.weight': torch.zeros(4, 4)}, text_only)
    with pytest.raises(KeyError, match='no CLIP image tower'):
        AdaptSignViT(TINY, pretrained=text_only)
    with pytest.raises(FileNotFoundError, match='neither a file nor'):
        AdaptSignViT(TINY, pretrained=str(tmp_path / 'missing.pt'))


def test_pretrained_tags_need_quick_gelu_weights():
    with pytest.raises(ValueError, match='GELU'):
        resolve_pretrained('ViT-B-16', 'laion2b_s34b_b88k')
    with pytest.raises(FileNotFoundError, match='tags'):
        resolve_pretrained('ViT-B-16', 'no_such_tag')


def test_rejects_bad_lengths_and_sizes():
    model = AdaptSignViT(TINY)
    with pytest.raises(ValueError, match='sum to the 5 packed frames'):
        model(_frames(5), [2, 2])
    with pytest.raises(ValueError, match='32 pixels'):
        model(torch.randn(2, 3, 48, 48), [2])
    with pytest.raises(ValueError, match='not an OpenAI-layout ViT'):
        AdaptSignViT('RN50')


def test_builds_from_registry():
    model = MODELS.build(dict(type='AdaptSignViT', arch=TINY, temporal_edge='replicate'))
    assert isinstance(model, AdaptSignViT) and model.out_channels == 32


# Official key (conv2d.visual. removed) -> mmsign key.
OFFICIAL_TO_MMSIGN = [
    (r'transformer\.resblocks\.(\d+)\.prefix_embedding_k', r'blocks.\1.prefix.key'),
    (r'transformer\.resblocks\.(\d+)\.prefix_embedding_v', r'blocks.\1.prefix.value'),
    (r'transformer\.resblocks\.(\d+)\.S_Adapter\.mlp\.', r'blocks.\1.spatial_adapter.'),
    (r'transformer\.resblocks\.(\d+)\.MLP_Adapter\.mlp\.', r'blocks.\1.mlp_adapter.'),
    (r'transformer\.resblocks\.(\d+)\.', r'blocks.\1.frozen.'),
    (r'transformer\.aggblocks\.', 'aggregation.blocks.'),
    (r'transformer\.query', 'aggregation.query'),
    (r'transformer\.taggblocks\.ln_1\.', 'temporal.ln.'),
    (r'transformer\.temporal_ada_weight', 'temporal.weight'),
    (r'ada_weight', 'alpha'),
]


def test_vit_b16_matches_released_model(release_data):
    """Counts and parameter layout of the released ViT-B/16 AdaptSign backbone."""
    with torch.device('meta'):
        model = AdaptSignViT('ViT-B-16')
    assert model.parameter_counts() == {'trainable': 50_205_699, 'frozen': 85_798_656}
    assert model.out_channels == 512

    with open(osp.join(release_data, 'official_adaptsign_vitb16_state_dict_keys.json')) as f:
        official = [entry for entry in json.load(f)['keys']
                    if entry['key'].startswith('conv2d.visual.')]
    params = dict(model.named_parameters())
    mapped = set()
    for entry in official:
        name = entry['key'][len('conv2d.visual.'):]
        for pattern, replacement in OFFICIAL_TO_MMSIGN:
            name, hits = re.subn('^' + pattern, replacement, name)
            if hits:
                break
        p = params[name]
        assert p.numel() == torch.Size(entry['shape']).numel(), name
        assert p.requires_grad == entry['trainable'], name
        mapped.add(name)
    assert mapped == set(params)
