"""Checkpoints of the released AdaptSign code -> mmsign checkpoints.

Registered as the ``adaptsign`` layout (:mod:`mmsign.models.converters.registry`), used by
``tools/model_converters/released_to_mmsign.py``.

The released training code saves ``torch.save(dict(model_state_dict=..., epoch=...,
optimizer_state_dict=..., scheduler_state_dict=..., rng_state=...))``
(``ADAPTSIGN_SPEC.md`` section 8). Its model is ``SLRModel``: ``conv2d.visual.*`` is the
CLIP ViT with AdaptSign's modules (OpenAI naming), ``conv1d.temporal_conv.*`` the
temporal convolution, ``temporal_model.rnn.*`` the BiLSTM (an ``nn.LSTM``), and
``conv1d.fc.weight`` / ``classifier.weight`` one shared classifier saved under two keys.

mmsign keeps every tensor as it is (``nn.MultiheadAttention``'s packed ``in_proj_weight``
included); only the names change, and two shapes lose a singleton axis:

- ``conv2d.visual.transformer.resblocks.{i}.{ln_1,attn,ln_2,mlp}.*`` ->
  ``backbone.blocks.{i}.frozen.*``
- ``...resblocks.{i}.prefix_embedding_k`` / ``_v`` ``[M, 1, D]`` ->
  ``backbone.blocks.{i}.prefix.key`` / ``.value`` ``[M, D]``
- ``...resblocks.{i}.S_Adapter.mlp.*`` / ``MLP_Adapter.mlp.*`` ->
  ``backbone.blocks.{i}.spatial_adapter.*`` / ``mlp_adapter.*``
- ``conv2d.visual.transformer.query`` ``[1, 1, D]`` -> ``backbone.aggregation.query`` ``[1, D]``
- ``conv2d.visual.transformer.aggblocks.{i}.*`` -> ``backbone.aggregation.blocks.{i}.*``
- ``conv2d.visual.transformer.taggblocks.ln_1.*`` -> ``backbone.temporal.ln.*``
- ``conv2d.visual.transformer.temporal_ada_weight`` -> ``backbone.temporal.weight``
- ``conv2d.visual.ada_weight`` -> ``backbone.alpha``
- ``conv2d.visual.{conv1,class_embedding,positional_embedding,ln_pre,ln_post,ln_post_cls,
  proj}`` -> ``backbone.*`` (same names)
- ``conv1d.temporal_conv.*`` -> ``head.temporal_conv.temporal_conv.*``
- ``temporal_model.rnn.*`` -> ``head.bilstm.rnn.*``
- ``conv1d.fc.weight`` = ``classifier.weight`` -> ``head.classifier.weight``
"""
import json
import re
from collections import OrderedDict
from typing import Any, Dict, Mapping, Tuple

import torch
from mmaction.registry import MODELS
from torch import Tensor

from mmsign.models.converters.registry import (
    OfficialCheckpointError,
    ReleasedLayout,
    register_released_layout,
)
from mmsign.utils.state_dict import diff_state_dicts, strip_prefix

#: ``(pattern, replacement)`` on the released key, first match wins.
OFFICIAL_KEY_RULES: Tuple[Tuple[str, str], ...] = (
    (r'conv2d\.visual\.transformer\.resblocks\.(\d+)\.prefix_embedding_k$',
     r'backbone.blocks.\1.prefix.key'),
    (r'conv2d\.visual\.transformer\.resblocks\.(\d+)\.prefix_embedding_v$',
     r'backbone.blocks.\1.prefix.value'),
    (r'conv2d\.visual\.transformer\.resblocks\.(\d+)\.S_Adapter\.mlp\.',
     r'backbone.blocks.\1.spatial_adapter.'),
    (r'conv2d\.visual\.transformer\.resblocks\.(\d+)\.MLP_Adapter\.mlp\.',
     r'backbone.blocks.\1.mlp_adapter.'),
    (r'conv2d\.visual\.transformer\.resblocks\.(\d+)\.', r'backbone.blocks.\1.frozen.'),
    (r'conv2d\.visual\.transformer\.aggblocks\.', 'backbone.aggregation.blocks.'),
    (r'conv2d\.visual\.transformer\.query$', 'backbone.aggregation.query'),
    (r'conv2d\.visual\.transformer\.taggblocks\.ln_1\.', 'backbone.temporal.ln.'),
    (r'conv2d\.visual\.transformer\.temporal_ada_weight$', 'backbone.temporal.weight'),
    (r'conv2d\.visual\.ada_weight$', 'backbone.alpha'),
    (r'conv2d\.visual\.(class_embedding|positional_embedding|proj|conv1\.|ln_pre\.|ln_post\.'
     r'|ln_post_cls\.)', r'backbone.\1'),
    (r'conv1d\.temporal_conv\.', 'head.temporal_conv.temporal_conv.'),
    (r'temporal_model\.rnn\.', 'head.bilstm.rnn.'),
)

