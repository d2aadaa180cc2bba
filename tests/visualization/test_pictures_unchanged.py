"""The attention pictures are bit-identical to those drawn before the recording moved
into forward hooks.

``tests/data/visualization`` holds what ``tools/visualize/attention_maps.py`` wrote at
commit 3d428fc for the dev video of the synthetic fixture, with both synthetic recipes
built from ``torch.manual_seed(0)`` and ``w_t = 0.1``: the arrays (``attention*.npz``),
the summaries and the sha256 of every PNG and GIF (``pictures.json``; run ``a`` with the
default layer and ``--panel-size 128``, run ``b`` with ``--layer -1 --scale frame
--interpolation nearest --panel-size 96``).

Three checks, none of which depends on the machine's float kernels:

- the maps recorded now equal the stored ones (to float32 rounding: another CPU may
  order a matmul's sums differently);
- on the same machine, the hooks record exactly (bit for bit) what the backbone's
  former in-forward recording computed, rewritten here as the oracle;
- the stored arrays drawn by the drawing code give PNG and GIF files with the stored
  sha256.
"""
import hashlib
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from visualization_fixtures import REPO_ROOT

from mmsign.apis import init_recognizer, read_video
from mmsign.models.backbones import split_heads
from mmsign.visualization import (
    GlossEmission,
    PanelRenderer,
    VideoAttention,
    attention_overlays,
    contact_sheet,
    record_attention,
    save_gif,
    save_png,
    video_attention,
)

DATA = osp.join(REPO_ROOT, 'tests', 'data', 'visualization')
RECIPES = ('adaptsign_synthetic', 'adaptsign_tiny-mmpretrain_synthetic')
RUNS = {'a': dict(layer='mean', suffix='', scale='video', interpolation='bilinear',
                  panel_size=128),
        'b': dict(layer=-1, suffix='_layer-1', scale='frame', interpolation='nearest',
                  panel_size=96)}

with open(osp.join(DATA, 'pictures.json'), encoding='utf-8') as _f:
    PICTURES = json.load(_f)['outputs']


def _model(recipe: str):
    """The recipe's model as the reference checkpoints were made."""
    torch.manual_seed(0)
    model = init_recognizer(osp.join(REPO_ROOT, 'configs', recipe + '.py'))
    with torch.no_grad():
        model.backbone.temporal.weight.fill_(0.1)
    return model


def _video(synthetic_videos) -> str:
    root, _ = synthetic_videos
    return osp.join(root, 'videos', 'dev', 'synth_dev_00000_default-0.mp4')


def _reference(recipe: str, run: str):
    suffix = RUNS[run]['suffix']
    arrays = dict(np.load(osp.join(DATA, recipe, f'attention{suffix}.npz')))
    with open(osp.join(DATA, recipe, f'summary{suffix}.json'), encoding='utf-8') as f:
        summary = json.load(f)
    return arrays, summary


@pytest.mark.parametrize('recipe', RECIPES)
@pytest.mark.parametrize('run', sorted(RUNS))
def test_recorded_maps_are_the_stored_ones(recipe, run, synthetic_videos):
    arrays, summary = _reference(recipe, run)
    attention = video_attention(_model(recipe), _video(synthetic_videos),
                                layer=RUNS[run]['layer'], frame_size=(36, 36))
    np.testing.assert_allclose(attention.patch_attention, arrays['patch_attention'],
                               rtol=0, atol=1e-6)
    np.testing.assert_allclose(attention.cls_share, arrays['cls_share'], rtol=0, atol=1e-6)
    np.testing.assert_allclose(attention.temporal_gates, arrays['temporal_gates'], rtol=0,
                               atol=1e-6)
    np.testing.assert_array_equal(attention.temporal_sources, arrays['temporal_sources'])
    assert attention.frames_per_step == summary['frames_per_step'] == 4
    assert attention.num_steps == summary['num_steps']
    assert list(attention.model_box) == summary['model_box']


def _former_aggregation_weights(block, q, z):
    """``AggregationBlock.attention_weights`` as the backbone computed it in its forward."""
    width = q.shape[-1]
    weight, bias = block.attn.in_proj_weight, block.attn.in_proj_bias
    query = F.linear(block.ln_1(q), weight[:width], bias[:width])
    key = F.linear(block.ln_1(z), weight[width:2 * width], bias[width:2 * width])
    query = split_heads(query[:, None].float(), block.num_heads)
    key = split_heads(key.float(), block.num_heads)
    with torch.autocast(q.device.type, enabled=False):
        scores = query @ key.transpose(-1, -2) * query.shape[-1] ** -0.5
    return scores.softmax(-1).mean(1)[:, 0]


