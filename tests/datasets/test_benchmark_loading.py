"""The building blocks of the benchmark's loading subcommand (tools/dev/benchmark/loading.py)
count what they claim."""
import importlib.util
import os.path as osp

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    path = osp.join(REPO_ROOT, 'tools', 'dev', 'benchmark', 'loading.py')
    spec = importlib.util.spec_from_file_location('benchmark_loading', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_counts_frames(tmp_path, release_data):
    tool = load_tool()
    lengths = tool.read_lengths(tool.DEFAULT_LENGTHS,
                                3, seed=0)
    assert len(lengths) == 3 and all(27 <= n <= 299 for n in lengths)
    infos = tool.write_synthetic(str(tmp_path), [5, 7], noise=2.0, seed=0)
    assert tool.time_imread(infos)['frames'] == 12
    train = tool.time_pipeline(tool.train_pipeline(crop=224), infos)
    # Short videos are rescaled to at least 32 frames each, from their 5 + 7 frames.
    assert train['frames'] == 64 and train['decoded'] <= 12
    test = tool.time_pipeline(tool.test_pipeline(crop=224), infos)
    assert test['frames'] == 12 and test['seconds'] > 0
