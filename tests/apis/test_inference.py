"""init_recognizer / inference_recognizer and tools/demo/recognize.py on a tiny model saved
as a checkpoint: video file, frame folder and array agree; any size and frame rate."""
import importlib.util
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

import mmsign.apis
from mmsign.apis import (
    RecognitionResult,
    inference_recognizer,
    init_recognizer,
    read_video,
    resample_indices,
)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RECIPE = osp.join(REPO_ROOT, 'configs', 'adaptsign_phoenix14.py')
TINY_ARCH = dict(width=64, layers=2, heads=2, patch_size=16, image_size=32, output_dim=32)
VIDEO_SIZE = (90, 120)  # (height, width): neither the recipes' 256x256 nor square
VIDEO_FRAMES, VIDEO_FPS = 30, 30


def crop_option() -> dict:
    """The recipe's test centre crop set to the tiny backbone's 32 pixels."""
    pipeline = Config.fromfile(RECIPE).test_dataloader.dataset.pipeline
    (index, ) = [i for i, step in enumerate(pipeline) if step['type'] == 'SignCenterCrop']
    return {f'test_dataloader.dataset.pipeline.{index}.size': 32}


def tiny_options(vocab) -> dict:
    """What a user's --cfg-options would say for a tiny random model."""
    return {'model.backbone.pretrained': None,
            'model.backbone.arch': dict(_delete_=True, **TINY_ARCH),
            'model.head.hidden_channels': 16, 'model.vocab': vocab, **crop_option()}


def moving_square(t: int) -> np.ndarray:
    """A frame with a gradient background and a square that moves with ``t``."""
    h, w = VIDEO_SIZE
    frame = np.empty((h, w, 3), dtype=np.uint8)
    frame[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None]
    frame[..., 1] = np.linspace(255, 0, h, dtype=np.uint8)[:, None]
    frame[..., 2] = 40
    top, left = 20 + t, 30 + 2 * t
    frame[top:top + 30, left:left + 30] = (250, 250, 20)
    return frame


@pytest.fixture(scope='module')
def vocab(release_data):
    with open(osp.join(release_data, 'phoenix2014', 'gloss_vocab.json'), encoding='utf-8') as f:
        return json.load(f)['glosses']


@pytest.fixture(scope='module')
def tiny(vocab, tmp_path_factory):
    """A tiny random recognizer with the PHOENIX14 classes, and its checkpoint file."""
    torch.manual_seed(0)
    model = init_recognizer(RECIPE, cfg_options=tiny_options(vocab))
    path = str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'glosses': vocab}}}, path)
    return model, path


