"""CorrNetResNet and its modules against independent restatements of CORRNET_SPEC.md."""
import itertools

import pytest
import torch
import torch.nn.functional as F
import torchvision
from mmaction.registry import MODELS

from mmsign.models.backbones import (
    CorrelationIdentification,
    CorrelationModule,
    CorrNetResNet,
    IdentificationModule,
)
from mmsign.models.backbones.corrnet_modules import TemporalSegments

#: Correlation modules after layers 3 and 4 only (the released CSL-Daily model).
CORR_3_4 = {f'layer{i}': [dict(type='CorrelationIdentification')] for i in (3, 4)}


def randomize(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random values in every parameter and BatchNorm buffer (nothing at its init)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in itertools.chain(module.named_parameters(), module.named_buffers()):
            if name.endswith('num_batches_tracked'):
                continue
            values = torch.randn(tensor.shape, generator=generator, dtype=torch.float64)
            if name.endswith('running_var'):
                values = values.abs() + 0.5
            tensor.copy_(values * (0.2 if tensor.dim() > 1 else 1.0))
    return module


# ---- the spec's formulas, written out with einsum and explicit taps ---------------------
def shift_next(x):
    return torch.cat([x[:, :, 1:], x[:, :, -1:]], 2)


def shift_prev(x):
    return torch.cat([x[:, :, :1], x[:, :, :-1]], 2)


def spec_correlation(x, proj_weight, w2):
    x2 = torch.einsum('oc,bcthw->bothw', proj_weight[:, :, 0, 0, 0], x)
    nxt, prv = shift_next(x2), shift_prev(x2)
    a_n = torch.einsum('bcthw,bctsd->bthwsd', x, nxt)
    a_p = torch.einsum('bcthw,bctsd->bthwsd', x, prv)
    return (w2[0] * torch.einsum('bctsd,bthwsd->bcthw', nxt, torch.sigmoid(a_n) - 0.5)
            + w2[1] * torch.einsum('bctsd,bthwsd->bcthw', prv, torch.sigmoid(a_p) - 0.5))


def depthwise_taps(r, weight, bias, dilation):
    """A depthwise (9, 3, 3) convolution, temporal padding 4 with zeros, spatial dilation
    ``dilation``, as a sum over its 81 taps."""
    frames, height, width = r.shape[2:]
    padded = F.pad(r, (dilation, dilation, dilation, dilation, 4, 4))
    out = bias.view(1, -1, 1, 1, 1).expand_as(r).clone()
    for dt, dy, dx in itertools.product(range(9), range(3), range(3)):
        window = padded[:, :, dt:dt + frames, dy * dilation:dy * dilation + height,
                        dx * dilation:dx * dilation + width]
        out = out + weight[:, 0, dt, dy, dx].view(1, -1, 1, 1, 1) * window
    return out


def spec_identification(x, module):
    r = torch.einsum('oc,bcthw->bothw', module.reduce.weight[:, :, 0, 0, 0], x)
    aggregated = sum(
        v * depthwise_taps(r, conv.weight, conv.bias, d)
        for v, conv, d in zip(module.aggregation_weights, module.aggregations, (1, 2, 3)))
    g = torch.einsum('oc,bcthw->bothw', module.expand.weight[:, :, 0, 0, 0], aggregated)
    return torch.sigmoid(g) - 0.5


def run(module, x, lengths=None, packed=False):
    """A module on the frames of ``[B, C, T, H, W]`` videos; the result back in that shape."""
    batch, channels, frames = x.shape[:3]
    lengths = lengths or [frames] * batch
    y = module(x.transpose(1, 2).flatten(0, 1), TemporalSegments(lengths, x.device, packed))
    return y.view(batch, frames, *y.shape[1:]).transpose(1, 2)


@pytest.fixture
def features():
    return torch.randn(2, 32, 5, 4, 6, dtype=torch.float64,
                       generator=torch.Generator().manual_seed(1))


def test_correlation_module_is_the_spec_formula(features):
    module = randomize(CorrelationModule(32)).double()
    got = run(module, features)
    want = spec_correlation(features, module.neighbour_proj.weight, module.direction_weights)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    assert got.shape == features.shape


def test_identification_module_is_the_spec_formula(features):
    module = randomize(IdentificationModule(32)).double()
    got = run(module, features)
    torch.testing.assert_close(got, spec_identification(features, module), rtol=1e-10,
                               atol=1e-12)
    assert got.abs().max() < 0.5


def test_their_product_is_the_release_module_and_starts_as_the_release_does(features):
    module = randomize(CorrelationIdentification(32)).double()
    got = run(module, features)
    want = (spec_correlation(features, module.correlation.neighbour_proj.weight,
                             module.correlation.direction_weights)
            * spec_identification(features, module.identification))
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    fresh = CorrelationIdentification(64)
    assert fresh.correlation.direction_weights.tolist() == [0.5, 0.5]
    assert fresh.identification.aggregation_weights.tolist() == pytest.approx([1 / 3] * 3)
    assert fresh.identification.reduce.out_channels == 4  # C / 16
    assert [c.dilation for c in fresh.identification.aggregations] == [(1, 1, 1), (1, 2, 2),
                                                                        (1, 3, 3)]


def test_packed_videos_do_not_see_each_other(features):
    """Three videos on one time axis give what each gives alone: the neighbours and the
    9-frame convolutions stop at every video's edge."""
    module = randomize(CorrelationIdentification(32)).double()
    lengths = [3, 1, 6]
    videos = [torch.randn(1, 32, n, 4, 6, dtype=torch.float64) for n in lengths]
    packed = run(module, torch.cat(videos, 2), lengths)
    alone = torch.cat([run(module, v) for v in videos], 2)
    torch.testing.assert_close(packed, alone, rtol=1e-10, atol=1e-12)
    # Equal lengths: the direct [B, T, ...] form and the indexed one agree.
    torch.testing.assert_close(run(module, features), run(module, features, packed=True),
                               rtol=1e-10, atol=1e-12)


def test_bfloat16_affinity_stays_close_and_returns_the_input_dtype(features):
    exact = randomize(CorrelationModule(32)).float()
    bf16 = CorrelationModule(32, affinity_dtype='bfloat16')
    bf16.load_state_dict(exact.state_dict())
    x = features.float()
    got, want = run(bf16, x), run(exact, x)
    assert got.dtype == torch.float32
    assert (got - want).abs().max() < 0.05 * want.abs().max()
    with pytest.raises(ValueError, match='affinity_dtype'):
        CorrelationModule(32, affinity_dtype='half')


# ---- the backbone ----------------------------------------------------------------------
@pytest.fixture(scope='module')
def torchvision_file(tmp_path_factory):
    """A torchvision ResNet-18 checkpoint (random weights and BatchNorm statistics)."""
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18().eval()  # torchvision's initialisation
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # and BatchNorms that are not the identity
        for module in resnet.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                for tensor, offset in [(module.weight, 1.0), (module.bias, 0.0),
                                       (module.running_mean, 0.0), (module.running_var, 1.0)]:
                    noise = 0.1 * torch.randn(tensor.shape, generator=generator)
                    tensor.copy_(offset + (noise.abs() if offset else noise))
    path = tmp_path_factory.mktemp('imagenet') / 'resnet18.pth'
    state_dict = resnet.state_dict()
    for key in [k for k in state_dict if k.endswith('num_batches_tracked')]:
        del state_dict[key]  # torchvision's own file has none
    torch.save(state_dict, path)
    return str(path), resnet


@pytest.mark.parametrize('mode', ['eval', 'train'])
def test_alpha_zero_is_torchvision_resnet18_frame_by_frame(torchvision_file, mode):
    path, resnet = torchvision_file
    backbone = CorrNetResNet(pretrained=path)
    assert backbone.alpha.tolist() == [0.0, 0.0, 0.0]
    reference = torchvision.models.resnet18()
    reference.load_state_dict(resnet.state_dict())
    reference.fc = torch.nn.Identity()
    backbone.train(mode == 'train')
    reference.train(mode == 'train')
    frames = torch.randn(6, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        got = backbone(frames, [2, 4])
        want = reference(frames)
    assert got.shape == (6, 512)
    # Bit-identical on the build machine (the same 2-D kernels run); 1e-6 leaves room for
    # other CPUs reducing the average pool in another order.
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)


def test_imagenet_loading_is_strict_and_says_what_it_left(torchvision_file, tmp_path):
    path, resnet = torchvision_file
    backbone = CorrNetResNet(pretrained=path, stage_modules=CORR_3_4)
    weight = resnet.layer3[0].conv1.weight
    assert torch.equal(backbone.layer3[0].conv1.weight, weight.unsqueeze(2))
    source = backbone.pretrained_source
    assert "['fc.bias', 'fc.weight']" in source
    assert 'stage_modules.layer3.*' in source and 'alpha' in source
    assert 'num_batches_tracked' in source

    # mmpretrain's ImageClassifier layout: backbone.* and head.fc.*
    state_dict = {('head.' + k if k.startswith('fc.') else 'backbone.' + k): v
                  for k, v in resnet.state_dict().items()}
    mmpretrain = tmp_path / 'mmpretrain_resnet18.pth'
    torch.save({'state_dict': state_dict, 'meta': {}}, mmpretrain)
    loaded = CorrNetResNet(pretrained=str(mmpretrain))
    assert torch.equal(loaded.conv1.weight, resnet.conv1.weight.unsqueeze(2))
    assert torch.equal(loaded.bn1.running_var, resnet.bn1.running_var)

    broken = dict(resnet.state_dict())
    del broken['layer2.1.bn2.weight']
    broken['extra.weight'] = torch.zeros(3)
    bad = tmp_path / 'bad.pth'
    torch.save(broken, bad)
    with pytest.raises(ValueError, match=r"missing \['layer2.1.bn2.weight'\].*"
                       r"unexpected \['extra.weight'\]"):
        CorrNetResNet(pretrained=str(bad))
    with pytest.raises(ValueError, match='shape mismatches'):
        CorrNetResNet(pretrained=path, base_channels=32)


def test_packed_and_batched_paths_agree():
    backbone = randomize(CorrNetResNet(base_channels=16)).double().eval()
    frames = torch.randn(12, 3, 32, 32, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        batched = backbone(frames, [6, 6])             # one [2, 3, 6, H, W] batch
        packed = backbone.forward_packed(frames, [6, 6])
        videos = backbone.forward_videos(frames.view(2, 6, 3, 32, 32).transpose(1, 2))
        mixed = backbone(frames, [5, 7])               # packed on one time axis
        alone = torch.cat([backbone(frames[:5], [5]), backbone(frames[5:], [7])])
    torch.testing.assert_close(packed, batched, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(videos, batched, rtol=0, atol=0)
    torch.testing.assert_close(mixed, alone, rtol=1e-10, atol=1e-10)
    assert not torch.allclose(mixed[:5], batched[:5])  # the correlation reaches frames


def test_everything_trains_and_alpha_gets_a_gradient():
    backbone = CorrNetResNet(base_channels=16, stage_modules=CORR_3_4)
    assert set(backbone.stage_modules) == {'layer3', 'layer4'}
    assert backbone.alpha.shape == (2, ) and backbone.out_channels == 128
    features = backbone(torch.randn(7, 3, 32, 32), [3, 4])
    features.square().mean().backward()
    assert all(p.requires_grad for p in backbone.parameters())
    assert backbone.alpha.grad.abs().min() > 0
    assert backbone.conv1.weight.grad.abs().sum() > 0


def test_bad_settings_and_lengths_are_named():
    with pytest.raises(ValueError, match='stage_modules keys'):
        CorrNetResNet(stage_modules=dict(layer5=[dict(type='CorrelationIdentification')]))
    with pytest.raises(ValueError, match='arch'):
        CorrNetResNet(arch='resnet50')
    backbone = MODELS.build(dict(type='CorrNetResNet', base_channels=16))
    with pytest.raises(ValueError, match='sum to the 4 packed frames'):
        backbone(torch.randn(4, 3, 32, 32), [2, 3])


def test_training_keeps_one_affinity_per_frame():
    """What autograd saves for the backward pass: of the quadratic (``HW x HW``-sized)
    tensors only the ``[N, HW, 2HW]`` gates, once (the einsum form keeps four maps)."""
    module = CorrelationModule(16, affinity_dtype='input')
    frames, positions = 6, 8 * 8
    x = torch.randn(frames, 16, 8, 8, requires_grad=True)
    saved = {}

    def pack(tensor):
        if tensor.numel() >= frames * positions * positions:
            saved[tensor.untyped_storage().data_ptr()] = tensor.numel()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = module(x, TemporalSegments([3, 3], x.device))
    assert list(saved.values()) == [frames * positions * 2 * positions]
    out.sum().backward()
    assert x.grad is not None and module.direction_weights.grad.abs().min() > 0
