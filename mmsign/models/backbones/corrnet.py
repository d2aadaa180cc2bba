"""CorrNet's backbone (``CORRNET_SPEC.md``): ResNet-18 in 3-D form with correlation modules.

Every 2-D layer of torchvision's ResNet becomes its 3-D twin with a time kernel of 1
(weights ``[C', C, 1, k, k]``, as in the released checkpoints), so frames stay independent
except in the correlation modules after some stages. Such a layer is a 2-D layer on each
frame, and runs as one on the frames ``[N, C, H, W]`` of all videos::

    x = maxpool(relu(bn1(conv1(frames))))                 # [N, 3, H, W] -> [N, 64, H/4, W/4]
    for stage i in 1..4:
        x = layer_i(x)
        if i in corr_stages:  x = x + alpha[k] * M_i(x)   # CorrelationIdentification
    features = mean over H, W                             # [N, 512], one per frame
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmaction.registry import MODELS
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import CheckpointLoader
from torch import Tensor, nn

from mmsign.utils.lengths import host_lengths

from .corrnet_modules import (
    CorrelationIdentification,
    FrameBatchNorm3d,
    FrameConv3d,
    TemporalSegments,
)

#: Residual blocks per stage (mmpretrain's ``arch_zoo`` style).
ARCH_ZOO: Dict[str, Tuple[int, int, int, int]] = {
    'resnet18': (2, 2, 2, 2),
    'resnet34': (3, 4, 6, 3),
}

#: Keys of an ImageNet checkpoint that belong to its classifier, not to the backbone.
CLASSIFIER_KEYS = re.compile(r'^(fc|head)\.')


def conv_1kk(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> FrameConv3d:
    """torchvision's ``kernel x kernel`` convolution with a time kernel of 1 (no bias)."""
    return FrameConv3d(in_channels, out_channels, kernel, stride, padding=kernel // 2)


class BasicBlock3d(nn.Module):
    """torchvision's ResNet basic block, each convolution with a time kernel of 1.

    Args:
        in_channels (int): Input channels.
        channels (int): Output channels.
        stride (int): Spatial stride of the first convolution and the shortcut.
    """

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv_1kk(in_channels, channels, 3, stride)
        self.bn1 = FrameBatchNorm3d(channels)
        self.conv2 = conv_1kk(channels, channels, 3)
        self.bn2 = FrameBatchNorm3d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: Optional[nn.Sequential] = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(conv_1kk(in_channels, channels, 1, stride),
                                            FrameBatchNorm3d(channels))

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C_in, H, W]`` frames -> ``[N, C, H / stride, W / stride]``."""
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + shortcut)


@MODELS.register_module()
class CorrNetResNet(BaseModule):
    """CorrNet (CVPR 2023): a 3-D ResNet with correlation and identification modules.

    Takes the frames of several videos packed along dim 0, like every mmsign backbone, and
    returns one feature per frame. The correlation modules and the identification
    modules' 9-frame convolutions reach only frames of the same video. Everything trains.

    Args:
        arch (str): A key of :data:`ARCH_ZOO`. Defaults to ``'resnet18'``.
        base_channels (int): Width of the stem and the first stage (stage ``i`` has
            ``base_channels * 2 ** (i - 1)``). 64 for ImageNet weights; smaller for tests.
        corr_stages (Sequence[int]): Stages (1 to 4) followed by a correlation module.
            ``(2, 3, 4)`` in the paper; ``(3, 4)`` for the released CSL-Daily checkpoint.
        pretrained (str, optional): ImageNet ResNet weights: a local file (torchvision's
            ``resnet18-f37072fd.pth`` or an mmpretrain ResNet checkpoint), anything
            mmengine's ``CheckpointLoader`` reads (``'torchvision://resnet18'`` downloads
            torchvision's), or None for the random initialisation.
        affinity_dtype (str): Dtype of the correlation modules' products: ``'auto'``
            (bfloat16 on CUDA, the input dtype elsewhere), ``'input'`` or ``'bfloat16'``.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 arch: str = 'resnet18',
                 base_channels: int = 64,
                 corr_stages: Sequence[int] = (2, 3, 4),
                 pretrained: Optional[str] = None,
                 affinity_dtype: str = 'auto',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if arch not in ARCH_ZOO:
            raise ValueError(f'arch={arch!r}: use one of {sorted(ARCH_ZOO)}')
        corr_stages = tuple(int(s) for s in corr_stages)
        if list(corr_stages) != sorted(set(corr_stages)) or not set(corr_stages) <= {
                1, 2, 3, 4}:
            raise ValueError(f'corr_stages={corr_stages}: increasing stages among 1 to 4')
        self.arch = arch
        self.corr_stages = corr_stages
        widths = [base_channels * 2**i for i in range(4)]
        self.out_channels: int = widths[-1]

        self.conv1 = conv_1kk(3, base_channels, 7, stride=2)
        self.bn1 = FrameBatchNorm3d(base_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)  # (1, 3, 3) in 3-D
        in_channels = base_channels
        for i, (blocks, width) in enumerate(zip(ARCH_ZOO[arch], widths), start=1):
            stride = 1 if i == 1 else 2
            layer = [BasicBlock3d(in_channels, width, stride)]
            layer += [BasicBlock3d(width, width) for _ in range(blocks - 1)]
            self.add_module(f'layer{i}', nn.Sequential(*layer))
            in_channels = width
        self.corr_modules = nn.ModuleDict({
            f'layer{i}': CorrelationIdentification(widths[i - 1], affinity_dtype)
            for i in corr_stages})
        # Zeros: the network starts as the plain (ImageNet) ResNet.
        self.alpha = nn.Parameter(torch.zeros(len(corr_stages)))
        self._init_like_release()
        self.pretrained_source = 'random weights (pretrained=None)'
        if pretrained is not None:
            self.pretrained_source = self.load_imagenet_resnet(pretrained)
        counts = sum(p.numel() for p in self.parameters())
        print_log(f'CorrNetResNet({arch}, corr_stages={corr_stages}): {counts:,} trainable '
                  f'parameters; ResNet from {self.pretrained_source}', logger='current')

    def _init_like_release(self) -> None:
        """Kaiming (fan-out) convolutions and unit BatchNorms, the correlation modules'
        convolutions included, as the released code initialises before loading ImageNet."""
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def resnet_state_dict_keys(self) -> List[str]:
        """Names of the tensors an ImageNet ResNet checkpoint provides (all but the
        correlation modules and ``alpha``)."""
        return [k for k in self.state_dict()
                if not k.startswith('corr_modules.') and k != 'alpha']

    def load_imagenet_resnet(self, pretrained: str) -> str:
        """Load an ImageNet 2-D ResNet, each 2-D kernel given a time axis of 1.

        Every ResNet tensor of this model must be in the file with the matching shape
        (BatchNorm's ``num_batches_tracked`` may be absent, as in torchvision's files); of
        the file, only the classifier (``fc.*``, mmpretrain's ``head.*``) may be left.

        Args:
            pretrained (str): The file (torchvision or mmpretrain layout) or URL.

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
        expected = {k: self.state_dict()[k] for k in self.resnet_state_dict_keys()}
        skipped = sorted(k for k in state_dict if CLASSIFIER_KEYS.match(k))
        weights = {k: v for k, v in state_dict.items() if k not in skipped}
        inflated = {k: v.unsqueeze(2) if v.dim() == 4 else v for k, v in weights.items()}
        unexpected = sorted(set(inflated) - set(expected))
        untracked = sorted(k for k in set(expected) - set(inflated)
                           if k.endswith('num_batches_tracked'))
        missing = sorted(set(expected) - set(inflated) - set(untracked))
        mismatched = [f'{k}: file {tuple(weights[k].shape)}, model {tuple(expected[k].shape)}'
                      for k in set(inflated) & set(expected)
                      if inflated[k].shape != expected[k].shape]
        if missing or unexpected or mismatched:
            raise ValueError(
                f'{pretrained} is not an ImageNet {self.arch} of base width '
                f'{self.conv1.out_channels} (torchvision or mmpretrain layout): missing '
                f'{missing}, unexpected {unexpected}, shape mismatches {sorted(mismatched)}; '
                'check arch and base_channels, or set pretrained=None')
        # Strictness was checked above; what is left out here is the correlation part.
        self.load_state_dict(inflated, strict=False)
        not_loaded = [f'corr_modules.{name}.*' for name in self.corr_modules] + ['alpha']
        if untracked:
            not_loaded.append(f'{len(untracked)} BatchNorm num_batches_tracked (set to 0)')
        kernels = sum(v.dim() == 5 for v in inflated.values())
        return (f'{pretrained}: {len(inflated)} tensors ({kernels} kernels given a time '
                'axis); not used from the file: '
                f'{skipped or "nothing"}; not in the file, at their initialisation: '
                f'{", ".join(not_loaded)}')

    def forward_videos(self, videos: Tensor) -> Tensor:
        """Whole videos of equal length, as the released code runs its padded batch.

        Args:
            videos (Tensor): ``[B, 3, T, H, W]``.

        Returns:
            Tensor: ``[B * T, E]`` frame features, video after video.
        """
        batch, _, frames = videos.shape[:3]
        return self._forward(videos.transpose(1, 2).flatten(0, 1),
                             TemporalSegments([frames] * batch, videos.device))

    def forward_packed(self, frames: Tensor, lengths: Sequence[int]) -> Tensor:
        """Videos of any lengths, each frame's temporal neighbours found by index (the
        path :meth:`forward` takes for videos of different lengths).

        Args:
            frames (Tensor): ``[N, 3, H, W]``, ``N = sum(lengths)``.
            lengths (Sequence[int]): Frames per video.

        Returns:
            Tensor: ``[N, E]`` frame features.
        """
        return self._forward(frames, TemporalSegments(lengths, frames.device, packed=True))

    def forward(self, frames: Tensor, lengths: Sequence[int]) -> Tensor:
        """Per-frame features of several videos packed along dim 0.

        Videos of equal length (the recognizer's ``padding_mode='frames'``) run as the
        released code's ``[B, 3, T, H, W]`` batch, others with index-built neighbours
        (:meth:`forward_packed`); both give the same features.

        Args:
            frames (Tensor): ``[N, 3, H, W]``, the frames of video i are the
                ``lengths[i]`` rows after those of the videos before it.
            lengths (Sequence[int]): Frames per video (host-side ints), summing to N.

        Returns:
            Tensor: ``[N, E]`` frame features, ``E = out_channels``.
        """
        lengths = host_lengths(lengths)
        if sum(lengths) != frames.shape[0] or min(lengths, default=0) < 1:
            raise ValueError(f'lengths {lengths} must be positive and sum to the '
                             f'{frames.shape[0]} packed frames')
        return self._forward(frames, TemporalSegments(lengths, frames.device))

    def _forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))         # [N, C, H/4, W/4]
        for i in range(1, 5):
            x = getattr(self, f'layer{i}')(x)
            if i in self.corr_stages:
                k = self.corr_stages.index(i)
                x = x + self.alpha[k] * self.corr_modules[f'layer{i}'](x, segments)
        # Global average pool of each frame's map (7 x 7 for 224-pixel frames).
        return x.mean(dim=(2, 3))                                      # [N, E]
