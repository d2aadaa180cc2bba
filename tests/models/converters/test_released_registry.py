"""Released-checkpoint layouts register themselves; the one converter tells them apart."""
import importlib.util
import os.path as osp

import pytest
import torch

from mmsign.models.converters import (
    OfficialCheckpointError,
    ReleasedLayout,
    convert_released_checkpoint,
    detect_layout,
    register_released_layout,
    released_layouts,
)
from mmsign.models.converters.registry import unregister_released_layout

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def load_tool():
    path = osp.join(REPO_ROOT, 'tools', 'model_converters', 'released_to_mmsign.py')
    spec = importlib.util.spec_from_file_location('released_to_mmsign', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def corrnet_like_keys():
    return {'conv2d.layer1.0.conv1.weight': torch.zeros(1),
            'conv2d.corr1.down_conv2.weight': torch.zeros(1)}


def test_the_shipped_models_are_registered_and_told_apart_by_their_keys():
    layouts = released_layouts()
    assert {'adaptsign', 'corrnet'} <= set(layouts)
    assert detect_layout({'conv2d.visual.conv1.weight': torch.zeros(1)}).name == 'adaptsign'
    assert detect_layout(corrnet_like_keys()).name == 'corrnet'
    wrapped = {'module.' + k: v for k, v in corrnet_like_keys().items()}
    assert detect_layout(wrapped).name == 'corrnet'
    with pytest.raises(OfficialCheckpointError, match='no released model mmsign knows'):
        detect_layout({'encoder.weight': torch.zeros(1)})


def test_a_refining_layout_wins_and_unrelated_matches_are_refused():
    def detect(keys):
        return any(k.startswith('conv2d.localG') for k in keys)

    refining = ReleasedLayout('test-refines', 'a CorrNet with more', detect, dict, dict,
                              refines='corrnet')
    unrelated = ReleasedLayout('test-unrelated', 'another', detect, dict, dict)
    keys = dict(corrnet_like_keys(), **{'conv2d.localG.fc1.weight': torch.zeros(1)})
    register_released_layout(refining)
    try:
        assert detect_layout(keys).name == 'test-refines'
        register_released_layout(unrelated)
        with pytest.raises(OfficialCheckpointError, match='choose one with --model'):
            detect_layout(keys)
        with pytest.raises(ValueError, match='registered already'):
            register_released_layout(ReleasedLayout('corrnet', '', detect, dict, dict))
    finally:
        unregister_released_layout('test-refines')
        unregister_released_layout('test-unrelated')
    assert detect_layout(keys).name == 'corrnet'


def test_the_tool_lists_the_models_and_names_an_unknown_file(tmp_path, capsys):
    tool = load_tool()
    assert tool.main(['--list']) == 0
    listed = capsys.readouterr().out
    assert 'adaptsign' in listed and 'corrnet' in listed
    src = tmp_path / 'other.pt'
    torch.save({'model_state_dict': {'encoder.weight': torch.zeros(2)}}, src)
    assert tool.main([str(src), str(tmp_path / 'out.pth')]) == 1
    assert 'no released model mmsign knows' in capsys.readouterr().err
    assert not (tmp_path / 'out.pth').exists()
    with pytest.raises(OfficialCheckpointError, match='unknown model'):
        convert_released_checkpoint(str(src), str(tmp_path / 'out.pth'), model='nonesuch')
