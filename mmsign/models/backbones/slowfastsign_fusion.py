"""SlowFastSign's bidirectional feature fusion and the packed time axis it runs on
(``SLOWFASTSIGN_SPEC.md`` section 2).

At each fusion point, with slow features ``S`` (``C_s`` channels, ``ceil(T / 4)`` steps)
and fast features ``F`` (``C_f`` channels, ``T`` steps), both directions read the
features before the fusion::

    S' = S + w_s * ReLU(BN(Conv_{C_f -> C_s, kernel (5,1,1), stride (4,1,1), pad 2}(F)))
    F' = F + w_f * Up4(ReLU(BN(Conv_{C_s -> C_f, 1x1x1}(S))))

``Up4`` repeats each slow step 4 times (fast step ``t`` reads slow step ``t // 4``);
``w_s`` and ``w_f`` are learnable scalars that start at 0 (the fusion starts switched off).

Videos of different lengths share one time axis, ``[1, C, N, H, W]`` with the videos one
after another (:class:`VideoTimeline`); :class:`PackedConv3d` convolves each of them on
its own there, so that a temporal kernel never reaches a neighbouring video and zero
padding is each video's own, exactly as in a batch of one video.
"""
from typing import Optional, Sequence, Tuple

import torch
from mmcv.cnn import ConvModule
from torch import Tensor, nn


class VideoTimeline:
    """Lengths of the videos laid one after another on a pathway's time axis.

    ``lengths`` is None while the time axis holds one video per batch entry
    (``[B, C, T, H, W]``); the backbone sets it before every forward pass (and keeps it
    until the next one, for the recomputation of activation checkpointing).
    """

    def __init__(self) -> None:
        self.lengths: Optional[Tuple[int, ...]] = None


class PackedConv3d(nn.Conv3d):
    """``nn.Conv3d`` that convolves every video of a packed time axis on its own.

    With a temporal kernel of 1 or no packed videos it is ``nn.Conv3d`` itself; otherwise
    the input ``[1, C, N, H, W]`` is split along time into the videos of
    ``timeline.lengths`` and each is convolved alone (its own zero padding), so a stride
    ``s`` gives ``ceil(T_i / s)`` steps for a video of ``T_i`` with "same" padding.
    Built through mmcv's ``conv_cfg=dict(type=PackedConv3d, timeline=...)``.

    Args:
        *args: ``nn.Conv3d``'s.
        timeline (VideoTimeline, optional): Where the videos of the input lie.
        **kwargs: ``nn.Conv3d``'s.
    """

    def __init__(self, *args, timeline: Optional[VideoTimeline] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.timeline = timeline

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, T, H, W]`` or packed ``[1, C, N, H, W]`` -> the convolution's output."""
        lengths = None if self.timeline is None else self.timeline.lengths
        if lengths is None or self.kernel_size[0] == 1:
            return super().forward(x)
        return torch.cat([super(PackedConv3d, self).forward(video)
                          for video in x.split(list(lengths), dim=2)], dim=2)


def slow_frame_index(lengths: Sequence[int], ratio: int) -> Tuple[list, list]:
    """Host-side indices of the slow sampling and of ``Up4`` on a packed time axis.

    Args:
        lengths (Sequence[int]): Fast (input) frames of each video.
        ratio (int): Fast steps per slow step (the paper's alpha, 4).

    Returns:
        tuple[list, list]: The fast frames the slow pathway sees (frames ``0, ratio,
        2 ratio, ...`` of each video, ``ceil(T_i / ratio)`` of them), and for every fast
        frame ``t`` of a video, the slow step ``t // ratio`` of the same video.
    """
    sampled, upsample = [], []
    fast_start = slow_start = 0
    for length in lengths:
        sampled += range(fast_start, fast_start + length, ratio)
        upsample += [slow_start + t // ratio for t in range(length)]
        fast_start += length
        slow_start += -(-length // ratio)
    return sampled, upsample


class BidirectionalFusion(nn.Module):
    """One fusion point of SlowFastSign's bidirectional gated fusion (module docstring).

    State-dict names: ``f2s.conv.weight``, ``f2s.bn.*``, ``s2f.conv.weight``, ``s2f.bn.*``,
    ``weight_s``, ``weight_f``.

    Args:
        slow_channels (int): ``C_s``.
        fast_channels (int): ``C_f``.
        speed_ratio (int): Fast steps per slow step (stride of the fast-to-slow conv).
        fusion_kernel (int): Temporal kernel of the fast-to-slow conv (odd).
        fast_timeline (VideoTimeline, optional): Where the videos lie on the fast time
            axis (read by the fast-to-slow conv).
        norm_cfg (dict): Norm of both directions. Defaults to ``BN3d``.
    """

    def __init__(self,
                 slow_channels: int,
                 fast_channels: int,
                 speed_ratio: int = 4,
                 fusion_kernel: int = 5,
                 fast_timeline: Optional[VideoTimeline] = None,
                 norm_cfg: Optional[dict] = None) -> None:
        super().__init__()
        norm_cfg = norm_cfg or dict(type='BN3d')
        self.f2s = ConvModule(
            fast_channels, slow_channels, (fusion_kernel, 1, 1),
            stride=(speed_ratio, 1, 1), padding=(fusion_kernel // 2, 0, 0), bias=False,
            conv_cfg=dict(type=PackedConv3d, timeline=fast_timeline), norm_cfg=norm_cfg,
            act_cfg=dict(type='ReLU', inplace=True))
        self.s2f = ConvModule(slow_channels, fast_channels, 1, bias=False,
                              conv_cfg=dict(type='Conv3d'), norm_cfg=norm_cfg,
                              act_cfg=dict(type='ReLU', inplace=True))
        self.weight_s = nn.Parameter(torch.zeros(1))
        self.weight_f = nn.Parameter(torch.zeros(1))

    def init_weights(self) -> None:
        """Kaiming (fan-out) convolutions, unit BatchNorms, both gates at zero."""
        self.f2s.init_weights()
        self.s2f.init_weights()
        nn.init.zeros_(self.weight_s)
        nn.init.zeros_(self.weight_f)

    def forward(self, slow: Tensor, fast: Tensor, upsample: Tensor) -> Tuple[Tensor, Tensor]:
        """Fuse both ways.

        Args:
            slow (Tensor): ``[B, C_s, T_s, H, W]`` (or packed ``[1, C_s, N_s, H, W]``).
            fast (Tensor): ``[B, C_f, T, H, W]`` (or packed ``[1, C_f, N, H, W]``).
            upsample (Tensor): ``[T]`` (``[N]``) long: the slow step of every fast step.

        Returns:
            tuple[Tensor, Tensor]: ``S'`` and ``F'``, shapes of the inputs.
        """
        to_slow = self.f2s(fast)
        to_fast = self.s2f(slow).index_select(2, upsample)
        return slow + self.weight_s * to_slow, fast + self.weight_f * to_fast
