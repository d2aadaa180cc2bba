"""Parameters and FLOPs of AdaptSign against the plain CLIP ViT it adapts.

FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode``: matrix products,
convolutions and attention, 2 FLOPs per multiply-add; normalisations, activations and
element-wise sums are not counted (as usual for ViT FLOPs). The backbone runs on the meta
device (shapes only: no memory, no time), so ViT-L counts as fast as a toy model.
"""
import copy
import re
from typing import Any, Dict, Tuple

import torch
from mmaction.registry import MODELS
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mmsign.models.backbones.clip_vit import build_clip_vit, clip_vit_config

#: Parts of the AdaptSign backbone that the plain CLIP ViT does not have, by module name.
ADDED_PARTS = {
    'adapters': r'\.blocks\.\d+\.(spatial_adapter|mlp_adapter)$',
    'aggregation query': r'\.aggregation\.blocks\.\d+$',
    'temporal correlation': r'\.temporal$',
}


def count_flops(module: nn.Module, *args: Any) -> Tuple[int, Dict[str, int]]:
    """FLOPs of one call of ``module``, in all and per submodule.

    Args:
        module (nn.Module): The module to run (under ``torch.no_grad``).
        *args: Its inputs.

    Returns:
        tuple[int, dict[str, int]]: Total FLOPs and the FLOPs of every (nested) submodule,
        keyed by ``ClassName.path.to.module``.
    """
    with torch.no_grad(), FlopCounterMode(display=False, depth=None) as counter:
        module(*args)
    per_module = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    return counter.get_total_flops(), per_module


def _counts(module: nn.Module) -> Dict[str, int]:
    counts = {'trainable': 0, 'frozen': 0}
    for p in module.parameters():
        counts['trainable' if p.requires_grad else 'frozen'] += p.numel()
    return counts


def recognizer_complexity(model_cfg: dict, num_frames: int = 16) -> Dict[str, Any]:
    """Parameters and per-frame FLOPs of a recognizer whose backbone is ``AdaptSignViT``.

    The backbone and the plain CLIP ViT of the same architecture are run on one video of
    ``num_frames`` frames (the prefix tokens are projected once per call and shared by
    its frames) on the meta device; the head on that video's features on the CPU.

    Args:
        model_cfg (dict): The ``SignRecognizer`` config (``cfg.model``). Its vocabulary is
            not needed when ``head.num_classes`` is set; CLIP weights are not loaded.
        num_frames (int): Frames of the video. Defaults to 16.

    Returns:
        dict: ``params`` (``backbone``, ``head``: trainable / frozen; ``clip_vit``: the
        plain ViT's total), ``flops_per_frame`` (``clip_vit``, ``adaptsign``, ``added``,
        ``added_fraction``, ``added_parts``: FLOPs of each part of
        :data:`ADDED_PARTS` and ``prefix tokens and rest``; ``head``) and the settings.
    """
    model_cfg = copy.deepcopy(model_cfg)
    backbone_cfg = model_cfg['backbone']
    if backbone_cfg.get('type') != 'AdaptSignViT':
        raise ValueError(f'complexity is measured against a CLIP ViT: the backbone must be '
                         f'AdaptSignViT, got {backbone_cfg.get("type")}')
    backbone_cfg['pretrained'] = None
    arch_cfg, arch_name = clip_vit_config(backbone_cfg.get('arch', 'ViT-B-16'))
    size = arch_cfg['image_size']
    with torch.device('meta'):
        backbone = MODELS.build(backbone_cfg).eval()
        plain = build_clip_vit(arch_cfg).eval()
        frames = torch.empty(num_frames, 3, size, size)
    adapt_total, adapt_parts = count_flops(backbone, frames, [num_frames])
    plain_total, _ = count_flops(plain, frames)

    added_parts = {}
    for part, pattern in ADDED_PARTS.items():
        added_parts[part] = sum(flops for name, flops in adapt_parts.items()
                                if re.search(pattern, name)) / num_frames
    added = (adapt_total - plain_total) / num_frames
    # Prefix tokens: their key/value projections and the longer attention.
    added_parts['prefix tokens and rest'] = added - sum(added_parts.values())

    head_cfg = dict(model_cfg['head'], in_channels=backbone.out_channels)
    if 'num_classes' not in head_cfg:
        raise ValueError('set model.head.num_classes (or measure a recipe, whose dataset '
                         'config defines num_classes)')
    head = MODELS.build(head_cfg).eval()
    feats = torch.zeros(num_frames, backbone.out_channels)
    head_total, _ = count_flops(head, feats, [num_frames])
    return dict(
        arch=arch_name,
        image_size=size,
        num_frames=num_frames,
        params=dict(backbone=_counts(backbone), head=_counts(head),
                    clip_vit=sum(p.numel() for p in plain.parameters())),
        flops_per_frame=dict(clip_vit=plain_total / num_frames,
                             adaptsign=adapt_total / num_frames,
                             added=added,
                             added_fraction=added / (plain_total / num_frames),
                             added_parts=added_parts,
                             head=head_total / num_frames))


__all__ = ['ADDED_PARTS', 'count_flops', 'recognizer_complexity']
