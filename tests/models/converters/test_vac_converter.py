"""Released VAC and TLP checkpoints, built from the released key layout with random values,
convert and load strictly into mmsign's model."""
from collections import OrderedDict

import pytest
import torch
import torchvision
from mmaction.registry import MODELS

from mmsign.models.converters import (
    OfficialCheckpointError,
    convert_released_checkpoint,
    detect_layout,
)
from mmsign.models.converters.vac import (
    convert_frame_wise_state_dict,
    frame_wise_model_cfg,
    is_tlp_checkpoint,
    is_vac_checkpoint,
)

HIDDEN, CLASSES = 32, 7


def released_state_dict(lift: bool, shared: bool, weight_norm: bool,
                        lift_kernel: int = 3) -> 'OrderedDict[str, torch.Tensor]':
    """The released SLRModel's keys and shapes (LINEAGE_SPEC.md), random values."""
    gen = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=gen)

    sd = OrderedDict()
    resnet = torchvision.models.resnet18(weights=None).state_dict()
    for key, value in resnet.items():
        if not key.startswith('fc.'):  # the released fc is an Identity
            sd[f'conv2d.{key}'] = rand(*value.shape) if value.is_floating_point() else value

    def conv_bn(conv, bn, cin):
        sd[f'{conv}.weight'] = rand(HIDDEN, cin, 5)
        sd[f'{conv}.bias'] = rand(HIDDEN)
        for name in ('weight', 'bias', 'running_mean'):
            sd[f'{bn}.{name}'] = rand(HIDDEN)
        sd[f'{bn}.running_var'] = rand(HIDDEN).abs() + 0.5
        sd[f'{bn}.num_batches_tracked'] = torch.tensor(3)

    tconv = 'conv1d.temporal_conv'
    if lift:
        # a list of Sequential(conv, BN, ReLU) and Temporal_LiftPool layers
        for layer, cin in ((0, 512), (2, HIDDEN)):
            conv_bn(f'{tconv}.{layer}.0', f'{tconv}.{layer}.1', cin)
        for layer in (1, 3):
            prefix = f'conv1d.temporal_conv.{layer}.'
            for op in ('predictor', 'updater'):
                sd[f'{prefix}{op}.0.weight'] = rand(HIDDEN, 1, lift_kernel)
                sd[f'{prefix}{op}.0.bias'] = rand(HIDDEN)
                sd[f'{prefix}{op}.2.weight'] = rand(HIDDEN, HIDDEN, 1)
                sd[f'{prefix}{op}.2.bias'] = rand(HIDDEN)
            for w in ('weight1', 'weight2'):
                sd[f'{prefix}{w}.conv.weight'] = rand(HIDDEN, HIDDEN, 5)
                sd[f'{prefix}{w}.conv.bias'] = rand(HIDDEN)
                sd[f'{prefix}{w}.insnorm.weight'] = rand(HIDDEN)
                sd[f'{prefix}{w}.insnorm.bias'] = rand(HIDDEN)
    else:
        # one Sequential: conv, BN, ReLU, max pool, conv, BN, ReLU, max pool
        conv_bn(f'{tconv}.0', f'{tconv}.1', 512)
        conv_bn(f'{tconv}.4', f'{tconv}.5', HIDDEN)
    lstm = torch.nn.LSTM(HIDDEN, HIDDEN // 2, num_layers=2, bidirectional=True)
    for key, value in lstm.state_dict().items():
        sd[f'temporal_model.rnn.{key}'] = rand(*value.shape)

    def classifier():
        if weight_norm:
            return {'weight': rand(HIDDEN, CLASSES)}
        return {'weight': rand(CLASSES, HIDDEN), 'bias': rand(CLASSES)}

    seq = classifier()
    conv = seq if shared else classifier()
    for name, value in conv.items():
        sd[f'conv1d.fc.{name}'] = value
    for name, value in seq.items():
        sd[f'classifier.{name}'] = value
    return sd


SETTINGS = [  # lift, shared, weight_norm
    (False, False, False),  # VAC baseline / plain VAC
    (False, True, True),    # VAC + SMKD
    (True, False, False),   # TLP
]


@pytest.mark.parametrize('lift,shared,weight_norm', SETTINGS)
def test_released_checkpoint_converts_and_loads_strictly(lift, shared, weight_norm):
    released = released_state_dict(lift, shared, weight_norm)
    keys = set(released)
    assert is_tlp_checkpoint(keys) == lift and is_vac_checkpoint(keys) == (not lift)
    converted = convert_frame_wise_state_dict(
        {f'module.{k}': v for k, v in released.items()})  # DataParallel prefix
    cfg = frame_wise_model_cfg(converted)
    head = cfg['head']
    assert head['num_classes'] == CLASSES and head['hidden_channels'] == HIDDEN
    assert head['share_classifier'] == shared
    assert head['classifier'] == ('NormLinear' if weight_norm else 'Linear')
    assert head.get('pooling', 'max') == ('lift' if lift else 'max')
    model = MODELS.build(cfg)
    model.load_state_dict(converted, strict=True)
    assert torch.equal(model.backbone.layer2[1].bn1.running_var,
                       released['conv2d.layer2.1.bn1.running_var'])
    assert torch.equal(model.head.classifier.weight, released['classifier.weight'])
    assert torch.equal(model.head.conv_branch_classifier.weight, released['conv1d.fc.weight'])
    assert torch.equal(model.head.bilstm.rnn.weight_hh_l1_reverse,
                       released['temporal_model.rnn.weight_hh_l1_reverse'])
    second_conv = 'conv1d.temporal_conv.2.0.weight' if lift else 'conv1d.temporal_conv.4.weight'
    assert torch.equal(model.head.temporal_conv.temporal_conv[4].weight, released[second_conv])
    if lift:
        pool = model.head.temporal_conv.temporal_conv[7]
        assert torch.equal(pool.updater[2].weight,
                           released['conv1d.temporal_conv.3.updater.2.weight'])
        assert torch.equal(pool.weight2.insnorm.bias,
                           released['conv1d.temporal_conv.3.weight2.insnorm.bias'])


def test_csl_lift_kernel_is_read_from_the_shapes():
    converted = convert_frame_wise_state_dict(released_state_dict(True, False, False, 5))
    cfg = frame_wise_model_cfg(converted)
    assert cfg['head']['lift_kernel'] == 5
    MODELS.build(cfg).load_state_dict(converted, strict=True)


def test_other_lineage_checkpoints_are_not_taken_for_vac_or_tlp():
    keys = set(released_state_dict(False, True, True))
    for extra in ('conv2d.alpha', 'conv2d.corr2.down_conv.weight',
                  'conv2d.layer1.0.ssem.conv.weight', 'conv2d.temporal_weight2.conv.weight'):
        assert not is_vac_checkpoint(keys | {extra}) and not is_tlp_checkpoint(keys | {extra})


def test_unknown_keys_and_missing_classifiers_are_refused():
    released = released_state_dict(False, False, False)
    with pytest.raises(OfficialCheckpointError, match='conv2d.extra.weight'):
        convert_frame_wise_state_dict({**released, 'conv2d.extra.weight': torch.zeros(1)})
    del released['conv1d.fc.weight'], released['conv1d.fc.bias']
    with pytest.raises(OfficialCheckpointError, match='no classifier'):
        convert_frame_wise_state_dict(released)


@pytest.mark.parametrize('lift,name', [(False, 'vac'), (True, 'tlp')])
def test_the_one_converter_detects_and_writes_a_strictly_loading_checkpoint(lift, name,
                                                                            tmp_path):
    released = released_state_dict(lift, shared=not lift, weight_norm=not lift)
    src, dst = tmp_path / 'released.pt', tmp_path / 'mmsign.pth'
    torch.save({'model_state_dict': {f'module.{k}': v for k, v in released.items()},
                'epoch': 39}, src)
    assert detect_layout(released).name == name
    meta = convert_released_checkpoint(str(src), str(dst))
    assert meta['model'] == name and meta['epoch'] == 39
    assert meta['parity_cfg_options'] == {'model.padding_mode': 'frames'}
    state_dict = torch.load(dst, weights_only=True)['state_dict']
    model = MODELS.build(frame_wise_model_cfg(state_dict))
    model.load_state_dict(state_dict, strict=True)
    assert torch.equal(model.head.bilstm.rnn.weight_ih_l0,
                       released['temporal_model.rnn.weight_ih_l0'])
