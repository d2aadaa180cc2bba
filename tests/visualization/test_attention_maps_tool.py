"""tools/visualize/attention_maps.py on generated sign videos with the tiny synthetic
recipe: the pictures exist at the video's frame size, the maps are normalised and follow
the frames' content, the glosses sit at the steps that emit them."""
import json
import math
import os
import os.path as osp

import cv2
import decord
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image
from visualization_fixtures import SYNTHETIC_CONFIG, load_tool

from mmsign.apis import init_recognizer
from mmsign.visualization import ctc_emissions, model_input_box, video_attention

GRID = (4, 4)  # the recipe's 32-pixel crop in 8-pixel patches


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    """The synthetic recipe's model, freshly built (random), saved as a checkpoint."""
    torch.manual_seed(0)
    model = init_recognizer(SYNTHETIC_CONFIG)
    with torch.no_grad():  # a trained-like temporal weight, so w_t is not exactly 0
        model.backbone.temporal.weight.fill_(0.1)
    path = str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'glosses': list(model.vocab.glosses)}}}, path)
    return path


@pytest.fixture(scope='module')
def tool():
    return load_tool('visualize/attention_maps.py')


def _read_png(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert('RGB'))


def _dev_video(synthetic_videos) -> str:
    root, _ = synthetic_videos
    return osp.join(root, 'videos', 'dev', 'synth_dev_00000_default-0.mp4')


def test_tool_on_generated_video(tool, tiny_checkpoint, synthetic_videos, tmp_path, capsys):
    video = _dev_video(synthetic_videos)
    reader = decord.VideoReader(video)
    num_frames = len(reader)
    height, width = reader[0].shape[:2]
    out = str(tmp_path / 'vis')
    assert tool.main([SYNTHETIC_CONFIG, tiny_checkpoint, video, '--out', out,
                      '--frame-size', '36', '36', '--panel-size', '128']) == 0
    assert f'{num_frames} frames -> {math.ceil(num_frames / 4)} output steps' in \
        capsys.readouterr().out

    overlays = sorted(os.listdir(osp.join(out, 'overlays')))
    assert overlays == [f'frame_{t:04d}.png' for t in range(num_frames)]
    for name in overlays[::10]:
        assert _read_png(osp.join(out, 'overlays', name)).shape == (height, width, 3)
    panels = sorted(os.listdir(osp.join(out, 'panels')))
    assert len(panels) == num_frames
    panel_shape = _read_png(osp.join(out, 'panels', panels[0])).shape
    assert panel_shape[1] == 128 and panel_shape[0] > 128
    sheet = _read_png(osp.join(out, 'contact_sheet.png'))
    assert sheet.shape[1] == 8 * 128 + 7 * 4  # 8 columns of panels, 4-pixel gaps
    with Image.open(osp.join(out, 'attention.gif')) as gif:
        assert gif.n_frames == num_frames and gif.size == panel_shape[1::-1]
    mp4 = osp.join(out, 'attention.mp4')
    assert len(decord.VideoReader(mp4)) == num_frames

    arrays = np.load(osp.join(out, 'attention.npz'))
    maps = arrays['patch_attention']
    assert maps.shape == (num_frames, *GRID)
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), 1.0, rtol=0, atol=1e-5)
    assert (maps >= 0).all()
    # A resting first frame and a frame in the middle of the signing differ in content,
    # and so do their maps, far more than the maps of two resting frames (camera noise).
    frames = np.stack([frame.asnumpy() for frame in reader]).astype(np.float32)
    middle = num_frames // 2
    assert np.abs(frames[0] - frames[middle]).mean() > 5
    assert np.abs(maps[0] - maps[middle]).sum() > 0.02
    assert np.abs(maps[0] - maps[middle]).sum() > 3 * np.abs(maps[0] - maps[1]).sum()
    gates = arrays['temporal_gates']
    assert gates.shape == (num_frames, 5, *GRID) and np.abs(gates).max() < 0.5
    # The recipe's temporal_edge='replicate': before the video, the first frame's window
    # sees copies of it.
    assert arrays['temporal_sources'][0].tolist() == [0, 0, 0, 1, 2]

    with open(osp.join(out, 'summary.json'), encoding='utf-8') as f:
        summary = json.load(f)
    assert summary['num_frames'] == num_frames and summary['patch_grid'] == list(GRID)
    assert summary['model_box'] == [2.0, 2.0, 34.0, 34.0]  # centre crop 32 of 36
    assert summary['layer'] == 'mean' and summary['temporal_weight'] == pytest.approx(0.1)
    # The greedy decoder of the recipe gives the glosses of the emissions.
    assert [e['gloss'] for e in summary['emissions']] == summary['glosses']
    for emission in summary['emissions']:
        assert emission['first_frame'] == 4 * emission['step']
        assert emission['last_frame'] <= min(emission['first_frame'] + 3, num_frames - 1)


