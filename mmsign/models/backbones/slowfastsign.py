"""SlowFastSign's backbone (ICASSP 2024, ``SLOWFASTSIGN_SPEC.md`` sections 2 and 4):
mmaction2's two SlowFast pathways with bidirectional gated fusion.

The pathways are mmaction2's ``ResNet3dPathway`` with the spec's options (no lateral
connections, no temporal strides; res4's first six blocks temporal); this class adds
only what the paper adds::

    slow input = frames 0, 4, 8, ... of each video (ceil(T / 4)); fast input = all T
    S, F = stems(slow input, fast input);  S, F = fusion_0(S, F)
    for stage i in res2..res5:
        S, F = slow.layer_i(S), fast.layer_i(F)
        if i < res5:  S, F = fusion_i(S, F)                # BidirectionalFusion
    feature_t = dropout([mean_hw S_{t // 4}; mean_hw F_t])  # 2048 + 256 = 2304 for R101
"""
from contextlib import contextmanager, nullcontext
from typing import Iterator, List, Optional, Sequence, Tuple

import torch
from mmaction.models.backbones.resnet3d_slowfast import ResNet3dSlowFast
from mmaction.registry import MODELS
from mmengine.logging import print_log
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

from mmsign.utils.lengths import host_lengths

from .slowfastsign_fusion import (
    BidirectionalFusion,
    PackedConv3d,
    VideoTimeline,
    slow_frame_index,
)

#: res4 of the R101 pathways: blocks 0-5 have a temporal kernel of 3, blocks 6-22 of 1
#: (PySlowFast's NUM_BLOCK_TEMP_KERNEL 6 for this stage), in both pathways.
RES4_R101 = (1, ) * 6 + (0, ) * 17

#: The released slow pathway (``SLOWFAST_64x2_R101_50_50.yaml``) in mmaction2's terms.
SLOW_PATHWAY_R101 = dict(type='resnet3d', depth=101, pretrained=None, lateral=False,
                         conv1_kernel=(1, 7, 7), conv1_stride_t=1, pool1_stride_t=1,
                         inflate=(0, 0, RES4_R101, 1))
#: The released fast pathway: 8 base channels (beta 1/8), temporal stem kernel 5.
FAST_PATHWAY_R101 = dict(type='resnet3d', depth=101, pretrained=None, lateral=False,
                         base_channels=8, conv1_kernel=(5, 7, 7), conv1_stride_t=1,
                         pool1_stride_t=1, inflate=(1, 1, RES4_R101, 1))


@contextmanager
def running_stats_frozen(module: nn.Module) -> Iterator[None]:
    """BatchNorms of ``module`` normalise with batch statistics as usual but leave their
    running statistics as they are (momentum 0, the batch count restored): the
    recomputation of a checkpointed stage must not update them a second time."""
    norms = [m for m in module.modules() if isinstance(m, _BatchNorm) and m.training
             and m.track_running_stats and m.momentum is not None]
    saved = [(norm.momentum, norm.num_batches_tracked.clone()) for norm in norms]
    for norm in norms:
        norm.momentum = 0.0
    try:
        yield
    finally:
        for norm, (momentum, count) in zip(norms, saved):
            norm.momentum = momentum
            norm.num_batches_tracked.copy_(count)


