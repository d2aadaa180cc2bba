"""Checkpoints of the released AdaptSign code -> mmsign checkpoints.

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
import logging
import os.path as osp
import re
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
from mmaction.registry import MODELS
from mmengine.logging import print_log
from torch import Tensor

from mmsign.datasets.vocabulary import GlossVocabulary
from mmsign.engine.checkpoint import allow_mmengine_checkpoints
from mmsign.version import __version__

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


class OfficialCheckpointError(ValueError):
    """A file that is not (or does not fit) a released AdaptSign checkpoint."""


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


def _owned(tensor: Tensor) -> Tensor:
    """The tensor alone in its storage, so that saving it saves nothing else."""
    if tensor.untyped_storage().nbytes() == tensor.nbytes and tensor.is_contiguous():
        return tensor
    return tensor.clone(memory_format=torch.contiguous_format)


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
    state_dict = {(k[len('module.'):] if k.startswith('module.') else k): v
                  for k, v in state_dict.items()}
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


def load_official_checkpoint(path: str, unsafe_load: bool = False) -> Dict[str, Any]:
    """Read a released checkpoint file onto the CPU.

    The file also holds the optimiser, scheduler and RNG states (tensors, a
    ``collections.Counter``, NumPy's RNG state). ``torch.load(weights_only=True)`` reads
    them once NumPy's array classes are allowlisted, as mmsign does for mmengine's own
    checkpoints; nothing in the file can run code. ``unsafe_load=True`` falls back to full
    unpickling, for files from a source you trust that hold other objects.

    Args:
        path (str): The ``.pt`` / ``.pth`` file.
        unsafe_load (bool): Unpickle everything (``weights_only=False``). Defaults to False.

    Returns:
        dict: The saved dict; a bare state dict is returned as ``{'model_state_dict': ...}``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        OfficialCheckpointError: The file holds objects that safe loading refuses, or no
            state dict.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'released checkpoint not found: {path}')
    allow_mmengine_checkpoints()
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=not unsafe_load)
    except Exception as e:  # torch.load raises many types for a broken file
        refused = re.search(r'Unsupported global: GLOBAL (\S+)', str(e))
        if refused:
            raise OfficialCheckpointError(
                f'{path} holds objects that torch.load(weights_only=True) refuses to '
                f'unpickle ({refused.group(1)}). If the file comes from a source you trust, '
                'convert it with --unsafe-load (full unpickling can run code hidden in a '
                'file)') from e
        # torch's weights-only message buries the cause after "WeightsUnpickler error:".
        lines = [line for line in str(e).split('WeightsUnpickler error:')[-1].splitlines()
                 if line.strip()]
        reason = lines[0].strip() if lines else ''
        raise OfficialCheckpointError(f'cannot read {path} ({type(e).__name__}: {reason}): is '
                                      'it a complete torch.save file?') from e
    if isinstance(checkpoint, Mapping) and 'model_state_dict' in checkpoint:
        return dict(checkpoint)
    if isinstance(checkpoint, Mapping) and checkpoint and all(
            isinstance(v, Tensor) for v in checkpoint.values()):
        return {'model_state_dict': checkpoint}
    found = list(checkpoint)[:10] if isinstance(checkpoint, Mapping) else type(checkpoint)
    raise OfficialCheckpointError(
        f'{path} is not a released AdaptSign checkpoint: expected a dict with '
        f'"model_state_dict", found {found}')


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
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = [f'{k}: checkpoint {list(state_dict[k].shape)}, model '
                  f'{list(expected[k].shape)}' for k in expected
                  if k in state_dict and state_dict[k].shape != expected[k].shape]
    if missing or unexpected or mismatched:
        raise OfficialCheckpointError(
            f'the converted weights do not fit the mmsign model: missing {missing}, '
            f'unexpected {unexpected}, shape mismatches {mismatched}')


def check_vocabulary(num_classes: int, vocab: Optional[GlossVocabulary],
                     dataset: Optional[str] = None) -> List[str]:
    """Compare a released classifier with a vocabulary and a dataset.

    Class ``i`` (1-based) of a released model is ``glosses[i - 1]`` of the vocabulary its
    training built: the sorted set of the raw glosses of all three splits. A vocabulary
    that is not sorted that way was built differently and maps classes to wrong glosses.

    Args:
        num_classes (int): Classifier outputs of the checkpoint, blank included.
        vocab (GlossVocabulary, optional): The vocabulary meant for it.
        dataset (str, optional): The dataset it was trained on (a key of
            :data:`RELEASED_NUM_CLASSES`).

    Returns:
        list[str]: Problems found, each a full sentence; empty when all agree.
    """
    problems = []
    guesses = [name for name, count in RELEASED_NUM_CLASSES.items() if count == num_classes]
    if dataset is not None:
        if dataset not in RELEASED_NUM_CLASSES:
            problems.append(f'unknown dataset {dataset!r}: use one of '
                            f'{sorted(RELEASED_NUM_CLASSES)}')
        elif RELEASED_NUM_CLASSES[dataset] != num_classes:
            problems.append(
                f'the checkpoint has {num_classes} classes but {dataset} has '
                f'{RELEASED_NUM_CLASSES[dataset]} (glosses + blank)'
                + (f'; the count is that of {", ".join(guesses)}' if guesses else ''))
    if vocab is not None:
        if vocab.num_classes != num_classes:
            problems.append(
                f'the checkpoint has {num_classes} classes ({num_classes - 1} glosses + '
                f'blank) but the vocabulary has {len(vocab)} glosses + blank = '
                f'{vocab.num_classes}' + (f'; the count is that of {", ".join(guesses)}'
                                          if guesses else ''))
        if vocab.glosses != sorted(vocab.glosses):
            first = next(i for i, (a, b) in enumerate(zip(vocab.glosses, sorted(vocab.glosses)))
                         if a != b)
            problems.append(
                'the vocabulary is not in the released class order (the sorted set of the '
                f'glosses): class {first + 1} is {vocab.glosses[first]!r} but would be '
                f'{sorted(vocab.glosses)[first]!r}; rebuild it with tools/data/build_vocab.py')
    return problems


