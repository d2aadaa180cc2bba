"""The lineage's 3-D-form ResNet trunk (``CORRNET_SPEC.md``) and the modules models add to it.

Every 2-D layer of torchvision's ResNet becomes its 3-D twin with a time kernel of 1
(weights ``[C', C, 1, k, k]``, as in the released checkpoints), so frames stay independent
except in the modules a model adds. Such a layer is a 2-D layer on each frame, and runs as
one on the frames ``[N, C, H, W]`` of all videos::

    x = maxpool(relu(bn1(conv1(frames))))                 # [N, 3, H, W] -> [N, 64, H/4, W/4]
    for stage i in 1..4:
        x = layer_i(x)                                    # block: y = relu(bn1(conv1(x)));
                                                          #   y = y + sum_j B_j(y) (block_modules)
        for M in stage_modules['layer{i}']:               # e.g. CorrNet's correlation,
            x = x + alpha[k] * M(x)                       # SignGraph's graphs (mixed), or
                                                          # x + M(x) (``M.mixed = False``)
    features = mean over H, W                             # [N, 512], one per frame

One trunk serves CorrNet (correlation modules after stages 2-4), SEN (emphasis modules inside
every block), CorrNet+ and SignGraph (their modules after stages): a model is a config.
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

from .corrnet_modules import FrameBatchNorm3d, FrameConv3d, TemporalSegments

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
    """torchvision's ResNet basic block, each convolution with a time kernel of 1, with
    optional modules added after its first convolution (SEN's emphasis modules).

    Args:
        in_channels (int): Input channels.
        channels (int): Output channels.
        stride (int): Spatial stride of the first convolution and the shortcut.
        block_modules (Sequence[dict]): Configs of modules ``B_j`` built with
            ``channels``; ``y = relu(bn1(conv1(x)))`` becomes ``y + sum_j B_j(y)``.
    """

    def __init__(self, in_channels: int, channels: int, stride: int = 1,
                 block_modules: Sequence[dict] = ()) -> None:
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
        self.block_modules = build_with_channels(block_modules, channels)

    def forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        """``[N, C_in, H, W]`` frames -> ``[N, C, H / stride, W / stride]``."""
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        if len(self.block_modules):
            out = out + sum(module(out, segments) for module in self.block_modules)
        return self.relu(self.bn2(self.conv2(out)) + shortcut)


def build_with_channels(cfgs: Sequence[dict], channels: int) -> nn.ModuleList:
    """Build module configs from MODELS, ``channels`` filled in where absent."""
    modules = []
    for cfg in cfgs:
        cfg = dict(cfg)
        cfg.setdefault('channels', channels)
        modules.append(MODELS.build(cfg))
    return nn.ModuleList(modules)


def is_mixed(module: nn.Module) -> bool:
    """Whether the trunk scales a stage module's output by a mixing weight ``alpha``
    (the module's class attribute ``mixed``; True when absent)."""
    return bool(getattr(module, 'mixed', True))


@MODELS.register_module()
class CorrNetResNet(BaseModule):
    """The lineage's 3-D-form ResNet with the modules a model adds to it.

    CorrNet (CVPR 2023) is the default: correlation and identification modules after
    stages 2, 3 and 4. Takes the frames of several videos packed along dim 0, like every
    mmsign backbone, and returns one feature per frame. Added modules see the videos'
    layout (:class:`TemporalSegments`), so temporal operations reach only frames of the
    same video. Everything trains.

    Args:
        arch (str): A key of :data:`ARCH_ZOO`. Defaults to ``'resnet18'``.
        base_channels (int): Width of the stem and the first stage (stage ``i`` has
            ``base_channels * 2 ** (i - 1)``). 64 for ImageNet weights; smaller for tests.
        stage_modules (dict, optional): ``{'layer{i}': [module config, ...]}``: modules
            applied in turn after stage ``i``, each built from MODELS with ``channels``
            (the stage's width) filled in, called as ``M(x, segments)`` on ``[N, C, H, W]``
            and added: ``x + alpha[k] * M(x)``, or ``x + M(x)`` for a module whose class
            sets ``mixed = False``. Defaults to CorrNet's correlation modules after stages
            2, 3 and 4 (``(3, 4)`` for the released CSL-Daily checkpoint); ``{}`` for the
            plain trunk.
        mixing_init (float): Initial value of every mixing weight ``alpha`` (one learnable
            entry per mixed module, in stage order): 0 for CorrNet (the network starts as
            the plain ResNet), 1 for SignGraph.
        block_modules (Sequence[dict]): Module configs built inside every residual block
            (see :class:`BasicBlock3d`), e.g. SEN's emphasis modules.
        pretrained (str, optional): ImageNet ResNet weights: a local file (torchvision's
            ``resnet18-f37072fd.pth`` or an mmpretrain ResNet checkpoint), anything
            mmengine's ``CheckpointLoader`` reads (``'torchvision://resnet18'`` downloads
            torchvision's), or None for the random initialisation.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 arch: str = 'resnet18',
                 base_channels: int = 64,
                 stage_modules: Optional[Dict[str, Sequence[dict]]] = None,
                 mixing_init: float = 0.0,
                 block_modules: Sequence[dict] = (),
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if arch not in ARCH_ZOO:
            raise ValueError(f'arch={arch!r}: use one of {sorted(ARCH_ZOO)}')
        if stage_modules is None:
            stage_modules = {f'layer{i}': [dict(type='CorrelationIdentification')]
                             for i in (2, 3, 4)}
        unknown = sorted(set(stage_modules) - {f'layer{i}' for i in range(1, 5)})
        if unknown:
            raise ValueError(f'stage_modules keys {unknown}: use layer1 to layer4')
        self.arch = arch
        widths = [base_channels * 2**i for i in range(4)]
        self.out_channels: int = widths[-1]

        self.conv1 = conv_1kk(3, base_channels, 7, stride=2)
        self.bn1 = FrameBatchNorm3d(base_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)  # (1, 3, 3) in 3-D
        in_channels = base_channels
        for i, (blocks, width) in enumerate(zip(ARCH_ZOO[arch], widths), start=1):
            stride = 1 if i == 1 else 2
            layer = [BasicBlock3d(in_channels, width, stride, block_modules)]
            layer += [BasicBlock3d(width, width, 1, block_modules) for _ in range(blocks - 1)]
            self.add_module(f'layer{i}', nn.ModuleList(layer))
            in_channels = width
        self.stage_modules = nn.ModuleDict({
            name: build_with_channels(stage_modules[name], widths[int(name[-1]) - 1])
            for name in sorted(stage_modules) if stage_modules[name]})
        mixed = sum(is_mixed(m) for modules in self.stage_modules.values() for m in modules)
        self.alpha = nn.Parameter(torch.full((mixed, ), float(mixing_init)))
        self._init_like_release()
        self.pretrained_source = 'random weights (pretrained=None)'
        if pretrained is not None:
            self.pretrained_source = self.load_imagenet_resnet(pretrained)
        counts = sum(p.numel() for p in self.parameters())
        added = {name: [type(m).__name__ for m in modules]
                 for name, modules in self.stage_modules.items()}
        print_log(f'CorrNetResNet({arch}, stage_modules={added}, block_modules='
                  f'{[cfg["type"] for cfg in block_modules]}): {counts:,} trainable '
                  f'parameters; ResNet from {self.pretrained_source}', logger='current')

    def _init_like_release(self) -> None:
        """Kaiming (fan-out) convolutions and unit BatchNorms over every module, the added
        ones included, as the released code initialises before loading ImageNet; then each
        added module's own ``init_weights()`` (a zero gate, a glorot GCN weight, ...)."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Conv3d)):
                nn.init.kaiming_normal_(module.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm3d)):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for module in self.added_modules():
            if hasattr(module, 'init_weights'):
                module.init_weights()

    def added_modules(self) -> List[nn.Module]:
        """The modules a model adds to the trunk: stage modules, then block modules."""
        added = [m for modules in self.stage_modules.values() for m in modules]
        for i in range(1, 5):
            added += [m for block in getattr(self, f'layer{i}') for m in block.block_modules]
        return added

    def resnet_state_dict_keys(self) -> List[str]:
        """Names of the tensors an ImageNet ResNet checkpoint provides (all but the added
        modules and ``alpha``)."""
        return [k for k in self.state_dict()
                if not (k.startswith('stage_modules.') or '.block_modules.' in k
                        or k == 'alpha')]

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
        not_loaded = [f'stage_modules.{name}.*' for name in self.stage_modules] + ['alpha']
        if any(len(block.block_modules) for block in self.layer1):
            not_loaded.append('layer*.*.block_modules.*')
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
        k = 0
        for i in range(1, 5):
            for block in getattr(self, f'layer{i}'):
                x = block(x, segments)
            for module in self.stage_modules[f'layer{i}'] if (
                    f'layer{i}' in self.stage_modules) else ():
                if is_mixed(module):
                    x = x + self.alpha[k] * module(x, segments)
                    k += 1
                else:
                    x = x + module(x, segments)
        # Global average pool of each frame's map (7 x 7 for 224-pixel frames).
        return x.mean(dim=(2, 3))                                      # [N, E]