@pytest.fixture(scope='module')
def same_video(tmp_path_factory):
    """One video as an mp4, as a folder of PNG frames and as an array.

    The folder and the array hold the frames decoded from the mp4, so all three carry
    exactly the same pixels (mp4 is lossy)."""
    root = tmp_path_factory.mktemp('video')
    mp4 = str(root / 'signing.mp4')
    writer = cv2.VideoWriter(mp4, cv2.VideoWriter_fourcc(*'mp4v'), VIDEO_FPS,
                             VIDEO_SIZE[::-1])
    assert writer.isOpened()
    for t in range(VIDEO_FRAMES):
        writer.write(cv2.cvtColor(moving_square(t), cv2.COLOR_RGB2BGR))
    writer.release()
    array = decord.VideoReader(mp4)[:].asnumpy()
    folder = root / 'signing_frames'
    folder.mkdir()
    for t, frame in enumerate(array):
        assert cv2.imwrite(str(folder / f'{t:04d}.png'), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return dict(video=mp4, frames=str(folder), array=array)


def test_public_api_is_exported():
    assert mmsign.apis.init_recognizer is init_recognizer
    assert {'init_recognizer', 'inference_recognizer'} <= set(mmsign.apis.__all__)


def test_video_file_frame_folder_and_array_give_the_same_glosses(tiny, same_video):
    model, _ = tiny
    results = {kind: inference_recognizer(model, same_video[kind])
               for kind in ('video', 'frames', 'array')}
    reference = results['array']
    assert isinstance(reference, RecognitionResult)
    assert reference.glosses, 'a model that says nothing would make this test vacuous'
    # T' = ceil(T / 4) output frames, one column per class (1295 glosses + blank)
    assert reference.logits.shape == (math.ceil(VIDEO_FRAMES / 4), 1296)
    assert reference.logits.dtype == torch.float32
    for kind, result in results.items():
        assert result.glosses == reference.glosses, kind
        assert result.glosses_conv == reference.glosses_conv, kind
        assert torch.equal(result.logits, reference.logits), kind
        assert result.num_frames == VIDEO_FRAMES
        assert result.video['kind'] == kind
        assert result.video['source_size'] == list(VIDEO_SIZE)
        assert result.video['size'] == [256, 256]
        assert 'resized 120x90 to 256x256' in result.video['steps'][0]
        assert set(result.timing) == {'read', 'pipeline', 'model', 'decode', 'total'}
    assert results['video'].video['source_fps'] == VIDEO_FPS
    # the glosses are the model's own decoding of its logits
    ids = model.decoder(reference.logits.log_softmax(-1)[:, None], [len(reference.logits)])[0]
    assert model.vocab.decode(ids) == reference.glosses


def test_checkpoint_supplies_weights_and_vocabulary(tiny, same_video, vocab):
    model, path = tiny
    # The recipe's CLIP weights ('openai') would need a download and its vocabulary the
    # dataset: the checkpoint holds both, so neither is touched.
    options = dict(tiny_options('data/not-here/gloss_vocab.json'),
                   **{'model.backbone.pretrained': 'openai'})
    loaded = init_recognizer(RECIPE, path, cfg_options=options)
    assert loaded.vocab.glosses == vocab
    assert not loaded.training
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    expected = inference_recognizer(model, same_video['array'])
    result = inference_recognizer(loaded, same_video['array'])
    assert torch.equal(result.logits, expected.logits)
    assert result.glosses == expected.glosses


def test_checkpoint_without_clip_weights_takes_them_from_pretrained(tiny, same_video, vocab,
                                                                     tmp_path):
    model, _ = tiny
    clip_names = {'backbone.' + n for n in model.backbone.pretrained_parameter_names()}
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    trainable_only = {k: v for k, v in model.state_dict().items()
                      if k not in frozen or k == 'backbone.aggregation.query'}
    ckpt = str(tmp_path / 'trainable_only.pth')
    torch.save({'state_dict': trainable_only, 'meta': {'dataset_meta': {'glosses': vocab}}},
               ckpt)
    with pytest.raises(RuntimeError, match='backbone.conv1.weight'):
        init_recognizer(RECIPE, ckpt, cfg_options=tiny_options(None))

    # The CLIP image tower on its own, OpenAI names (what `pretrained` reads).
    tower = {}
    for name in clip_names:
        key = name[len('backbone.'):].replace('blocks.', 'transformer.resblocks.')
        tower[key.replace('.frozen.', '.')] = model.state_dict()[name]
    clip_file = str(tmp_path / 'tiny_clip.pt')
    torch.save(tower, clip_file)
    loaded = init_recognizer(RECIPE, ckpt, cfg_options=dict(
        tiny_options(None), **{'model.backbone.pretrained': clip_file}))
    result = inference_recognizer(loaded, same_video['array'])
    assert torch.equal(result.logits, inference_recognizer(model, same_video['array']).logits)


def test_frame_rate_resampling(tiny, same_video):
    assert resample_indices(10, 50, 25).tolist() == [0, 2, 4, 6, 8]
    assert resample_indices(6, 25, 50).tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5]
    assert len(resample_indices(300, 30, 25)) == 250
    model, _ = tiny
    result = inference_recognizer(model, same_video['video'], fps=25)  # the file says 30
    assert result.num_frames == 25
    assert 'resampled 30 frames at 30 fps to 25 frames at 25 fps' in result.video['steps'][0]
    array = same_video['array']
    resampled = read_video(array, fps=25, source_fps=30)
    assert np.array_equal(resampled.imgs, read_video(array[resample_indices(30, 30, 25)]).imgs)
    with pytest.raises(ValueError, match='source_fps'):
        read_video(array, fps=25)