#: The shared classifier, saved twice by the released code (``share_classifier=True``).
SHARED_CLASSIFIER_KEYS = ('conv1d.fc.weight', 'classifier.weight')
CLASSIFIER_KEY = 'head.classifier.weight'

#: Released class counts (glosses + blank) of the datasets mmsign reads.
RELEASED_NUM_CLASSES = {'phoenix2014': 1296, 'phoenix2014t': 1116, 'csl-daily': 2001,
                        'csl': 180}

#: open_clip names of the OpenAI ViTs: (width, layers, patch size, image size, output dim).
_OPENAI_VITS = {
    (768, 12, 16, 224, 512): 'ViT-B-16',
    (768, 12, 32, 224, 512): 'ViT-B-32',
    (1024, 24, 14, 224, 768): 'ViT-L-14',
    (1024, 24, 14, 336, 768): 'ViT-L-14-336',
}


def official_to_mmsign_key(key: str) -> str:
    """The mmsign name of one released ``model_state_dict`` key.

    Args:
        key (str): A released key, e.g. ``conv2d.visual.transformer.query``.

    Returns:
        str: The mmsign key, e.g. ``backbone.aggregation.query``.

    Raises:
        KeyError: The key belongs to no part of the released model.
    """
    for pattern, replacement in OFFICIAL_KEY_RULES:
        name, hits = re.subn('^' + pattern, replacement, key)
        if hits:
            return name
    raise KeyError(key)


def _reshape_for_mmsign(name: str, tensor: Tensor) -> Tensor:
    """Drop the batch-of-one axis the released code keeps on its learnable tokens."""
    if re.search(r'\.prefix\.(key|value)$', name) or name == 'backbone.aggregation.query':
        if tensor.dim() != 3 or tensor.shape[1 if 'prefix' in name else 0] != 1:
            raise OfficialCheckpointError(
                f'{name}: expected [M, 1, D] prefix tokens or a [1, 1, D] query in the '
                f'released layout, got {list(tensor.shape)}')
        return tensor.squeeze(1) if 'prefix' in name else tensor.squeeze(0)
    return tensor


