"""Checkpoints of the released SEN code -> mmsign checkpoints (``LINEAGE_SPEC.md``).

The released model is CorrNet's trunk without correlation modules, with a spatial and a
temporal emphasis module in every residual block, max pooling in the temporal conv, and
plain (not shared, not normalised) classifiers:

- ``conv2d.{conv1,bn1,layer1..4}.*`` -> ``backbone.*`` (torchvision's names), except
- ``conv2d.layer{i}.{b}.ssem.*`` -> ``backbone.layer{i}.{b}.block_modules.0.*`` and
  ``conv2d.layer{i}.{b}.tsem.*`` -> ``backbone.layer{i}.{b}.block_modules.1.*``, inside
  each: ``conv_transform`` -> ``reduce``, ``conv_enhance.{j}`` -> ``aggregations.{j}``,
  ``weights`` -> ``aggregation_weights``, ``conv_back`` -> ``expand``, ``alpha`` -> ``alpha``
- the temporal conv, the BiLSTM and the classifiers as for CorrNet.
"""
import re
from typing import Dict, Mapping, Optional, Set, Tuple

from torch import Tensor

#: SEN's modules inside every block, in the order of the backbone's ``block_modules``.
BLOCK_MODULES: Dict[str, int] = {'ssem': 0, 'tsem': 1}

#: Inside SSEM / TSEM (the release's names) -> :class:`SpatialEmphasis` /
#: :class:`TemporalEmphasis` (mmsign's).
EMPHASIS_RULES: Tuple[Tuple[str, str], ...] = (
    (r'conv_transform\.(weight|bias)$', r'reduce.\1'),
    (r'conv_enhance\.(\d+)\.(weight|bias)$', r'aggregations.\1.\2'),
    (r'weights$', 'aggregation_weights'),
    (r'conv_back\.(weight|bias)$', r'expand.\1'),
    (r'alpha$', 'alpha'),
)

_EMPHASIS_KEY = re.compile(r'conv2d\.(layer[1-4]\.\d+)\.(ssem|tsem)\.(.+)$')


def emphasis_name(rest: str) -> Optional[str]:
    """mmsign's name of a tensor inside a released SSEM / TSEM / temporal weighting
    (``conv_enhance.2.weight`` -> ``aggregations.2.weight``), or None if unknown."""
    for pattern, replacement in EMPHASIS_RULES:
        if re.match(pattern, rest):
            return re.sub(pattern, replacement, rest)
    return None


def sen_backbone_key(key: str) -> Optional[str]:
    """mmsign's name of a released SEN emphasis-module key, or None for other keys.

    Raises:
        KeyError: A key inside an emphasis module that belongs to no known tensor.
    """
    match = _EMPHASIS_KEY.match(key)
    if not match:
        return None
    block, module, rest = match.groups()
    name = emphasis_name(rest)
    if name is None:
        raise KeyError(key)
    return f'backbone.{block}.block_modules.{BLOCK_MODULES[module]}.{name}'


def is_sen_state_dict(keys: Set[str]) -> bool:
    """Whether released keys (``module.`` stripped) are SEN's: emphasis modules in the
    residual blocks."""
    return any(_EMPHASIS_KEY.match(k) for k in keys)


def convert_sen_backbone(state_dict: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """The emphasis modules of a released SEN ``model_state_dict``, renamed for mmsign
    (the rest is CorrNet's and converted as CorrNet's)."""
    converted = {}
    for key, tensor in state_dict.items():
        name = sen_backbone_key(key)
        if name is not None:
            converted[name] = tensor
    return converted
