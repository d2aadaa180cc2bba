"""tools/analysis/benchmark.py's train and inference subcommands on the CPU: the tiny
synthetic recipe, a few real steps."""
import importlib.util
import json
import math
import os.path as osp

import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'configs', 'adaptsign_synthetic.py')
KEYS = {'config', 'mode', 'device', 'amp', 'compile', 'checkpointing', 'batch_videos',
        'steps', 'warmup', 'real_frames', 'backbone_frames', 'frames_per_step', 'seconds',
        's_per_step', 'frames_per_s', 'peak_mem_gib', 'flops_per_frame',
        'achieved_flops_per_s', 'peak_flops_per_s', 'mfu', 'lengths_file', 'peak_rss_mib'}


def load_file(*parts):
    spec = importlib.util.spec_from_file_location(parts[-1][:-3], osp.join(REPO_ROOT, *parts))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def command():
    return load_file('tools', 'analysis', 'benchmark.py')


@pytest.fixture(scope='module')
def tool():
    return load_file('tools', 'dev', 'benchmark', 'steps.py')


def run_tool(command, tmp_path, subcommand, *args):
    out = tmp_path / 'result.json'
    assert command.main([subcommand, CONFIG, *args, '--device', 'cpu', '--json',
                         str(out)]) == 0
    return json.loads(out.read_text())


def test_one_command_lists_its_subcommands(command, capsys):
    assert command.main(['--help']) == 0
    listed = capsys.readouterr().out
    for name in ('train', 'inference', 'onnx', 'video-memory', 'loading', 'startup', 'wer',
                 'lm', 'vit-reference', 'gpu'):
        assert f'  {name} ' in listed
    assert command.main(['nope']) == 2
    assert "unknown subcommand 'nope'" in capsys.readouterr().err


def test_fixed_length_video_one_step_each(command, tmp_path, capsys):
    for subcommand, mode in (('inference', 'infer'), ('train', 'train')):
        result = run_tool(command, tmp_path, subcommand, '--frames', '12')
        assert result['mode'] == mode and result['frames'] == 12
        assert (result['batch_videos'], result['steps'], result['warmup']) == (1, 1, 1)
        assert result['real_frames'] == 12 and result['lengths_file'] is None
        assert result['peak_rss_mib'] > 0 and result['peak_mem_gib'] is None
        assert 'MiB resident' in capsys.readouterr().out


def expected_frames(tool, split, release_data, steps, warmup, batch_videos=2, seed=0):
    rows = tool.read_lengths(tool.default_lengths_file(split))
    batches = tool.draw_batches(rows, batch_videos, warmup + steps, seed)
    return sum(n for batch in batches[warmup:] for _, n, _ in batch)


def test_cpu_training_steps_report_sane_numbers(command, tool, tmp_path, release_data,
                                               capsys):
    result = run_tool(command, tmp_path, 'train', '--steps', '2', '--warmup', '1')
    assert KEYS <= set(result)
    assert result['mode'] == 'train' and result['device'] == 'cpu'
    assert result['amp'] == 'none' and result['checkpointing'] == 'none'
    assert result['lengths_file'].endswith(osp.join('phoenix2014', 'train_lengths.csv'))
    # real PHOENIX14 training lengths (27 to 299 frames), nothing padded through the ViT
    assert result['real_frames'] == expected_frames(tool, 'train', release_data, 2, 1)
    assert result['backbone_frames'] == result['real_frames']
    assert 2 * 27 <= result['frames_per_step'] <= 2 * 299
    assert result['frames_per_s'] > 0 and result['s_per_step'] > 0
    assert math.isclose(result['frames_per_s'] * result['s_per_step'],
                        result['frames_per_step'], rel_tol=1e-6)
    assert math.isfinite(result['last_loss'])
    # forward + backward of the tiny ViT: between 2x and 3x its forward FLOPs
    assert 0 < result['flops_per_frame'] < 1e9
    assert result['achieved_flops_per_s'] > 0
    assert result['peak_mem_gib'] is None and result['mfu'] is None
    text = capsys.readouterr().out
    assert 'real frames/s' in text and 'n/a' in text


def test_cpu_inference_bf16_with_a_given_peak(command, tool, tmp_path, release_data):
    result = run_tool(command, tmp_path, 'inference', '--steps', '2', '--warmup', '1',
                      '--amp', 'bf16', '--peak-tflops', '0.5')
    assert KEYS <= set(result)
    assert result['mode'] == 'infer' and result['amp'] == 'bf16' and result['decode']
    assert result['lengths_file'].endswith(osp.join('phoenix2014', 'dev_lengths.csv'))
    assert result['real_frames'] == expected_frames(tool, 'dev', release_data, 2, 1)
    assert result['frames_per_s'] > 0
    assert result['peak_flops_per_s'] == 0.5e12
    assert math.isclose(result['mfu'], result['achieved_flops_per_s'] / 0.5e12)


def test_train_flops_exceed_forward_flops(tool):
    cfg = tool.load_config(CONFIG)
    args = tool.parse_args([CONFIG])
    model_cfg = tool.model_config(cfg, args)
    forward = tool.flops_per_frame(model_cfg, 32, train=False)
    train = tool.flops_per_frame(model_cfg, 32, train=True)
    # the frozen ViT adds its input gradients, the trainable parts their weight gradients
    assert 2 * forward < train < 3 * forward


def test_random_targets_are_alignable(tool):
    pool = tool.FramePool(2, 40, 8, pin=False)
    data = pool.batch([('a', 9, 12), ('b', 40, 5)], num_classes=3, seed=0)
    assert [v.shape[0] for v in data['inputs']] == [9, 40]
    short, long = (s.gt_glosses.tolist() for s in data['data_samples'])
    assert len(short) == 3 and len(long) == 5  # at most ceil(T / 4) glosses
    for glosses in (short, long):
        assert all(1 <= g <= 2 for g in glosses)
        assert all(a != b for a, b in zip(glosses, glosses[1:]))


def test_gpu_settings_are_chosen_from_the_config(tool):
    cfg = tool.load_config(osp.join(REPO_ROOT, 'configs', 'adaptsign_phoenix14.py'))
    cuda = torch.device('cuda')
    wrapper = tool.optim_wrapper_config(cfg, torch.bfloat16, 'auto', cuda)
    # the config's optimiser as it is: nothing fused behind its back
    assert wrapper['type'] == 'SignAmpOptimWrapper' and 'fused' not in wrapper['optimizer']
    wrapper = tool.optim_wrapper_config(cfg, None, 'none', cuda)
    assert wrapper['type'] == 'OptimWrapper' and 'dtype' not in wrapper
    cpu = torch.device('cpu')
    assert tool.resolve_amp(cfg, 'auto', cpu) is None
    with pytest.raises(ValueError, match='fp16 needs a GPU'):
        tool.resolve_amp(cfg, 'fp16', cpu)
    # the recipe's vocabulary file is not here: placeholder glosses, 1296 classes
    model_cfg = tool.model_config(cfg, tool.parse_args([CONFIG, '--checkpointing', 'full']))
    assert len(model_cfg['vocab']) == 1295 and model_cfg['backbone']['pretrained'] is None
    assert model_cfg['backbone']['checkpointing'] == 'full'
    assert tool.crop_size(cfg) == 224


def test_missing_lengths_file_says_what_to_do(tool, tmp_path):
    with pytest.raises(FileNotFoundError, match='--lengths-file'):
        tool.read_lengths(str(tmp_path / 'nope.csv'))
