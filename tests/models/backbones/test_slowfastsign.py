"""SlowFastSignResNet3d against mmaction2's SlowFast and an independent restatement of
SLOWFASTSIGN_SPEC.md's fusion formulas."""
import itertools

import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.config import Config

from mmsign.models.backbones import BidirectionalFusion, SlowFastSignResNet3d
from mmsign.models.backbones.slowfastsign_fusion import VideoTimeline, slow_frame_index


def pathway(base_channels, conv1_kernel, inflate, depth=50, blocks=(1, 2, 1, 1)):
    return dict(type='resnet3d', depth=depth, stage_blocks=blocks, base_channels=base_channels,
                pretrained=None, lateral=False, conv1_kernel=conv1_kernel, conv1_stride_t=1,
                pool1_stride_t=1, inflate=inflate)


#: Small pathways of the released form (res4's first block temporal, its second not).
SLOW = pathway(8, (1, 7, 7), (0, 0, (1, 0), 1), blocks=(1, 1, 2, 1))
FAST = pathway(2, (5, 7, 7), (1, 1, (1, 0), 1), blocks=(1, 1, 2, 1))


def small_backbone(**kwargs):
    return SlowFastSignResNet3d(slow_pathway=SLOW, fast_pathway=FAST, **kwargs)


def randomize(module, seed=0, gates=True):
    """Random values in every parameter and BatchNorm buffer; the fusion gates too unless
    ``gates`` is False (then they stay at their initial zero)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in itertools.chain(module.named_parameters(), module.named_buffers()):
            if name.endswith('num_batches_tracked') or (not gates and 'weight_' in name):
                continue
            values = torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype)
            if name.endswith('running_var'):
                values = values.abs() + 0.5
            tensor.copy_(values * (0.3 if tensor.dim() > 1 else 1.0))
    return module


def videos(batch, frames, size=32, seed=1, dtype=torch.float64):
    return torch.randn(batch, 3, frames, size, size, dtype=dtype,
                       generator=torch.Generator().manual_seed(seed))


# ---- reuse: the pathways are mmaction2's ---------------------------------------------------
@pytest.mark.parametrize('mode', ['eval', 'train'])
def test_gates_at_zero_give_mmaction2s_pathways_built_alone(mode):
    ours = randomize(small_backbone(), gates=False).double()
    assert all(f.weight_s.item() == 0 == f.weight_f.item() for f in ours.fusions)
    # mmaction2's own SlowFast (registered by mmaction2; mmsign's import made it importable).
    reference = MODELS.build(dict(type='ResNet3dSlowFast', resample_rate=4, speed_ratio=4,
                                  channel_ratio=8, slow_pathway=dict(SLOW),
                                  fast_pathway=dict(FAST))).double()
    assert type(reference).__module__ == 'mmaction.models.backbones.resnet3d_slowfast'
    missing, unexpected = reference.load_state_dict(ours.state_dict(), strict=False)
    assert not missing and all(k.startswith('fusions.') for k in unexpected)
    getattr(ours, mode)()
    getattr(reference, mode)()
    x = videos(2, 8)
    upsample = torch.tensor([t // 4 for t in range(8)])
    with torch.no_grad():
        slow, fast = ours.forward_pathways(x[:, :, ::4], x, upsample)
        ref_slow, ref_fast = reference(x)  # nearest 1/4 resampling: frames 0 and 4 here
    assert slow.shape == ref_slow.shape == (2, 256, 2, 1, 1)
    assert fast.shape == ref_fast.shape == (2, 64, 8, 1, 1)
    torch.testing.assert_close(slow, ref_slow, rtol=0, atol=0)
    torch.testing.assert_close(fast, ref_fast, rtol=0, atol=0)
    # Open gates change both pathways: the fusion is really there.
    randomize(ours, seed=1).eval()
    with torch.no_grad():
        slow2, fast2 = ours.forward_pathways(x[:, :, ::4], x, upsample)
    assert not torch.allclose(slow2, ref_slow) and not torch.allclose(fast2, ref_fast)


def test_released_r101_options_parameters_and_temporal_kernels():
    cfg = Config.fromfile('configs/_base_/models/slowfastsign_r101.py')
    backbone = MODELS.build(cfg.model.backbone)
    assert sum(p.numel() for p in backbone.parameters()) == 52_482_688  # the spec's count
    assert backbone.out_channels == 2304 and backbone.pathway_channels == (2048, 256)
    for name, path in (('slow', backbone.slow_path), ('fast', backbone.fast_path)):
        kernels = [[block.conv1.conv.kernel_size[0] for block in getattr(path, f'layer{i}')]
                   for i in range(1, 5)]
        res2, res3 = (1, 1) if name == 'slow' else (3, 3)
        assert kernels == [[res2] * 3, [res3] * 4, [3] * 6 + [1] * 17, [3] * 3], name
        assert path.conv1.conv.kernel_size == ((1, 7, 7) if name == 'slow' else (5, 7, 7))
        assert path.conv1.conv.padding == ((0, 3, 3) if name == 'slow' else (2, 3, 3))
    channels = [(f.f2s.conv.out_channels, f.f2s.conv.in_channels) for f in backbone.fusions]
    assert channels == [(64, 8), (256, 32), (512, 64), (1024, 128)]
    for fusion in backbone.fusions:
        assert fusion.f2s.conv.kernel_size == (5, 1, 1) and fusion.f2s.conv.stride == (4, 1, 1)
        assert fusion.s2f.conv.kernel_size == (1, 1, 1) and fusion.f2s.conv.bias is None
        assert fusion.f2s.bn.eps == 1e-5 and fusion.f2s.bn.momentum == 0.1
    backbone.init_weights()
    assert all(f.weight_s.item() == 0 == f.weight_f.item() for f in backbone.fusions)
    assert backbone.slow_path.layer3[5].conv3.bn.weight.abs().sum().item() == 0


# ---- the fusion formulas ------------------------------------------------------------------
def spec_bn(x, bn):
    shape = (1, -1, 1, 1, 1)
    return ((x - bn.running_mean.view(shape)) / torch.sqrt(bn.running_var.view(shape) + bn.eps)
            * bn.weight.view(shape) + bn.bias.view(shape))


def spec_fusion(slow, fast, fusion):
    """S' = S + w_s ReLU(BN(conv_(5,1,1), stride 4, pad 2 (F))); F' = F + w_f Up4(ReLU(BN(
    conv_1x1x1(S)))), written with explicit taps and einsum."""
    frames = fast.shape[2]
    w = fusion.f2s.conv.weight[:, :, :, 0, 0]                     # [C_s, C_f, 5]
    padded = F.pad(fast, (0, 0, 0, 0, 2, 2))
    steps = range(0, frames, 4)
    f2s = torch.stack([sum(torch.einsum('oc,bchw->bohw', w[:, :, k], padded[:, :, t + k])
                           for k in range(5)) for t in steps], 2)
    s2f = torch.einsum('oc,bcthw->bothw', fusion.s2f.conv.weight[:, :, 0, 0, 0], slow)
    s2f = torch.relu(spec_bn(s2f, fusion.s2f.bn))
    up = torch.stack([s2f[:, :, t // 4] for t in range(frames)], 2)
    return (slow + fusion.weight_s * torch.relu(spec_bn(f2s, fusion.f2s.bn)),
            fast + fusion.weight_f * up)


@pytest.mark.parametrize('frames', [8, 7, 5])
def test_fusion_is_the_spec_formula(frames):
    fusion = randomize(BidirectionalFusion(16, 4), seed=2).double().eval()
    slow_frames = -(-frames // 4)
    generator = torch.Generator().manual_seed(3)
    slow = torch.randn(2, 16, slow_frames, 5, 5, dtype=torch.float64, generator=generator)
    fast = torch.randn(2, 4, frames, 5, 5, dtype=torch.float64, generator=generator)
    upsample = torch.tensor(slow_frame_index([frames], 4)[1])
    with torch.no_grad():
        ours = fusion(slow, fast, upsample)
        spec = spec_fusion(slow, fast, fusion)
    for a, b in zip(ours, spec):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_gates_start_at_zero_and_get_gradients():
    fusion = BidirectionalFusion(16, 4)
    assert fusion.weight_s.shape == fusion.weight_f.shape == (1, )
    assert fusion.weight_s.item() == 0 == fusion.weight_f.item()
    slow, fast = torch.randn(2, 16, 2, 3, 3), torch.randn(2, 4, 8, 3, 3)
    s, f = fusion(slow, fast, torch.tensor(slow_frame_index([8], 4)[1]))
    assert torch.equal(s, slow) and torch.equal(f, fast)
    (s.square().sum() + f.square().sum()).backward()
    assert float(fusion.weight_s.grad.abs()) > 0 and float(fusion.weight_f.grad.abs()) > 0


# ---- slow sampling ------------------------------------------------------------------------
@pytest.mark.parametrize('lengths', [(8, ), (12, 4), (7, ), (5, 9, 1), (4, 6)])
def test_slow_sampling_is_a_stride_4_slice_of_each_video(lengths):
    sampled, upsample = slow_frame_index(lengths, 4)
    expected_sampled, expected_up, start, slow_start = [], [], 0, 0
    for n in lengths:
        expected_sampled += [start + t for t in range(n) if t % 4 == 0]  # 0, 4, 8, ...
        expected_up += [slow_start + t // 4 for t in range(n)]
        start, slow_start = start + n, slow_start + (n + 3) // 4          # ceil(T / 4)
    assert sampled == expected_sampled and upsample == expected_up


def test_slow_pathway_sees_frames_0_4_8_of_every_video():
    """Slow frames made from the frame index: the slow stem's input is exactly the frames
    the spec samples, for lengths that are and are not multiples of 4."""
    backbone = small_backbone().eval()
    seen = []
    backbone.slow_path.conv1.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0]))
    frames = torch.arange(17.).view(17, 1, 1, 1).expand(17, 3, 32, 32)
    with torch.no_grad():
        backbone(frames[:8], [8])
        backbone(frames[:7], [7])
        backbone(frames, [9, 8])
    assert seen[0][0, 0, :, 0, 0].tolist() == [0, 4]
    assert seen[1][0, 0, :, 0, 0].tolist() == [0, 4]
    assert seen[2][0, 0, :, 0, 0].tolist() == [0, 4, 8, 9, 13]


# ---- packed and batched -------------------------------------------------------------------
def test_packed_and_batched_paths_agree():
    backbone = randomize(small_backbone(feature_dropout=0.0), seed=4).double().eval()
    frames = videos(1, 18, seed=5)[0].transpose(0, 1).contiguous()    # [18, 3, 32, 32]
    with torch.no_grad():
        batched = backbone(frames[:16], [8, 8])                       # one [2, 3, 8, ...]
        packed = backbone.forward_packed(frames[:16], [8, 8])
        mixed = backbone(frames, [7, 11])                              # one time axis
        alone = torch.cat([backbone(frames[:7], [7]), backbone(frames[7:], [11])])
    assert batched.shape == (16, backbone.out_channels)
    torch.testing.assert_close(packed, batched, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(mixed, alone, rtol=1e-10, atol=1e-10)
    # The temporal kernels reach the frames: two videos are not one of 18 frames.
    with torch.no_grad():
        joined = backbone(frames, [18])
    assert not torch.allclose(joined[:7], mixed[:7])


def test_training_statistics_are_the_batchs_in_both_layouts():
    """In training, BatchNorm's statistics over a packed axis are those of the batch."""
    packed_model = randomize(small_backbone(feature_dropout=0.0), seed=6).double().train()
    batched_model = randomize(small_backbone(feature_dropout=0.0), seed=6).double().train()
    frames = videos(1, 16, seed=7)[0].transpose(0, 1).contiguous()
    packed = packed_model.forward_packed(frames, [8, 8])
    batched = batched_model(frames, [8, 8])
    torch.testing.assert_close(packed, batched, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(packed_model.state_dict(), batched_model.state_dict())


def test_features_are_slow_repeated_then_fast():
    backbone = randomize(small_backbone(feature_dropout=0.0), seed=8).double().eval()
    x = videos(2, 6, seed=9)
    with torch.no_grad():
        features = backbone.forward_videos(x).view(2, 6, -1)
        slow, fast = backbone.forward_pathways(
            x[:, :, ::4], x, torch.tensor(slow_frame_index([6], 4)[1]))
    slow, fast = slow.mean((3, 4)), fast.mean((3, 4))
    for t in range(6):
        torch.testing.assert_close(features[:, t], torch.cat([slow[:, :, t // 4], fast[:, :, t]],
                                                             1))


# ---- activation checkpointing -------------------------------------------------------------
def test_checkpointed_stages_give_the_same_gradients_and_statistics():
    plain = randomize(small_backbone(feature_dropout=0.0), seed=10).double().train()
    saved = randomize(small_backbone(feature_dropout=0.0, checkpoint_stages=(1, 3)),
                      seed=10).double().train()
    frames = videos(1, 12, seed=11)[0].transpose(0, 1).contiguous()
    for model in (plain, saved):
        model(frames, [5, 7]).square().mean().backward()
    for (name, a), b in zip(plain.named_parameters(), saved.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-12, msg=name)
    # Running statistics updated once, not again by the recomputation.
    torch.testing.assert_close(plain.state_dict(), saved.state_dict())


# ---- settings and builds ------------------------------------------------------------------
def test_bad_settings_and_lengths_are_named():
    with pytest.raises(ValueError, match='lateral=False'):
        SlowFastSignResNet3d(slow_pathway=dict(SLOW, lateral=True), fast_pathway=FAST)
    with pytest.raises(ValueError, match='pool1_stride_t'):
        SlowFastSignResNet3d(slow_pathway=SLOW, fast_pathway=dict(FAST, pool1_stride_t=2))
    with pytest.raises(ValueError, match='checkpoint_stages'):
        small_backbone(checkpoint_stages=(5, ))
    with pytest.raises(ValueError, match='sum to the 4 packed frames'):
        small_backbone()(torch.randn(4, 3, 32, 32), [2, 3])


def test_timelines_are_reset_for_batched_videos():
    backbone = small_backbone().eval()
    with torch.no_grad():
        backbone(torch.randn(9, 3, 32, 32), [4, 5])
        assert backbone.fast_timeline.lengths == (4, 5)
        assert backbone.slow_timeline.lengths == (1, 2)
        backbone(torch.randn(8, 3, 32, 32), [4, 4])
    assert backbone.fast_timeline.lengths is None is backbone.slow_timeline.lengths
    assert isinstance(backbone.fast_timeline, VideoTimeline)
