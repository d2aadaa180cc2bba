"""SignAmpOptimWrapper: CPU bf16 autocast on request, fused Adam where it is a safe swap."""
import pytest
import torch
from mmaction.registry import OPTIM_WRAPPERS
from torch import nn

from mmsign.engine.optim_wrapper import SignAmpOptimWrapper, with_fused_update


def linear_and_adam(**kwargs):
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    groups = [dict(params=[model.weight]), dict(params=[model.bias], lr=5e-3)]
    return model, torch.optim.Adam(groups, lr=1e-3, weight_decay=1e-4, **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU behaviour')
@pytest.mark.parametrize('cpu_dtype,expected', [(None, torch.float32),
                                                ('bfloat16', torch.bfloat16)])
def test_cpu_runs_fp32_unless_bf16_is_asked_for(cpu_dtype, expected):
    model, optimizer = linear_and_adam()
    wrapper = OPTIM_WRAPPERS.build(dict(type='SignAmpOptimWrapper', optimizer=optimizer,
                                        cpu_dtype=cpu_dtype))
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 4))
    assert out.dtype == expected
    before = model.weight.detach().clone()
    wrapper.update_params(out.float().pow(2).mean())
    assert not torch.equal(before, model.weight)
    # no grad scaler on the CPU: its state is not saved
    assert 'loss_scaler' not in wrapper.state_dict()


def test_wrapper_refuses_unknown_options():
    _, optimizer = linear_and_adam()
    with pytest.raises(ValueError, match='cpu_dtype'):
        SignAmpOptimWrapper(optimizer=optimizer, cpu_dtype='float16')
    with pytest.raises(ValueError, match='fused'):
        SignAmpOptimWrapper(optimizer=optimizer, fused='yes')


def test_fused_swap_keeps_groups_and_settings():
    _, optimizer = linear_and_adam()
    fused = with_fused_update(optimizer, device_types=('cpu', ))
    assert fused is not optimizer and type(fused) is torch.optim.Adam
    assert [g['fused'] for g in fused.param_groups] == [True, True]
    assert [g['lr'] for g in fused.param_groups] == [1e-3, 5e-3]
    assert all(g['weight_decay'] == 1e-4 for g in fused.param_groups)
    assert [g['params'] for g in fused.param_groups] == [g['params']
                                                        for g in optimizer.param_groups]


def test_fused_swap_leaves_other_optimisers_alone():
    # the default device types (CUDA) do not include these CPU parameters
    _, optimizer = linear_and_adam()
    assert with_fused_update(optimizer) is optimizer
    # explicit choices of the config are kept
    _, optimizer = linear_and_adam(foreach=False)
    assert with_fused_update(optimizer, ('cpu', )) is optimizer
    _, optimizer = linear_and_adam(fused=False)
    assert with_fused_update(optimizer, ('cpu', )) is optimizer
    # an optimiser with state (resumed) or of another type
    model, optimizer = linear_and_adam()
    model(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    assert with_fused_update(optimizer, ('cpu', )) is optimizer
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    assert with_fused_update(sgd, ('cpu', )) is sgd


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_gpu_wrapper_uses_fused_adam_and_bf16():
    model = nn.Linear(4, 3).cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    wrapper = SignAmpOptimWrapper(optimizer=optimizer)
    assert all(g['fused'] for g in wrapper.optimizer.param_groups)
    if torch.cuda.is_bf16_supported():
        assert wrapper.cast_dtype == torch.bfloat16 and not wrapper.use_loss_scaler
