"""Parameter and FLOP counts of AdaptSign ViT-B/16 against the plain CLIP ViT, checked
against counts worked out by hand from the architecture (spec section 2)."""
import importlib.util
import json
import os.path as osp

import pytest
from mmengine.config import Config

from mmsign.models.complexity import recognizer_complexity

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RECIPE = osp.join(REPO_ROOT, 'configs', 'adaptsign_phoenix14.py')

# ViT-B/16 on 224x224 frames: D, layers, heads, patches, tokens, MLP width, output E.
D, L, HEADS, P, E = 768, 12, 12, 196, 512
S, MLP, ADAPTER, M = P + 1, 4 * 768, 768 // 4, 8


def mm(n: int, k: int, m: int) -> int:
    """FLOPs of an (n x k) @ (k x m) product: 2 per multiply-add."""
    return 2 * n * k * m


def plain_vit_flops() -> int:
    """One frame through CLIP's ViT-B/16: patch embedding, blocks, projection."""
    attention = HEADS * (mm(S, D // HEADS, S) + mm(S, S, D // HEADS))
    block = mm(S, D, 3 * D) + attention + mm(S, D, D) + mm(S, D, MLP) + mm(S, MLP, D)
    return mm(P, 3 * 16 * 16, D) + L * block + mm(1, D, E)


def added_flops(num_frames: int) -> dict:
    """What AdaptSign adds per frame, part by part."""
    adapters = L * 2 * (mm(S, D, ADAPTER) + mm(S, ADAPTER, D))
    aggregation = L * (mm(1, D, D) + mm(S, D, 2 * D)                      # q; k, v
                       + HEADS * (mm(1, D // HEADS, S) + mm(1, S, D // HEADS))
                       + mm(1, D, D) + 2 * mm(1, D, D))                   # out_proj, MLP
    temporal = mm(1, D, 5 * P) + mm(1, 5 * P, D)                          # A, then m_t
    prefix = L * (HEADS * (mm(S, D // HEADS, M) + mm(S, M, D // HEADS))   # 8 more keys
                  + 2 * mm(M, D, D) / num_frames)                        # projected once
    return {'adapters': adapters, 'aggregation query': aggregation,
            'temporal correlation': temporal, 'prefix tokens and rest': prefix}


@pytest.fixture(scope='module')
def model_cfg():
    cfg = Config.fromfile(RECIPE)
    model = cfg.model.to_dict()
    model.update(vocab=None)
    model['head']['num_classes'] = cfg.num_classes
    return model


def test_vit_b16_counts_match_the_architecture(model_cfg):
    stats = recognizer_complexity(model_cfg, num_frames=16)
    assert stats['arch'] == 'ViT-B-16' and stats['image_size'] == 224
    assert stats['params']['backbone'] == {'trainable': 50_205_699, 'frozen': 85_798_656}
    assert stats['params']['clip_vit'] == 86_192_640
    assert stats['params']['head'] == {'trainable': (
        512 * 1024 * 5 + 1024 + 2 * 1024                  # conv 1 and its BatchNorm
        + 1024 * 1024 * 5 + 1024 + 2 * 1024               # conv 2 and its BatchNorm
        + 2 * 2 * (4 * 512 * (1024 + 512) + 2 * 4 * 512)  # BiLSTM: 2 layers x 2 directions
        + 1024 * 1296), 'frozen': 0}                       # the shared classifier
    flops = stats['flops_per_frame']
    assert flops['clip_vit'] == plain_vit_flops()
    expected = added_flops(16)
    for part, value in expected.items():
        assert flops['added_parts'][part] == pytest.approx(value, rel=1e-9), part
    assert flops['adaptsign'] == pytest.approx(plain_vit_flops() + sum(expected.values()),
                                               rel=1e-9)
    # What this implementation adds: ~24 %, two thirds of it the aggregation query.
    assert flops['added_fraction'] == pytest.approx(0.242, abs=0.001)


def test_tool_prints_and_writes_the_numbers(tmp_path, capsys):
    path = osp.join(REPO_ROOT, 'tools', 'analysis', 'complexity.py')
    spec = importlib.util.spec_from_file_location('complexity_tool', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = str(tmp_path / 'complexity.json')
    assert tool.main([RECIPE, '--num-frames', '4', '--json', out]) == 0
    printed = capsys.readouterr().out
    assert '50,205,699' in printed and '85,798,656' in printed
    assert 'the paper reports about 3.2 %' in printed
    with open(out) as f:
        stats = json.load(f)
    assert stats['num_frames'] == 4
    assert stats['flops_per_frame']['clip_vit'] == plain_vit_flops()
