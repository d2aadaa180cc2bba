"""The 2-D ResNet of VAC and TLP (``LINEAGE_SPEC.md``), run frame by frame.

mmpretrain's ResNet (whose layers carry torchvision's names ``conv1, bn1, layer1..4``, so
torchvision's ImageNet files and the released ``conv2d.*`` keys load as they are) without
its classifier; every frame of every video independently::

    x = maxpool(relu(bn1(conv1(frames))))        # [N, 3, H, W] -> [N, C, H/4, W/4]
    x = layer4(layer3(layer2(layer1(x))))        # [N, 8C, H/32, W/32]
    features = mean over H, W                    # [N, 8C], one per frame
"""
from typing import Dict, List, Optional, Sequence

import torch
from mmaction.registry import MODELS
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import CheckpointLoader
from torch import Tensor, nn

from .corrnet import CLASSIFIER_KEYS

#: ResNet depth of each arch name (mmpretrain's ``ResNet(depth=...)``).
ARCH_DEPTHS: Dict[str, int] = {'resnet18': 18, 'resnet34': 34}

#: The layers taken over from mmpretrain's ResNet, in the order they run.
TRUNK = ('conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2', 'layer3', 'layer4')


@MODELS.register_module()
class FrameWiseResNet(BaseModule):
    """A 2-D ResNet on every frame of packed videos (VAC, TLP).

    The frames of all videos go through the network as one batch of images; no frame
    sees another, so the lengths only check the packing. The recognizer's
    ``padding_mode='frames'`` runs each video's own edge-padded frames through it and
    gives the batch padding beyond them zero features, as the released code does
    (:attr:`frame_wise`).

    Args:
        arch (str): A key of :data:`ARCH_DEPTHS`. Defaults to ``'resnet18'``.
        base_channels (int): Width of the stem and the first stage (stage ``i`` has
            ``base_channels * 2 ** (i - 1)``). 64 for ImageNet weights; smaller for tests.
        pretrained (str, optional): ImageNet ResNet weights: a local file (torchvision's
            ``resnet18-f37072fd.pth`` or an mmpretrain ResNet checkpoint), anything
            mmengine's ``CheckpointLoader`` reads (``'torchvision://resnet18'`` downloads
            torchvision's), or None for torchvision's random initialisation.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    #: Frames are independent: the recognizer may leave out the batch padding.
    frame_wise = True

    def __init__(self,
                 arch: str = 'resnet18',
                 base_channels: int = 64,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if arch not in ARCH_DEPTHS:
            raise ValueError(f'arch={arch!r}: use one of {sorted(ARCH_DEPTHS)}')
        # mmpretrain (and torchvision under it) load when a model is built, not at import.
        from mmpretrain.models.backbones import ResNet
        device = torch.get_default_device()
        with torch.device('cpu'):  # mmpretrain reads host values while building
            resnet = ResNet(depth=ARCH_DEPTHS[arch], base_channels=base_channels,
                            stem_channels=base_channels)
        resnet.to(device)  # e.g. the meta device of a shape check
        for name in TRUNK:
            self.add_module(name, getattr(resnet, name))
        self.arch = arch
        self.out_channels: int = base_channels * 8
        self._init_like_torchvision()
        self.pretrained_source = 'random weights (pretrained=None)'
        if pretrained is not None:
            self.pretrained_source = self.load_imagenet_resnet(pretrained)
        counts = sum(p.numel() for p in self.parameters())
        print_log(f'FrameWiseResNet({arch}, base_channels={base_channels}): {counts:,} '
                  f'trainable parameters; from {self.pretrained_source}', logger='current')

    def _init_like_torchvision(self) -> None:
        """torchvision's ResNet initialisation: kaiming (fan-out) convolutions, unit
        BatchNorms."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def load_imagenet_resnet(self, pretrained: str) -> str:
        """Load an ImageNet 2-D ResNet (torchvision or mmpretrain layout), strictly.

        Every tensor of this model must be in the file with the same shape (BatchNorm's
        ``num_batches_tracked`` may be absent, as in torchvision's files); of the file,
        only the classifier (``fc.*``, mmpretrain's ``head.*``) may be left.

        Args:
            pretrained (str): The file or URL.

        Returns:
            str: What was loaded from where, for the log.

        Raises:
            ValueError: The file misses tensors, has others, or shapes differ.
        """
        checkpoint = CheckpointLoader.load_checkpoint(pretrained, map_location='cpu')
        state_dict = checkpoint.get('state_dict', checkpoint)
        if any(k.startswith('backbone.') for k in state_dict):  # mmpretrain's ImageClassifier
            state_dict = {(k[len('backbone.'):] if k.startswith('backbone.') else k): v
                          for k, v in state_dict.items()}
        skipped = sorted(k for k in state_dict if CLASSIFIER_KEYS.match(k))
        weights = {k: v for k, v in state_dict.items() if k not in skipped}
        expected = self.state_dict()
        untracked = [k for k in set(expected) - set(weights)
                     if k.endswith('num_batches_tracked')]
        missing = sorted(set(expected) - set(weights) - set(untracked))
        unexpected = sorted(set(weights) - set(expected))
        mismatched = sorted(
            f'{k}: file {tuple(weights[k].shape)}, model {tuple(expected[k].shape)}'
            for k in set(weights) & set(expected) if weights[k].shape != expected[k].shape)
        if missing or unexpected or mismatched:
            raise ValueError(
                f'{pretrained} is not an ImageNet {self.arch} of base width '
                f'{self.conv1.out_channels} (torchvision or mmpretrain layout): missing '
                f'{missing}, unexpected {unexpected}, shape mismatches {mismatched}; '
                'check arch and base_channels, or set pretrained=None')
        self.load_state_dict(weights, strict=False)  # only num_batches_tracked left out
        return (f'{pretrained}: {len(weights)} tensors; not used from the file: '
                f'{skipped or "nothing"}')

    def forward_videos(self, videos: Tensor) -> Tensor:
        """Whole videos of equal length.

        Args:
            videos (Tensor): ``[B, 3, T, H, W]``.

        Returns:
            Tensor: ``[B * T, E]`` frame features, video after video.
        """
        return self._forward(videos.transpose(1, 2).flatten(0, 1))

    def forward_packed(self, frames: Tensor, lengths: Sequence[int]) -> Tensor:
        """Videos of any lengths packed along dim 0 (the same as :meth:`forward`).

        Args:
            frames (Tensor): ``[N, 3, H, W]``, ``N = sum(lengths)``.
            lengths (Sequence[int]): Frames per video.

        Returns:
            Tensor: ``[N, E]`` frame features.
        """
        return self.forward(frames, lengths)

    def forward(self, frames: Tensor, lengths: Sequence[int]) -> Tensor:
        """Per-frame features of several videos packed along dim 0.

        Args:
            frames (Tensor): ``[N, 3, H, W]``: the frames of video i are the
                ``lengths[i]`` rows after those of the videos before it.
            lengths (Sequence[int]): Frames per video (host integers), summing to N.

        Returns:
            Tensor: ``[N, E]`` frame features, ``E = out_channels``.
        """
        lengths: List[int] = [int(n) for n in lengths]
        if sum(lengths) != frames.shape[0] or min(lengths, default=0) < 1:
            raise ValueError(f'lengths {lengths} must be positive and sum to the '
                             f'{frames.shape[0]} packed frames')
        return self._forward(frames)

    def _forward(self, x: Tensor) -> Tensor:
        for name in TRUNK:
            x = getattr(self, name)(x)
        return x.mean(dim=(2, 3))                                    # [N, E]