def _former_window_gates(module, z, sources):
    """``TemporalCorrelation.window_gates`` as the backbone computed it."""
    y = module.ln(z).float()
    cls = y[:, 0, :, None] * (1.0 / y.shape[-1] ** 0.5)
    patches = y[:, 1:]
    gates = []
    with torch.autocast(z.device.type, enabled=False):
        for j in range(module.window):
            seen = patches[sources[:, j].clamp(min=0)]
            gate = torch.sigmoid(torch.bmm(seen, cls)[..., 0]) - 0.5
            gates.append(gate * (sources[:, j, None] >= 0))
    return torch.stack(gates, dim=1)


@pytest.mark.parametrize('recipe', RECIPES)
def test_hooks_record_what_the_former_forward_recorded(recipe):
    backbone = _model(recipe).backbone.eval()
    size = 32  # both recipes' crop
    lengths = [7, 1, 5]
    frames = torch.randn(sum(lengths), 3, size, size,
                         generator=torch.Generator().manual_seed(3))
    inputs = {}

    def keep(name):
        def hook(module, args, output):
            inputs.setdefault(name, []).append(tuple(a.detach() for a in args
                                                     if torch.is_tensor(a)))
        return hook

    handles = [block.register_forward_hook(keep('aggregation'))
               for block in backbone.aggregation.blocks]
    handles.append(backbone.temporal.register_forward_hook(keep('temporal')))
    try:
        with torch.no_grad(), record_attention(backbone) as records:
            backbone(frames, lengths)
    finally:
        for handle in handles:
            handle.remove()
    (record, ) = records
    expected = torch.stack([
        _former_aggregation_weights(block, q, z)
        for block, (q, z) in zip(backbone.aggregation.blocks, inputs['aggregation'])])
    assert torch.equal(record.aggregation, expected)
    (z, _), = inputs['temporal']
    assert torch.equal(record.temporal_gates,
                       _former_window_gates(backbone.temporal, z, record.temporal_sources))


def _digest(folder: str) -> dict:
    digest = {}
    for root, _, files in os.walk(folder):
        for name in files:
            with open(osp.join(root, name), 'rb') as f:
                digest[osp.relpath(osp.join(root, name), folder)] = \
                    hashlib.sha256(f.read()).hexdigest()
    return digest


@pytest.mark.parametrize('recipe', RECIPES)
@pytest.mark.parametrize('run', sorted(RUNS))
def test_stored_maps_draw_the_stored_pictures(recipe, run, synthetic_videos, tmp_path):
    arrays, summary = _reference(recipe, run)
    options = RUNS[run]
    original = read_video(_video(synthetic_videos), frame_size=None)
    emissions = [GlossEmission(e['step'], range(e['first_frame'], e['last_frame'] + 1),
                               e['gloss']) for e in summary['emissions']]
    attention = VideoAttention(
        frames=original.imgs, patch_attention=arrays['patch_attention'],
        cls_share=arrays['cls_share'], temporal_gates=arrays['temporal_gates'],
        temporal_sources=arrays['temporal_sources'],
        temporal_weight=summary['temporal_weight'], model_box=tuple(summary['model_box']),
        layer=summary['layer'], glosses=summary['glosses'], emissions=emissions,
        num_steps=summary['num_steps'], video=summary['video'],
        frames_per_step=summary['frames_per_step'])
    out = str(tmp_path)
    # What tools/visualize/attention_maps.py draws, with its default sheet and GIF options.
    overlays = attention_overlays(attention, scale=options['scale'],
                                  interpolation=options['interpolation'])
    render = PanelRenderer(attention, overlays, size=options['panel_size'])
    panels = []
    for folder in ('overlays', 'panels'):
        os.makedirs(osp.join(out, folder))
    for t, overlay in enumerate(overlays):
        save_png(osp.join(out, 'overlays', f'frame_{t:04d}.png'), overlay)
        panels.append(render(t))
        save_png(osp.join(out, 'panels', f'frame_{t:04d}.png'), panels[-1])
    save_png(osp.join(out, 'contact_sheet.png'), contact_sheet(panels[::4], columns=8),
             colors=256)
    save_gif(osp.join(out, 'attention.gif'), panels, 8.0, colors=128)
    expected = {p: h for p, h in PICTURES[f'{recipe}/{run}'].items() if not p.endswith('.npz')}
    assert _digest(out) == expected
