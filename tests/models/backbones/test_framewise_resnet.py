"""The frame-wise 2-D ResNet of VAC and TLP, and the recognizer's released padding for it."""
import pytest
import torch
import torchvision
from mmaction.registry import MODELS

from mmsign.models.backbones import FrameWiseResNet
from mmsign.models.heads import released_edge_padding


def torchvision_resnet18() -> torch.nn.Module:
    net = torchvision.models.resnet18(weights=None)
    net.fc = torch.nn.Identity()
    return net


def test_layers_carry_torchvision_names_and_compute_its_resnet():
    reference = torchvision_resnet18().eval()
    model = FrameWiseResNet().eval()
    assert list(model.state_dict()) == [k for k in reference.state_dict()]
    model.load_state_dict(reference.state_dict())
    frames = torch.randn(5, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(frames, [2, 3]), reference(frames))
    assert model.out_channels == 512


def test_packed_and_batched_videos_agree_and_frames_are_independent():
    model = FrameWiseResNet(base_channels=8).eval()
    videos = torch.randn(2, 3, 4, 32, 32)
    frames = videos.transpose(1, 2).flatten(0, 1)
    with torch.no_grad():
        batched = model.forward_videos(videos)
        packed = model.forward_packed(frames, [4, 4])
        single = model(frames[5:6], [1])
    torch.testing.assert_close(batched, packed)
    torch.testing.assert_close(packed[5:6], single)
    assert batched.shape == (8, 64)
    with pytest.raises(ValueError, match='sum to the 8 packed frames'):
        model(frames, [4, 3])


def test_imagenet_weights_load_from_torchvision_and_mmpretrain_files(tmp_path):
    reference = torchvision.models.resnet18(weights=None)
    state = {k: v for k, v in reference.state_dict().items()
             if not k.endswith('num_batches_tracked')}  # as torchvision's published file
    torch.save(state, tmp_path / 'tv.pth')
    model = FrameWiseResNet(pretrained=str(tmp_path / 'tv.pth'))
    assert torch.equal(model.layer3[1].conv2.weight, reference.layer3[1].conv2.weight)
    assert 'fc.weight' in model.pretrained_source
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in state.items()}},
               tmp_path / 'mmpretrain.pth')
    model = FrameWiseResNet(pretrained=str(tmp_path / 'mmpretrain.pth'))
    assert torch.equal(model.conv1.weight, reference.conv1.weight)
    with pytest.raises(ValueError, match='base width 16'):
        FrameWiseResNet(base_channels=16, pretrained=str(tmp_path / 'tv.pth'))


def recognizer(padding_mode: str):
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='SignRecognizer', padding_mode=padding_mode, vocab=['A', 'B', 'C'],
        backbone=dict(type='FrameWiseResNet', base_channels=8),
        head=dict(type='SignCTCHead', hidden_channels=16, pooling='lift',
                  classifier='Linear', share_classifier=False)))


def test_frames_mode_runs_each_videos_own_padding_and_zeros_beyond():
    """The released masked_bn: each video's own padded frames (edge copies included)
    through the CNN, in training too, the batch padding beyond them zero features."""
    model = recognizer('frames').train()
    lengths = [9, 3]
    inputs = torch.randn(12, 3, 32, 32)
    padded, valid = released_edge_padding(inputs, lengths, model.head.geometry)  # (2, 24)
    assert valid == [24, 16]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    own = torch.cat([padded[0, :24], padded[1, :16]])
    feats = model.backbone(own, [40])
    expected = torch.zeros(2, 24, feats.shape[1])
    expected[0], expected[1, :16] = feats[:24], feats[24:]
    torch.manual_seed(1)  # the BiLSTM's dropout
    reference = model.head.forward_padded(expected.transpose(1, 2), valid)
    model.load_state_dict(state)  # the same BatchNorm statistics before the second run
    torch.manual_seed(1)
    out = model(inputs, lengths, mode='tensor')
    torch.testing.assert_close(out.seq_logits, reference.seq_logits)
    torch.testing.assert_close(out.conv_logits, reference.conv_logits)
    assert out.lengths == [3, 1]  # ceil(T / 4)


def test_one_video_in_eval_mode_gives_the_same_logits_in_both_padding_modes():
    frames_model, features_model = recognizer('frames').eval(), recognizer('features').eval()
    inputs = torch.randn(7, 3, 32, 32)
    with torch.no_grad():
        a = frames_model(inputs, [7], mode='tensor')
        b = features_model(inputs, [7], mode='tensor')
    torch.testing.assert_close(a.seq_logits, b.seq_logits)
    torch.testing.assert_close(a.conv_logits, b.conv_logits)
