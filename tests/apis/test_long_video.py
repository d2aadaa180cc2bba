"""Long videos: windowed inference equals one pass; peak memory stays flat with length."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import torch

from mmsign.apis import (
    VideoSource,
    inference_recognizer,
    init_recognizer,
    plan_windows,
)
from mmsign.datasets.synthetic import ensure_synthetic_dataset

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'adaptsign_synthetic.py')


def write_mp4(frames, path, fps=25):
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (frames[0].shape[1], frames[0].shape[0]))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope='module')
def long_video(tmp_path_factory):
    """The test-split videos of a generated synthetic set, one after another, as an mp4."""
    root = tmp_path_factory.mktemp('long')
    ensure_synthetic_dataset(str(root / 'data'), num_glosses=16, num_train=8, num_dev=1,
                             num_test=4, image_size=36, seed=0)
    folders = sorted(glob.glob(str(root / 'data' / '*' / 'features' / '*' / 'test' / '*')))
    frames = [cv2.imread(p) for folder in folders
              for p in sorted(glob.glob(osp.join(folder, '1', '*.png')))]
    return write_mp4(frames, str(root / 'long.mp4'))


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    recognizer = init_recognizer(CONFIG)
    # A random model: make its temporal correlation count (it starts at weight 0).
    recognizer.backbone.temporal.weight.data.fill_(0.5)
    return recognizer


def test_windows_tile_the_video():
    for total, window, overlap, multiple in [(100, 32, 8, 1), (101, 32, 8, 4), (10, 32, 8, 1),
                                             (33, 32, 0, 1), (500, 64, 17, 4)]:
        plan = plan_windows(total, window, overlap, multiple)
        assert plan[0].keep_start == 0 and plan[-1].keep_stop == total
        for a, b in zip(plan, plan[1:]):
            assert a.keep_stop == b.keep_start
            assert b.start % multiple == 0 and a.keep_stop % multiple == 0
            # every kept frame sees at least overlap // 2 frames of its window on both sides
            assert a.keep_stop <= a.stop - (overlap // 2) // multiple * multiple
            assert b.keep_start >= b.start + (overlap // 2) // multiple * multiple
        assert all(w.stop - w.start <= window for w in plan)
    with pytest.raises(ValueError, match='overlap'):
        plan_windows(10, 8, 8)


def test_source_reads_lazily_what_is_asked(long_video):
    source = VideoSource(long_video, fps=12.5)
    assert source.source_frames > 100 and source.num_frames == round(source.source_frames / 2)
    assert source.fps == 12.5
    whole = VideoSource(long_video).read()
    assert np.array_equal(source.read(10, 14), whole[[20, 22, 24, 26]])


@pytest.mark.slow
@pytest.mark.parametrize('padding_mode', ['features', 'frames'])
def test_windowed_features_equal_one_pass(model, long_video, padding_mode):
    model.padding_mode = padding_mode
    try:
        one = inference_recognizer(model, long_video, window=None)
        windowed = inference_recognizer(model, long_video, window=48, overlap=8)
    finally:
        model.padding_mode = 'features'
    assert one.windows == 1 and windowed.windows > 3
    assert one.num_frames == windowed.num_frames > 100
    # Exact up to float rounding of the different batch shapes.
    torch.testing.assert_close(windowed.logits, one.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(windowed.logits_conv, one.logits_conv, atol=1e-5, rtol=1e-5)
    assert windowed.glosses == one.glosses and windowed.glosses_conv == one.glosses_conv
    assert windowed.timestamps == one.timestamps
    # Too little overlap for the temporal window (2 frames each side) is not exact.
    short = inference_recognizer(model, long_video, window=48, overlap=2)
    assert (short.logits - one.logits).abs().max() > 1e-4


@pytest.mark.slow
def test_windowed_posteriors_conv_branch_equals_one_pass(model, long_video):
    one = inference_recognizer(model, long_video, window=None)
    windowed = inference_recognizer(model, long_video, window=64, overlap=16,
                                    stitch='posteriors')
    assert windowed.logits.shape == one.logits.shape
    # An output frame reaches 8 frames beyond its own 4: overlap // 2 = 8 covers it.
    torch.testing.assert_close(windowed.logits_conv, one.logits_conv, atol=1e-5, rtol=1e-5)
    # The BiLSTM sees only its window: the sequence branch differs (docs/inference.md).
    assert (windowed.logits - one.logits).abs().max() > 1e-5


RSS_SCRIPT = textwrap.dedent('''
    import json, resource, sys
    import torch
    from mmsign.apis import inference_recognizer, init_recognizer
    torch.manual_seed(0)
    model = init_recognizer(sys.argv[1])
    result = inference_recognizer(model, sys.argv[2], window=int(sys.argv[3]))
    print(json.dumps(dict(frames=result.num_frames, windows=result.windows,
                          rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
''')


def peak_rss(script, video, window):
    # One thread: with more, glibc's per-thread arenas keep freed window buffers resident
    # (tens to hundreds of MiB, varying run to run), which says nothing about what
    # inference holds.
    run = subprocess.run([sys.executable, script, CONFIG, video, str(window)], cwd=REPO,
                         capture_output=True, text=True, timeout=1800,
                         env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_peak_memory_stays_flat_as_the_video_doubles(tmp_path):
    # 256x256 frames: 192 KiB each, so 1200 more frames held at once would add 225 MiB.
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (8, 256, 256, 3), dtype=np.uint8)
    short = write_mp4([base[t % 8] for t in range(1200)], str(tmp_path / 'short.mp4'))
    long = write_mp4([base[t % 8] for t in range(2400)], str(tmp_path / 'long.mp4'))
    script = str(tmp_path / 'rss.py')
    with open(script, 'w') as f:
        f.write(RSS_SCRIPT)
    first, second = peak_rss(script, short, 128), peak_rss(script, long, 128)
    assert (first['frames'], second['frames']) == (1200, 2400)
    assert second['windows'] > first['windows'] > 1
    # Measured: +20 to +50 MiB (allocator growth over more windows, docs/inference.md);
    # holding the frames would add 225 MiB.
    assert second['rss_mib'] - first['rss_mib'] < 112, (first, second)
