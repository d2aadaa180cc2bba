"""tools/analysis/benchmark.py vit-reference (the plain-ViT reference of the speed targets)
and the train subcommand's --profile, on the CPU."""
import importlib.util
import json
import os.path as osp

import torch
import torch.nn.functional as F

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO_ROOT, 'tools', 'dev', 'benchmark')


def load(name):
    spec = importlib.util.spec_from_file_location(name, osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_block_is_standard_attention():
    tool = load('vit_reference')
    torch.manual_seed(0)
    block = tool.Block(16, 2)
    x = torch.randn(3, 5, 16)
    h = block.ln1(x)
    q, k, v = block.qkv(h).view(3, 5, 3, 2, 8).permute(2, 0, 3, 1, 4)
    weights = (q @ k.transpose(-1, -2) / 8**0.5).softmax(-1)
    y = x + block.proj((weights @ v).transpose(1, 2).reshape(3, 5, 16))
    y = y + block.fc2(F.gelu(block.fc1(block.ln2(y))))
    torch.testing.assert_close(block(x), y)


def test_reference_times_the_frames_benchmark_py_draws(tmp_path):
    tool, bench = load('vit_reference'), load('steps')
    out = tmp_path / 'ref.json'
    assert tool.main(['--train', '--arch', '32,1,2,8,32', '--steps', '2', '--warmup', '1',
                      '--device', 'cpu', '--json', str(out)]) == 0
    result = json.loads(out.read_text())
    batches = bench.draw_batches(bench.read_lengths(bench.default_lengths_file('train')), 2,
                                 3, 0)
    assert result['real_frames'] == sum(n for batch in batches[1:] for _, n, _ in batch)
    assert result['mode'] == 'train' and result['frames_per_s'] > 0


def test_profile_counts_operators_per_step(tmp_path):
    bench = load('steps')
    out, table = tmp_path / 'r.json', tmp_path / 'profile.txt'
    config = osp.join(REPO_ROOT, 'configs', 'adaptsign_synthetic.py')
    assert bench.main([config, '--device', 'cpu', '--steps', '3', '--warmup', '1',
                       '--profile', str(table), '--json', str(out)]) == 0
    result = json.loads(out.read_text())
    assert result['launches_per_step'] > 100
    assert 'aten::' in table.read_text() and len(result['profile_top']) == 10