def test_tool_on_non_square_frame_folder(tool, tiny_checkpoint, synthetic_videos, tmp_path):
    """Frames of another size are resized for the model and drawn at their own size; a
    frame repeated later in the video gets exactly the first frame's map."""
    reader = decord.VideoReader(_dev_video(synthetic_videos))
    frames = [cv2.resize(frame.asnumpy(), (60, 45), interpolation=cv2.INTER_AREA)
              for frame in reader]
    repeat = len(frames) // 2
    frames[repeat] = frames[0]
    folder = tmp_path / 'frames'
    folder.mkdir()
    for t, frame in enumerate(frames):
        cv2.imwrite(str(folder / f'{t:05d}.png'), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    out = str(tmp_path / 'vis')
    # No --frame-size: the config's test pipeline (SignResize 36 x 36 here) decides.
    assert tool.main([SYNTHETIC_CONFIG, tiny_checkpoint, str(folder), '--out', out,
                      '--layer', '-1', '--scale', 'frame',
                      '--interpolation', 'nearest', '--panel-size', '96']) == 0
    overlay = _read_png(osp.join(out, 'overlays', f'frame_{repeat:04d}.png'))
    assert overlay.shape == (45, 60, 3)
    maps = np.load(osp.join(out, 'attention.npz'))['patch_attention']
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), 1.0, rtol=0, atol=1e-5)
    np.testing.assert_allclose(maps[repeat], maps[0], rtol=0, atol=1e-6)
    assert np.abs(maps[0] - maps[1:repeat]).sum(axis=(1, 2)).max() > 0.02
    with open(osp.join(out, 'summary.json'), encoding='utf-8') as f:
        summary = json.load(f)
    # The 32 x 32 crop of the 36 x 36 resized frames, in the 60 x 45 frames' pixels.
    assert summary['model_box'] == pytest.approx([2 * 60 / 36, 2 * 45 / 36, 34 * 60 / 36,
                                                  34 * 45 / 36], abs=0.01)
    assert summary['layer'] == -1


def test_layer_choice_is_checked(tool):
    with pytest.raises(SystemExit):
        tool.parse_args(['c.py', 'k.pth', 'v.mp4', '--out', 'o', '--layer', 'last'])
    assert tool.parse_args(['c.py', 'k.pth', 'v.mp4', '--out', 'o', '--frame-size', 'none',
                            'none']).frame_size is None
    assert tool.parse_args(['c.py', 'k.pth', 'v.mp4', '--out', 'o']).frame_size is None
    assert tool.parse_args(['c.py', 'k.pth', 'v.mp4', '--out', 'o', '--frame-size', '36',
                            '48']).frame_size == [36, 48]


def test_ctc_emissions_follow_the_best_path():
    glosses = ['A', 'B', 'C']
    path = [0, 1, 1, 0, 1, 3, 3, 0, 2]
    logits = torch.nn.functional.one_hot(torch.tensor(path), 4).float()
    merged = ctc_emissions(logits, glosses, num_frames=34)
    assert [(e.step, e.gloss, e.frames) for e in merged] == [
        (1, 'A', range(4, 8)), (5, 'C', range(20, 24)), (8, 'B', range(32, 34))]
    plain = ctc_emissions(logits, glosses, num_frames=36, merge_repeated_glosses=False)
    assert [e.gloss for e in plain] == ['A', 'A', 'C', 'B']


def test_model_input_box_follows_the_test_crop():
    cfg = Config.fromfile(SYNTHETIC_CONFIG)
    assert model_input_box(cfg, (36, 36)) == (2, 2, 34, 34)
    # The test pipeline's SignResize brings any frame to 36x36 before the 32 crop.
    assert model_input_box(cfg, (40, 50)) == pytest.approx(
        (2 * 50 / 36, 2 * 40 / 36, 34 * 50 / 36, 34 * 40 / 36))
    # Without it, frames enter the crop at their own size; frames smaller than the crop
    # are padded, centred: the box reaches beyond them.
    pipeline = [step for step in cfg.test_dataloader.dataset.pipeline
                if step['type'] != 'SignResize']
    cfg.test_dataloader.dataset.pipeline = pipeline
    assert model_input_box(cfg, (40, 50)) == (9, 4, 41, 36)
    assert model_input_box(cfg, (30, 32)) == (0, -1, 32, 31)


def test_frame_padding_mode_maps_onto_the_same_frames(tiny_checkpoint, synthetic_videos):
    """padding_mode='frames' runs the backbone on the edge-padded video: the maps of the
    real frames are picked out of it, and equal those of padding_mode='features' (the
    padding copies the edge frames, which 'replicate' stands in for)."""
    video = _dev_video(synthetic_videos)
    results = []
    for mode in ('features', 'frames'):
        model = init_recognizer(SYNTHETIC_CONFIG, tiny_checkpoint,
                                cfg_options={'model.padding_mode': mode})
        results.append(video_attention(model, video, frame_size=(36, 36)))
    features, frames = results
    assert frames.patch_attention.shape == features.patch_attention.shape
    np.testing.assert_allclose(frames.patch_attention, features.patch_attention, atol=1e-6)
    np.testing.assert_array_equal(frames.temporal_sources, features.temporal_sources)
    np.testing.assert_allclose(frames.temporal_gates, features.temporal_gates, atol=1e-6)