def test_frames_kept_at_their_size_when_asked(same_video):
    frames = read_video(same_video['array'], frame_size=None)
    assert frames.imgs.shape == (VIDEO_FRAMES, *VIDEO_SIZE, 3) and frames.steps == []


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.mp4'):
        read_video(str(tmp_path / 'nothing.mp4'))
    with pytest.raises(ValueError, match='uint8 RGB of shape T x H x W x 3'):
        read_video(np.zeros((4, 8, 8, 3), dtype=np.float32))
    with pytest.raises(ValueError, match='uint8 RGB'):
        read_video(np.zeros((8, 8, 3), dtype=np.uint8))


def demo_options() -> list:
    """The demo's ``--cfg-options`` that make the recipe the tiny model."""
    (crop_key, crop), = crop_option().items()
    return ['model.backbone.pretrained=None', 'model.backbone.arch._delete_=True',
            *[f'model.backbone.arch.{k}={v}' for k, v in TINY_ARCH.items()],
            'model.head.hidden_channels=16', f'{crop_key}={crop}']


def load_demo():
    path = osp.join(REPO_ROOT, 'tools', 'demo', 'recognize.py')
    spec = importlib.util.spec_from_file_location('recognize_demo', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_prints_and_writes_the_glosses(tiny, same_video, tmp_path, capsys):
    model, path = tiny
    out = str(tmp_path / 'result.json')
    options = demo_options()
    assert load_demo().main([RECIPE, path, same_video['video'], '--out', out, '--show-frames',
                             '--device', 'cpu', '--with-logits', '--cfg-options',
                             *options]) == 0
    printed = capsys.readouterr().out
    expected = inference_recognizer(model, same_video['video'])
    assert 'glosses: ' + ' '.join(expected.glosses) in printed
    assert 'resized 120x90 to 256x256' in printed
    assert printed.count('\n') > len(expected.logits)  # one line per output frame
    with open(out, encoding='utf-8') as f:
        saved = json.load(f)
    assert saved['glosses'] == expected.glosses
    assert saved['glosses_conv'] == expected.glosses_conv
    assert np.allclose(saved['logits'], expected.logits.numpy(), atol=1e-5)
    assert os.path.getsize(out) > 0


def test_demo_ends_a_known_failure_with_one_line(tiny, same_video, tmp_path, capsys):
    model, path = tiny
    demo = load_demo()
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'\x13\x37 definitely not a checkpoint')
    not_video = tmp_path / 'notes.txt'
    not_video.write_text('these are notes, not a video\n')

    options = demo_options()

    def failure(*args) -> str:
        with pytest.raises(SystemExit) as exit_info:
            demo.main([RECIPE, *args, '--device', 'cpu', '--cfg-options', *options])
        assert exit_info.value.code == 1
        err = capsys.readouterr().err
        assert 'Traceback' not in err
        (line, ) = [line for line in err.splitlines() if ': error: ' in line]
        assert line.startswith('tools/demo/recognize.py: error: ')
        return line

    # The video is checked before the model is built: a bad checkpoint is never read.
    line = failure(str(garbage), str(tmp_path / 'gone.mp4'))
    assert 'video not found: ' + str(tmp_path / 'gone.mp4') in line
    line = failure(str(garbage), same_video['video'])
    assert f'CheckpointError: cannot load {garbage}: ' in line and 'not a checkpoint' in line
    assert 'weights_only' not in line
    line = failure(path, str(not_video))
    assert str(not_video) in line
    # --debug shows the traceback
    with pytest.raises(FileNotFoundError):
        demo.main([RECIPE, str(garbage), str(tmp_path / 'gone.mp4'), '--debug'])