@MODELS.register_module(force=True)  # replaces the lazy builder of backbones/__init__
class SlowFastSignResNet3d(ResNet3dSlowFast):
    """SlowFastSign's backbone: mmaction2's SlowFast pathways, bidirectional gated fusion.

    Takes the frames of several videos packed along dim 0, like every mmsign backbone, and
    returns one feature per frame: the slow pathway's (repeated onto the fast time axis)
    and the fast pathway's, concatenated. Videos of equal length run as one
    ``[B, 3, T, H, W]`` batch (as the released code runs its padded batch), others on one
    packed time axis where every temporal convolution sees only its own video; both give
    the same features. Everything trains.

    Args:
        slow_pathway (dict): mmaction2 ``ResNet3dPathway`` config of the slow pathway.
            Defaults to the released R101 (:data:`SLOW_PATHWAY_R101`). ``lateral`` must be
            False (the fusion here replaces mmaction2's lateral connections).
        fast_pathway (dict): The same for the fast pathway (:data:`FAST_PATHWAY_R101`).
        speed_ratio (int): Fast frames per slow frame (the paper's alpha). Defaults to 4.
        fusion_kernel (int): Temporal kernel of the fast-to-slow fusion conv. Defaults
            to 5.
        feature_dropout (float): Dropout on the per-frame features in training. Defaults
            to 0.5.
        checkpoint_stages (Sequence[int]): Stages (1 to 4: res2 to res5) of both
            pathways whose activations are recomputed in the backward pass instead of
            kept (activation checkpointing; docs/slowfastsign.md says which fit 24 GB
            and 80 GB). Defaults to none.
        pretrained (str, optional): An mmaction2 checkpoint of this backbone (strict),
            or None for the random initialisation.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 slow_pathway: Optional[dict] = None,
                 fast_pathway: Optional[dict] = None,
                 speed_ratio: int = 4,
                 fusion_kernel: int = 5,
                 feature_dropout: float = 0.5,
                 checkpoint_stages: Sequence[int] = (),
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        self.slow_timeline, self.fast_timeline = VideoTimeline(), VideoTimeline()
        pathways = []
        for name, cfg, default, timeline in (
                ('slow_pathway', slow_pathway, SLOW_PATHWAY_R101, self.slow_timeline),
                ('fast_pathway', fast_pathway, FAST_PATHWAY_R101, self.fast_timeline)):
            cfg = dict(default if cfg is None else cfg)
            if cfg.get('lateral', False):
                raise ValueError(f'{name}.lateral=True: SlowFastSign fuses with its own '
                                 'bidirectional fusion; set lateral=False')
            for key in ('conv1_stride_t', 'pool1_stride_t'):
                if cfg.get(key, 1) != 1:
                    raise ValueError(f'{name}.{key}={cfg[key]}: SlowFastSign keeps every '
                                     'frame of a pathway (set 1)')
            if any(s != 1 for s in cfg.get('temporal_strides', (1, 1, 1, 1))):
                raise ValueError(f'{name}.temporal_strides={cfg["temporal_strides"]}: '
                                 'SlowFastSign has no temporal stride (set all to 1)')
            cfg.update(lateral=False, conv_cfg=dict(type=PackedConv3d, timeline=timeline))
            pathways.append(cfg)
        super().__init__(pretrained=pretrained, resample_rate=speed_ratio,
                         speed_ratio=speed_ratio, slow_pathway=pathways[0],
                         fast_pathway=pathways[1], init_cfg=init_cfg)
        self.checkpoint_stages = tuple(int(s) for s in checkpoint_stages)
        if not set(self.checkpoint_stages) <= set(range(1, self.slow_path.num_stages + 1)):
            raise ValueError(f'checkpoint_stages={self.checkpoint_stages}: stages 1 to '
                             f'{self.slow_path.num_stages} (res2 to res5)')
        slow_widths, fast_widths = self._widths(self.slow_path), self._widths(self.fast_path)
        # After the stem and every stage but the last.
        self.fusions = nn.ModuleList(
            BidirectionalFusion(s, f, speed_ratio, fusion_kernel, self.fast_timeline)
            for s, f in zip(slow_widths[:-1], fast_widths[:-1]))
        self.pathway_channels: Tuple[int, int] = (slow_widths[-1], fast_widths[-1])
        self.out_channels: int = sum(self.pathway_channels)
        self.dropout = nn.Dropout(feature_dropout)
        counts = sum(p.numel() for p in self.parameters())
        print_log(f'SlowFastSignResNet3d (depth {self.slow_path.depth} / '
                  f'{self.fast_path.depth}, {self.out_channels} channels): {counts:,} '
                  'trainable parameters', logger='current')

    @staticmethod
    def _widths(pathway: nn.Module) -> List[int]:
        """Channels after the stem and after each stage of an mmaction2 pathway."""
        expansion = pathway.block.expansion
        return [pathway.base_channels] + [pathway.base_channels * 2**i * expansion
                                          for i in range(pathway.num_stages)]

    def init_weights(self, pretrained: Optional[str] = None) -> None:
        """mmaction2's initialisation of the pathways (kaiming fan-out convolutions,
        unit BatchNorms, the last BatchNorm of every block at zero; or ``pretrained``
        loaded), and :meth:`BidirectionalFusion.init_weights` when not loaded."""
        loading = bool(pretrained or self.pretrained)
        super().init_weights(pretrained)
        if not loading:
            for fusion in self.fusions:
                fusion.init_weights()

    def forward_pathways(self, slow: Tensor, fast: Tensor,
                         upsample: Tensor) -> Tuple[Tensor, Tensor]:
        """Stems, stages and fusions on the pathways' inputs.

        Args:
            slow (Tensor): ``[B, 3, T_s, H, W]`` (packed: ``[1, 3, N_s, H, W]``).
            fast (Tensor): ``[B, 3, T, H, W]`` (packed: ``[1, 3, N, H, W]``).
            upsample (Tensor): ``[T]`` (``[N]``) long: the slow step of every fast step.

        Returns:
            tuple[Tensor, Tensor]: The last stage's maps ``[B, C_s, T_s, h, w]`` and
            ``[B, C_f, T, h, w]``.
        """
        slow = self.slow_path.maxpool(self.slow_path.conv1(slow))
        fast = self.fast_path.maxpool(self.fast_path.conv1(fast))
        slow, fast = self.fusions[0](slow, fast, upsample)
        for i, name in enumerate(self.slow_path.res_layers, start=1):
            slow = self._stage(getattr(self.slow_path, name), slow, i)
            fast = self._stage(getattr(self.fast_path, name), fast, i)
            if i < len(self.slow_path.res_layers):
                slow, fast = self.fusions[i](slow, fast, upsample)
        return slow, fast

    def _stage(self, stage: nn.Module, x: Tensor, index: int) -> Tensor:
        if index not in self.checkpoint_stages or not (self.training
                                                       and torch.is_grad_enabled()):
            return stage(x)
        return checkpoint(stage, x, use_reentrant=False,
                          context_fn=lambda: (nullcontext(), running_stats_frozen(stage)))

    def _features(self, slow: Tensor, fast: Tensor, upsample: Tensor) -> Tensor:
        """``[B, C_s, T_s, h, w]``, ``[B, C_f, T, h, w]`` -> ``[B * T, C_s + C_f]``."""
        slow = slow.mean(dim=(3, 4)).index_select(2, upsample)        # [B, C_s, T]
        features = torch.cat([slow, fast.mean(dim=(3, 4))], dim=1)    # [B, E, T]
        return self.dropout(features.transpose(1, 2).flatten(0, 1))

    def forward_videos(self, videos: Tensor) -> Tensor:
        """Whole videos of equal length, as the released code runs its padded batch.

        Args:
            videos (Tensor): ``[B, 3, T, H, W]``.

        Returns:
            Tensor: ``[B * T, E]`` frame features, video after video.
        """
        self.slow_timeline.lengths = self.fast_timeline.lengths = None
        # From the traced shape (not a host list), so that an exported graph keeps a
        # dynamic number of frames: fast frame t reads slow step t // speed_ratio.
        upsample = torch.arange(videos.shape[2], device=videos.device).div(
            self.speed_ratio, rounding_mode='floor')
        slow, fast = self.forward_pathways(videos[:, :, ::self.speed_ratio], videos, upsample)
        return self._features(slow, fast, upsample)

    def forward_packed(self, frames: Tensor, lengths: Sequence[int]) -> Tensor:
        """Videos of any lengths on one time axis, each temporal convolution and fusion
        confined to its own video (the path :meth:`forward` takes for videos of
        different lengths).

        Args:
            frames (Tensor): ``[N, 3, H, W]``, ``N = sum(lengths)``.
            lengths (Sequence[int]): Frames per video.

        Returns:
            Tensor: ``[N, E]`` frame features.
        """
        lengths = tuple(int(n) for n in lengths)
        sampled, upsample = slow_frame_index(lengths, self.speed_ratio)
        self.fast_timeline.lengths = lengths
        self.slow_timeline.lengths = tuple(-(-n // self.speed_ratio) for n in lengths)
        fast = frames.transpose(0, 1).unsqueeze(0)                    # [1, 3, N, H, W]
        slow = fast.index_select(2, self._index(sampled, frames.device))
        upsample = self._index(upsample, frames.device)
        return self._features(*self.forward_pathways(slow, fast, upsample), upsample)

    def forward(self, frames: Tensor, lengths: Sequence[int]) -> Tensor:
        """Per-frame features of several videos packed along dim 0.

        Args:
            frames (Tensor): ``[N, 3, H, W]``, the frames of video i are the
                ``lengths[i]`` rows after those of the videos before it.
            lengths (Sequence[int]): Frames per video (host-side ints), summing to N.

        Returns:
            Tensor: ``[N, E]`` frame features, ``E = out_channels`` (slow channels first).
        """
        lengths = host_lengths(lengths)  # 0-dim tensors while an export traces them
        if sum(lengths) != frames.shape[0] or min(lengths, default=0) < 1:
            raise ValueError(f'lengths {lengths} must be positive and sum to the '
                             f'{frames.shape[0]} packed frames')
        if len(set(lengths)) > 1:
            return self.forward_packed(frames, lengths)
        # The frame count from the shape, so that an exported graph keeps it dynamic.
        videos = frames.view(len(lengths), -1, *frames.shape[1:]).transpose(1, 2)
        return self.forward_videos(videos)

    @staticmethod
    def _index(values: Sequence[int], device: torch.device) -> Tensor:
        """A long index made on the host, copied without waiting."""
        return torch.tensor(values, dtype=torch.long).to(device, non_blocking=True)
