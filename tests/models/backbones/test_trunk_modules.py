"""The trunk's mechanism for the modules a model adds (stage and block modules) and the
temporal operations every added module uses (:class:`TemporalSegments`)."""
import pytest
import torch
from mmaction.registry import MODELS
from torch import Tensor, nn

from mmsign.models.backbones import CorrNetResNet
from mmsign.models.backbones.corrnet_modules import TemporalSegments


@MODELS.register_module(force=True)
class _ScaledFrames(nn.Module):
    """A test module: ``M(x) = scale * x`` per channel (``mixed`` as configured)."""

    def __init__(self, channels: int, scale: float = 1.0, mixed: bool = True) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels, ), scale))
        self.mixed = mixed
        self.init_calls = 0

    def init_weights(self) -> None:
        self.init_calls += 1

    def forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        return x * self.scale.view(1, -1, 1, 1)


@MODELS.register_module(force=True)
class _NextFrame(nn.Module):
    """A test module: the next frame of the same video (zeros after the last)."""

    def __init__(self, channels: int) -> None:
        super().__init__()

    def forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        return segments.shifted(x, 1)


def plain_trunk_features(backbone: CorrNetResNet, frames: Tensor) -> Tensor:
    """The trunk by hand, nothing added."""
    x = backbone.maxpool(backbone.relu(backbone.bn1(backbone.conv1(frames))))
    for i in range(1, 5):
        for block in getattr(backbone, f'layer{i}'):
            shortcut = x if block.downsample is None else block.downsample(x)
            y = block.relu(block.bn1(block.conv1(x)))
            x = block.relu(block.bn2(block.conv2(y)) + shortcut)
    return x.mean(dim=(2, 3))


def test_stage_modules_mix_in_order_and_only_mixed_ones_get_alpha():
    torch.manual_seed(0)
    backbone = CorrNetResNet(
        base_channels=8, mixing_init=0.5,
        stage_modules=dict(layer3=[dict(type='_ScaledFrames', scale=2.0),
                                   dict(type='_ScaledFrames', scale=3.0, mixed=False)],
                           layer4=[dict(type='_ScaledFrames', scale=-1.0)])).eval()
    assert backbone.alpha.tolist() == [0.5, 0.5]  # two mixed modules
    assert [m.init_calls for m in backbone.added_modules()] == [1, 1, 1]
    assert backbone.stage_modules['layer3'][0].scale.shape == (32, )  # the stage's width
    frames = torch.randn(6, 3, 32, 32)
    with torch.no_grad():
        got = backbone(frames, [6])
        x = backbone.maxpool(backbone.relu(backbone.bn1(backbone.conv1(frames))))
        for i in range(1, 5):
            for block in getattr(backbone, f'layer{i}'):
                x = block(x, None)
            if i == 3:
                x = x + 0.5 * 2.0 * x        # mixed: alpha[0] * M
                x = x + 3.0 * x              # not mixed: M alone
            if i == 4:
                x = x + 0.5 * -1.0 * x       # alpha[1] * M
        want = x.mean(dim=(2, 3))
    torch.testing.assert_close(got, want)


def test_zero_mixing_weights_give_the_plain_trunk_and_block_modules_add_inside():
    torch.manual_seed(0)
    backbone = CorrNetResNet(base_channels=8, stage_modules=dict(
        layer2=[dict(type='_NextFrame')], layer4=[dict(type='_NextFrame')])).eval()
    frames = torch.randn(5, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(backbone(frames, [2, 3]),
                                   plain_trunk_features(backbone, frames), rtol=0, atol=0)
    inside = CorrNetResNet(base_channels=8, stage_modules={},
                           block_modules=[dict(type='_ScaledFrames', scale=0.0)]).eval()
    assert len(inside.layer1[0].block_modules) == 1 and inside.alpha.numel() == 0
    assert any('.block_modules.' in k for k in inside.state_dict())
    with torch.no_grad():
        plain = plain_trunk_features(inside, frames)
        torch.testing.assert_close(inside(frames, [5]), plain, rtol=0, atol=0)
        for module in inside.added_modules():
            module.scale.fill_(1.0)     # y + 1 * y inside every block
        assert not torch.allclose(inside(frames, [5]), plain)
    assert all(not k.startswith('stage_modules.') and '.block_modules.' not in k
               for k in inside.resnet_state_dict_keys())


@pytest.mark.parametrize('packed', [False, True])
def test_shifted_and_masks_stay_inside_each_video(packed):
    lengths = [3, 3] if not packed else [2, 4]
    segments = TemporalSegments(lengths, torch.device('cpu'), packed=packed)
    x = torch.arange(1., 7.).view(6, 1)
    starts = [0, lengths[0]]
    for offset in (-2, -1, 1, 3):
        want = []
        for start, length in zip(starts, lengths):
            for t in range(length):
                want.append(float(start + t + offset + 1) if 0 <= t + offset < length else 0.)
        assert segments.shifted(x, offset).view(-1).tolist() == want, offset
    has_next = [t < n - 1 for n in lengths for t in range(n)]
    assert segments.has_next().tolist() == has_next
    assert segments.has_previous().tolist() == [t > 0 for n in lengths for t in range(n)]


@pytest.mark.parametrize('dilation,kernel', [(1, 3), (5, 3), (1, 9), (2, 9)])
def test_temporal_convs_of_any_reach_stay_inside_each_video(dilation, kernel):
    torch.manual_seed(0)
    reach = dilation * (kernel - 1) // 2
    conv1d = nn.Conv1d(4, 4, kernel, padding=reach, dilation=dilation, groups=2)
    conv3d = nn.Conv3d(4, 4, (kernel, 3, 3), padding=(reach, 1, 1),
                       dilation=(dilation, 1, 1))
    lengths = [7, 12]
    vectors, maps = torch.randn(19, 4), torch.randn(19, 4, 5, 5)
    alone_1d = torch.cat([conv1d(v.t().unsqueeze(0))[0].t()
                          for v in vectors.split(lengths)])
    alone_3d = torch.cat([conv3d(m.transpose(0, 1).unsqueeze(0))[0].transpose(0, 1)
                          for m in maps.split(lengths)])
    segments = TemporalSegments(lengths, torch.device('cpu'))
    got_1d, = segments.temporal_conv([conv1d], vectors)
    got_3d, = segments.temporal_conv([conv3d], maps)
    torch.testing.assert_close(got_1d, alone_1d)
    torch.testing.assert_close(got_3d, alone_3d)
    uniform = TemporalSegments([7, 7], torch.device('cpu'))
    packed = TemporalSegments([7, 7], torch.device('cpu'), packed=True)
    torch.testing.assert_close(uniform.temporal_conv([conv1d], vectors[:14])[0],
                               packed.temporal_conv([conv1d], vectors[:14])[0])


def test_a_convolution_wider_than_the_gaps_is_refused():
    segments = TemporalSegments([4, 5], torch.device('cpu'))
    wide = nn.Conv1d(2, 2, 3, padding=9, dilation=9)
    with pytest.raises(ValueError, match='at most 8 frames'):
        segments.temporal_conv([wide], torch.randn(9, 2))
