"""Checkpoints of the released CorrNet+ code -> mmsign checkpoints (``LINEAGE_SPEC.md``).

The released model is CorrNet's with, after layer ``k`` (2, 3, 4), a richer correlation
module ``conv2d.corr{k}`` and a temporal weighting ``conv2d.temporal_weight{k}``; its head
pools with temporal lift pooling and shares one weight-normalised classifier:

- ``conv2d.corr{k}.*`` -> ``backbone.stage_modules.layer{k}.0.*``: ``down_conv2`` ->
  ``correlation.key_proj``, ``weights2`` -> ``correlation.offset_weights``, ``weights4``
  -> ``correlation.query.pooling_weights``, ``attpool.{q,k,v}_proj`` / ``attpool.c_proj``
  -> ``correlation.query.attention_pool.{q,k,v}_proj`` / ``.out_proj``, ``attpool.query``
  (``[1, 1, C]``) -> ``correlation.query.attention_pool.query`` (``[C]``), and CorrNet's
  identification map (``down_conv``, ``spatial_aggregation{j}``, ``weights``,
  ``conv_back``) -> ``identification.*``. The module's unused ``mlp.*`` and ``weights3``
  are dropped.
- ``conv2d.temporal_weight{k}.*`` -> ``backbone.stage_modules.layer{k}.1.*`` (names as
  SEN's TSEM, :data:`~.sen.EMPHASIS_RULES`)
- ``conv2d.alpha`` -> ``backbone.alpha``; the trunk and the head as for CorrNet.
"""
import re
from typing import List, Mapping, Optional, Set, Tuple

from torch import Tensor

from mmsign.models.converters.sen import emphasis_name

#: Inside ``Get_Correlation``: released name -> name under ``stage_modules.layer{k}.0``.
CORRELATION_PLUS_RULES: Tuple[Tuple[str, str], ...] = (
    (r'down_conv2\.weight$', 'correlation.key_proj.weight'),
    (r'weights2$', 'correlation.offset_weights'),
    (r'weights4$', 'correlation.query.pooling_weights'),
    (r'attpool\.query$', 'correlation.query.attention_pool.query'),
    (r'attpool\.([qkv])_proj\.(weight|bias)$', r'correlation.query.attention_pool.\1_proj.\2'),
    (r'attpool\.c_proj\.(weight|bias)$', r'correlation.query.attention_pool.out_proj.\1'),
    (r'down_conv\.weight$', 'identification.reduce.weight'),
    (r'spatial_aggregation([1-3])\.(weight|bias)$', 'identification.aggregations.{}.{}'),
    (r'weights$', 'identification.aggregation_weights'),
    (r'conv_back\.weight$', 'identification.expand.weight'),
)

#: Tensors the released ``Get_Correlation`` builds but never uses.
DEAD_KEYS = re.compile(r'conv2d\.corr[2-4]\.(mlp\.\d+\.(weight|bias)|weights3)$')

_CORR_KEY = re.compile(r'conv2d\.corr([2-4])\.(.+)$')
_WEIGHTING_KEY = re.compile(r'conv2d\.temporal_weight([2-4])\.(.+)$')


def is_corrnet_plus_state_dict(keys: Set[str]) -> bool:
    """Whether released keys (``module.`` stripped) are CorrNet+'s: temporal weighting or
    an attention-pooled query after the stages."""
    return any(_WEIGHTING_KEY.match(k) or re.match(r'conv2d\.corr\d\.attpool\.', k)
               for k in keys)


def dropped_corrnet_plus_keys(keys: Set[str]) -> List[str]:
    """The released keys that are accepted and dropped: every ``corr{k}.mlp.*`` and
    ``corr{k}.weights3`` (built by the released module, never used in its forward)."""
    return sorted(k for k in keys if DEAD_KEYS.match(k))


def corrnet_plus_backbone_key(key: str) -> Optional[str]:
    """mmsign's name of a released CorrNet+ stage-module key, None for other keys.

    Raises:
        KeyError: A key inside a stage module that belongs to no known tensor.
    """
    match = _CORR_KEY.match(key)
    if match:
        stage, rest = match.groups()
        for pattern, replacement in CORRELATION_PLUS_RULES:
            found = re.match(pattern, rest)
            if found:
                if '{}' in replacement:
                    replacement = replacement.format(int(found.group(1)) - 1, found.group(2))
                name = re.sub(pattern, replacement, rest)
                return f'backbone.stage_modules.layer{stage}.0.{name}'
        raise KeyError(key)
    match = _WEIGHTING_KEY.match(key)
    if match:
        stage, rest = match.groups()
        name = emphasis_name(rest)
        if name is None:
            raise KeyError(key)
        return f'backbone.stage_modules.layer{stage}.1.{name}'
    return None


def convert_corrnet_plus_backbone(state_dict: Mapping[str, Tensor]) -> dict:
    """The stage modules of a released CorrNet+ ``model_state_dict``, renamed for mmsign
    (dead tensors left out; the rest is converted as CorrNet's)."""
    converted = {}
    for key, tensor in state_dict.items():
        if DEAD_KEYS.match(key):
            continue
        name = corrnet_plus_backbone_key(key)
        if name is not None:
            converted[name] = tensor.reshape(-1) if key.endswith('attpool.query') else tensor
    return converted
