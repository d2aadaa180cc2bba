"""Released-checkpoint layouts: each model's rules register themselves here.

A released file of the lineage is ``torch.save({'model_state_dict': ..., 'epoch': ...,
optimiser / scheduler / RNG states})``; what differs between models is the names inside
``model_state_dict``. Each model's converter module describes its names once, as a
:class:`ReleasedLayout`, and calls :func:`register_released_layout` at import. One
function, :func:`convert_released_checkpoint` (and one tool,
``tools/model_converters/released_to_mmsign.py``), then converts every model: it reads the
file safely, tells the layout from the keys, renames, checks the vocabulary and writes an
mmsign checkpoint whose weights fit the model strictly
(:func:`mmsign.models.converters.released.convert_released_checkpoint`).
"""
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Set

from torch import Tensor


class OfficialCheckpointError(ValueError):
    """A released checkpoint that cannot be converted; the message says why and what to do."""


def _no_keys(keys: Set[str]) -> List[str]:
    return []


def _backbone_arch(model_cfg: Mapping[str, Any]) -> str:
    backbone = {k: v for k, v in model_cfg['backbone'].items() if k not in ('type', 'pretrained')}
    return json.dumps(backbone, sort_keys=True, default=str)


@dataclass
class ReleasedLayout:
    """How one model's released checkpoints name their tensors.

    Attributes:
        name (str): Short name, the converter tool's ``--model`` choice.
        description (str): One line naming the model and its release (printed).
        detect (Callable[[set[str]], bool]): Whether released keys (``module.`` stripped)
            are this model's.
        convert (Callable): Released ``model_state_dict`` (``module.`` stripped) -> the
            ``SignRecognizer`` state dict; raises :class:`OfficialCheckpointError` on keys
            it does not know.
        model_cfg (Callable): Converted state dict -> the ``SignRecognizer`` config of
            the released architecture (random weights, no vocabulary).
        refines (str, optional): A layout whose detector also accepts this model's keys;
            when both detect, this one wins (SignGraph's files look like CorrNet's).
        parity_cfg_options (dict): Config options under which mmsign gives the released
            model's outputs (written into the converted checkpoint's meta).
        dropped (Callable[[set[str]], list[str]]): Released keys accepted and left out
            (tensors the released model builds but never uses); reported.
        arch (Callable, optional): Model config -> the ``arch`` string of the meta.
            Defaults to the backbone's settings as JSON.
    """
    name: str
    description: str
    detect: Callable[[Set[str]], bool]
    convert: Callable[[Mapping[str, Tensor]], 'OrderedDict[str, Tensor]']
    model_cfg: Callable[[Mapping[str, Tensor]], dict]
    refines: Optional[str] = None
    parity_cfg_options: Dict[str, Any] = field(
        default_factory=lambda: {'model.padding_mode': 'frames'})
    dropped: Callable[[Set[str]], List[str]] = _no_keys
    arch: Callable[[Mapping[str, Any]], str] = _backbone_arch


_LAYOUTS: Dict[str, ReleasedLayout] = {}


def register_released_layout(layout: ReleasedLayout) -> ReleasedLayout:
    """Make a layout known to :func:`detect_layout` and the converter tool.

    Raises:
        ValueError: Another layout has the name already.
    """
    if layout.name in _LAYOUTS and _LAYOUTS[layout.name] is not layout:
        raise ValueError(f'a released layout named {layout.name!r} is registered already')
    _LAYOUTS[layout.name] = layout
    return layout


def unregister_released_layout(name: str) -> None:
    """Forget a layout (for tests that register their own)."""
    _LAYOUTS.pop(name, None)


def released_layouts() -> Dict[str, ReleasedLayout]:
    """Every registered layout by name."""
    return dict(_LAYOUTS)


def strip_module_prefix(state_dict: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """Keys without the ``module.`` prefix of a ``DataParallel`` model."""
    return {(k[len('module.'):] if k.startswith('module.') else k): v
            for k, v in state_dict.items()}


def detect_layout(state_dict: Mapping[str, Tensor]) -> ReleasedLayout:
    """The registered layout a released ``model_state_dict`` has.

    Args:
        state_dict (Mapping[str, Tensor]): Released keys (a ``module.`` prefix is ignored).

    Returns:
        ReleasedLayout: The one layout whose detector accepts the keys; of a layout and one
        that refines it, the refining one.

    Raises:
        OfficialCheckpointError: No layout, or several unrelated ones, accept the keys.
    """
    keys = set(strip_module_prefix(state_dict))
    found = [layout for layout in _LAYOUTS.values() if layout.detect(keys)]
    refined = {layout.refines for layout in found}
    found = [layout for layout in found if layout.name not in refined]
    if len(found) == 1:
        return found[0]
    sample = sorted(keys)[:8]
    if not found:
        raise OfficialCheckpointError(
            f'the keys ({len(keys)}, e.g. {sample}) are those of no released model mmsign '
            f'knows ({", ".join(sorted(_LAYOUTS))})')
    raise OfficialCheckpointError(
        f'the keys fit several released models ({", ".join(layout.name for layout in found)}): '
        'choose one with --model')


__all__ = [
    'OfficialCheckpointError', 'ReleasedLayout', 'detect_layout', 'register_released_layout',
    'released_layouts', 'strip_module_prefix', 'unregister_released_layout'
]
