"""SignAmpOptimWrapper: what mmengine's AmpOptimWrapper lacks (the CPU, bf16 without a grad
scaler), and mmengine's own behaviour wherever a GPU gives it."""
import pytest
import torch
from mmaction.registry import OPTIM_WRAPPERS
from torch import nn

from mmsign.engine.optim_wrapper import SignAmpOptimWrapper


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
    # no grad scaler on the CPU: it has no state, and a GPU run's scaler state is dropped
    assert not wrapper.state_dict().get('loss_scaler')
    state = wrapper.state_dict()
    state['loss_scaler'] = dict(scale=1024.0, growth_factor=2.0)
    wrapper.load_state_dict(state)
    assert not wrapper.loss_scaler.is_enabled()


def test_wrapper_refuses_unknown_options():
    _, optimizer = linear_and_adam()
    with pytest.raises(ValueError, match='cpu_dtype'):
        SignAmpOptimWrapper(optimizer=optimizer, cpu_dtype='float16')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_gpu_wrapper_picks_bf16_without_a_scaler():
    model = nn.Linear(4, 3).cuda()
    wrapper = SignAmpOptimWrapper(optimizer=torch.optim.Adam(model.parameters(), lr=1e-3))
    if torch.cuda.is_bf16_supported():
        assert wrapper.cast_dtype == torch.bfloat16 and not wrapper.use_loss_scaler
        assert not wrapper.loss_scaler.is_enabled()
    fp16 = SignAmpOptimWrapper(dtype='float16',
                               optimizer=torch.optim.Adam(model.parameters(), lr=1e-3))
    assert fp16.use_loss_scaler and fp16.loss_scaler.is_enabled()