def convert_official_checkpoint(src: str,
                                dst: str,
                                vocab: Optional[str] = None,
                                dataset: Optional[str] = None,
                                model_cfg: Optional[dict] = None,
                                unsafe_load: bool = False,
                                allow_mismatch: bool = False) -> Dict[str, Any]:
    """Convert a released checkpoint file into an mmsign checkpoint file.

    Writes ``{'state_dict': ..., 'meta': ...}`` (mmengine's layout, readable by
    ``tools/test.py``, ``load_from`` and :func:`mmsign.apis.init_recognizer`). The meta
    holds the vocabulary (``meta['vocab']``, the glosses in class order) when one is given,
    the dataset, the released epoch and where the weights came from. Only the model's
    weights are kept (the optimiser, scheduler and RNG states are dropped).

    Args:
        src (str): The released checkpoint.
        dst (str): The mmsign checkpoint to write.
        vocab (str, optional): ``gloss_vocab.json`` of the dataset the checkpoint was
            trained on; checked against the classifier (count and order).
        dataset (str, optional): That dataset (a key of :data:`RELEASED_NUM_CLASSES`);
            checked against the class count.
        model_cfg (dict, optional): The ``SignRecognizer`` config whose layout the weights
            must fit exactly. Defaults to the released architecture read from the shapes.
        unsafe_load (bool): See :func:`load_official_checkpoint`. Defaults to False.
        allow_mismatch (bool): Convert although the vocabulary or dataset disagrees with
            the checkpoint (the problems are still logged and recorded in the meta).
            Defaults to False.

    Returns:
        dict: The meta written.

    Raises:
        OfficialCheckpointError: The file is not a released checkpoint, does not fit the
            model, or disagrees with ``vocab`` / ``dataset`` (without ``allow_mismatch``).
    """
    checkpoint = load_official_checkpoint(src, unsafe_load)
    state_dict = convert_official_state_dict(checkpoint['model_state_dict'])
    settings = infer_model_settings(state_dict)
    num_classes = settings['num_classes']
    vocabulary = GlossVocabulary.load(vocab) if vocab is not None else None
    problems = check_vocabulary(num_classes, vocabulary, dataset)
    if problems and not allow_mismatch:
        raise OfficialCheckpointError(
            f'{src} does not match the vocabulary / dataset given:\n  - '
            + '\n  - '.join(problems)
            + '\nGive the vocabulary, dataset or config of the dataset the checkpoint was '
            'trained on (or --allow-mismatch to convert anyway)')
    for problem in problems:
        print_log(f'vocabulary mismatch, converted anyway: {problem}', logger='current',
                  level=logging.WARNING)
    if model_cfg is None:
        model_cfg = released_model_cfg(settings)
    else:
        model_cfg = dict(model_cfg, vocab=None,
                         backbone=dict(model_cfg['backbone'], pretrained=None),
                         head=dict(model_cfg['head'], num_classes=num_classes))
    check_state_dict_fits(state_dict, model_cfg)

    guesses = [n for n, c in RELEASED_NUM_CLASSES.items() if c == num_classes]
    arch = settings['backbone']['arch']
    meta = dict(
        mmsign_version=__version__,
        converted_from=osp.basename(src),
        source='AdaptSign released checkpoint (model_state_dict)',
        epoch=checkpoint.get('epoch') if isinstance(checkpoint.get('epoch'), int) else None,
        arch=arch if isinstance(arch, str) else json.dumps(arch),
        num_classes=num_classes,
        dataset=dataset or (guesses[0] if len(guesses) == 1 else None),
        vocab=None if vocabulary is None else list(vocabulary.glosses),
        vocab_problems=problems,
        # The released code pads frames before the backbone; mmsign's parity mode does too.
        parity_cfg_options={'model.padding_mode': 'frames'},
    )
    torch.save({'state_dict': OrderedDict((k, _owned(v)) for k, v in state_dict.items()),
                'meta': meta}, dst)
    print_log(f'{src} -> {dst}: {len(state_dict)} tensors ({num_classes} classes, '
              f'vocabulary {"from " + vocab if vocab else "not given"}, dataset '
              f'{meta["dataset"]}); for the released model\'s logits evaluate with '
              '--cfg-options model.padding_mode=frames', logger='current')
    return meta


def vocabulary_from_meta(meta: Optional[Mapping[str, Any]]) -> Optional[List[str]]:
    """The glosses stored in an mmsign checkpoint's meta (class order), if any."""
    if not meta:
        return None
    glosses = meta.get('vocab')
    if glosses is None and isinstance(meta.get('dataset_meta'), Mapping):
        glosses = meta['dataset_meta'].get('glosses')
    return list(glosses) if glosses else None


__all__ = [
    'CLASSIFIER_KEY', 'OFFICIAL_KEY_RULES', 'OfficialCheckpointError', 'RELEASED_NUM_CLASSES',
    'SHARED_CLASSIFIER_KEYS', 'check_state_dict_fits', 'check_vocabulary',
    'convert_official_checkpoint', 'convert_official_state_dict', 'infer_model_settings',
    'load_official_checkpoint', 'official_to_mmsign_key', 'released_model_cfg',
    'vocabulary_from_meta'
]