def convert_official_state_dict(state_dict: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Rename (and where needed reshape) a released ``model_state_dict`` for mmsign.

    Values are not copied: the result's tensors are the released ones (or views of them).
    A ``module.`` prefix (a model saved inside ``DataParallel``) is removed.

    Args:
        state_dict (Mapping[str, Tensor]): The released ``model_state_dict``.

    Returns:
        OrderedDict[str, Tensor]: The state dict of an mmsign ``SignRecognizer``.

    Raises:
        OfficialCheckpointError: Unknown keys, a shared classifier missing or saved with
            two different values, or prefix tokens / query of an unexpected shape.
    """
    state_dict = strip_prefix(state_dict)
    converted: 'OrderedDict[str, Tensor]' = OrderedDict()
    unknown = []
    for key, tensor in state_dict.items():
        if key in SHARED_CLASSIFIER_KEYS:
            continue
        try:
            name = official_to_mmsign_key(key)
        except KeyError:
            unknown.append(key)
            continue
        converted[name] = _reshape_for_mmsign(name, tensor)
    if unknown:
        raise OfficialCheckpointError(
            f'{len(unknown)} keys belong to no part of the released AdaptSign model: '
            f'{unknown[:10]}{" ..." if len(unknown) > 10 else ""}; is this a checkpoint of '
            'the released AdaptSign code (SLRModel with a CLIP ViT)?')
    present = [k for k in SHARED_CLASSIFIER_KEYS if k in state_dict]
    if not present:
        raise OfficialCheckpointError(
            f'no classifier in the checkpoint: expected {" and ".join(SHARED_CLASSIFIER_KEYS)}')
    first = state_dict[present[0]]
    for key in present[1:]:
        if not torch.equal(state_dict[key], first):
            raise OfficialCheckpointError(
                f'{present[0]} and {key} differ: the released model shares one classifier '
                'between the conv and the sequence branch (share_classifier=True) and so '
                'does mmsign; a checkpoint with two classifiers cannot be converted')
    converted[CLASSIFIER_KEY] = first
    return converted


def infer_model_settings(state_dict: Mapping[str, Tensor]) -> Dict[str, Any]:
    """Architecture of a converted state dict, read from its shapes.

    Args:
        state_dict (Mapping[str, Tensor]): mmsign names (:func:`convert_official_state_dict`).

    Returns:
        dict: ``backbone`` and ``head`` keyword arguments of the mmsign modules
        (``arch`` an open_clip name when the shapes are an OpenAI ViT's, else a dict with
        64-wide heads as OpenAI's ViTs have) and ``num_classes``.
    """
    def shape(key: str) -> Tuple[int, ...]:
        if key not in state_dict:
            raise OfficialCheckpointError(f'{key} missing from the converted state dict')
        return tuple(state_dict[key].shape)

    width, _, patch, _ = shape('backbone.conv1.weight')
    tokens = shape('backbone.positional_embedding')[0]
    image_size = int(round((tokens - 1) ** 0.5)) * patch
    output_dim = shape('backbone.proj')[1]
    layers = len({k.split('.')[2] for k in state_dict if k.startswith('backbone.blocks.')})
    key = (width, layers, patch, image_size, output_dim)
    arch: Any = _OPENAI_VITS.get(key) or dict(
        width=width, layers=layers, heads=max(1, width // 64), patch_size=patch,
        image_size=image_size, output_dim=output_dim)
    prefix = state_dict.get('backbone.blocks.0.prefix.key')
    hidden, _, _ = shape('head.temporal_conv.temporal_conv.0.weight')
    lstm_layers = len([k for k in state_dict
                       if re.match(r'head\.bilstm\.rnn\.weight_ih_l\d+$', k)])
    num_classes = shape(CLASSIFIER_KEY)[1]
    return dict(
        backbone=dict(arch=arch,
                      num_prefix_tokens=0 if prefix is None else prefix.shape[0],
                      adapter_ratio=shape('backbone.blocks.0.spatial_adapter.c_in.weight')[0]
                      / width,
                      temporal_window=5 if 'backbone.temporal.weight' in state_dict else None),
        head=dict(hidden_channels=hidden, lstm_layers=lstm_layers),
        num_classes=num_classes)


def released_model_cfg(settings: Mapping[str, Any]) -> dict:
    """The ``SignRecognizer`` config of a released model (random CLIP weights, no vocabulary).

    Args:
        settings (Mapping): :func:`infer_model_settings`'s result.

    Returns:
        dict: A model config for ``MODELS.build``.
    """
    return dict(
        type='SignRecognizer',
        backbone=dict(type='AdaptSignViT', pretrained=None, **settings['backbone']),
        head=dict(type='SignCTCHead', num_classes=settings['num_classes'], **settings['head']),
        decoder=dict(type='CTCGreedyDecoder'))


def check_state_dict_fits(state_dict: Mapping[str, Tensor], model_cfg: dict) -> None:
    """Strict check of names and shapes against a recognizer built on the meta device.

    Args:
        state_dict (Mapping[str, Tensor]): A converted state dict.
        model_cfg (dict): The ``SignRecognizer`` config to check against (its vocabulary
            and CLIP weights are not needed and not loaded).

    Raises:
        OfficialCheckpointError: Missing or unexpected keys, or shapes that differ.
    """
    with torch.device('meta'):
        model = MODELS.build(model_cfg)
    diff = diff_state_dicts(state_dict, model.state_dict())
    if diff:
        raise OfficialCheckpointError('the converted weights do not fit the mmsign model: '
                                      + diff.describe('checkpoint', 'model'))



def _is_adaptsign(keys) -> bool:
    """AdaptSign's ``conv2d`` is a CLIP ViT (``conv2d.visual.*``)."""
    return any(k.startswith('conv2d.visual.') for k in keys)


def _arch_name(model_cfg: Mapping[str, Any]) -> str:
    arch = model_cfg['backbone']['arch']
    return arch if isinstance(arch, str) else json.dumps(arch)


register_released_layout(ReleasedLayout(
    name='adaptsign',
    description='AdaptSign (CLIP ViT with adapters)',
    detect=_is_adaptsign,
    convert=convert_official_state_dict,
    model_cfg=lambda state_dict: released_model_cfg(infer_model_settings(state_dict)),
    arch=_arch_name))

__all__ = [
    'CLASSIFIER_KEY', 'OFFICIAL_KEY_RULES', 'OfficialCheckpointError', 'RELEASED_NUM_CLASSES',
    'SHARED_CLASSIFIER_KEYS', 'check_state_dict_fits', 'convert_official_state_dict',
    'infer_model_settings', 'official_to_mmsign_key', 'released_model_cfg'
]
