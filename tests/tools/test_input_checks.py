"""Bad input ends a command at once, before any model is built: recognize.py on a missing
path, a file without a video stream, an empty frame folder or a file that is no
checkpoint; tools/train.py and tools/test.py on a missing data root or annotation file.

Each case runs the real tool with a config whose model cannot be built (an unknown CLIP
arch): the input's one-line error, not the model's, shows that the check came first."""
import importlib.util
import os.path as osp

import cv2
import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SYNTHETIC = osp.join(REPO, 'configs', 'adaptsign_synthetic.py')
UNBUILDABLE = "model = dict(backbone=dict(arch='ViT-B-61'))  # no such CLIP model\n"


def load_tool(*parts):
    spec = importlib.util.spec_from_file_location(parts[-1][:-3], osp.join(REPO, *parts))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_line_error(capsys, run) -> str:
    with pytest.raises(SystemExit) as ended:
        run()
    assert ended.value.code == 1
    err = capsys.readouterr().err
    (line, ) = [line for line in err.splitlines() if ': error: ' in line]
    assert 'ViT-B-61' not in err and 'Traceback' not in err
    return line


def write_config(tmp_path, extra: str = '') -> str:
    path = tmp_path / 'unbuildable.py'
    path.write_text(f'_base_ = [{SYNTHETIC!r}]\n{UNBUILDABLE}{extra}')
    return str(path)


def test_recognize_checks_every_input_before_the_model(tmp_path, capsys):
    recognize = load_tool('tools', 'demo', 'recognize.py')
    config = write_config(tmp_path)
    frames = tmp_path / 'frames'
    frames.mkdir()
    for i in range(4):
        cv2.imwrite(str(frames / f'{i:04d}.png'), np.full((36, 36, 3), 60 * i, np.uint8))
    checkpoint = tmp_path / 'model.pth'
    checkpoint.write_bytes(b'PK\x03\x04' + bytes(64))  # a zip header, then nothing
    notes = tmp_path / 'notes.txt'
    notes.write_text('shopping list\n')
    empty = tmp_path / 'empty'
    empty.mkdir()
    not_a_checkpoint = tmp_path / 'weights.pth'
    not_a_checkpoint.write_text('hello')

    def run(video, ckpt=str(checkpoint)):
        return lambda: recognize.main([config, ckpt, str(video), '--device', 'cpu'])

    line = one_line_error(capsys, run(tmp_path / 'gone.mp4'))
    assert 'video not found' in line and 'gone.mp4' in line
    line = one_line_error(capsys, run(notes))
    assert 'notes.txt has no video stream' in line and 'give a video file' in line
    line = one_line_error(capsys, run(empty))
    assert f'frame folder {empty} holds no readable PNG/JPG frames' in line
    line = one_line_error(capsys, run(frames, str(not_a_checkpoint)))
    assert 'CheckpointError' in line and 'weights.pth' in line


@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
def test_train_and_test_check_the_data_before_the_model(tool, tmp_path, capsys):
    main = load_tool('tools', tool).main
    loader = 'train_dataloader' if tool == 'train.py' else 'test_dataloader'
    split = 'train' if tool == 'train.py' else 'test'
    pipeline = "[dict(type='SignInit'), dict(type='SignDecode'), dict(type='PackSignInputs')]"

    def phoenix(data_root):
        return (f"{loader} = dict(dataset=dict(_delete_=True, type='Phoenix2014Dataset', "
                f"data_root={str(data_root)!r}, split={split!r}, pipeline={pipeline}))\n")

    def run(config):
        args = [config, '--work-dir', str(tmp_path / 'work')]
        if tool == 'test.py':
            args.insert(1, str(tmp_path / 'any.pth'))
        return lambda: main(args)

    missing_root = tmp_path / 'no_such_data'
    config = write_config(tmp_path, phoenix(missing_root))
    line = one_line_error(capsys, run(config))
    assert f'data_root not found: {missing_root}' in line

    empty_root = tmp_path / 'phoenix'
    empty_root.mkdir()
    config = write_config(tmp_path, phoenix(empty_root))
    line = one_line_error(capsys, run(config))
    assert 'annotation file not found' in line and str(empty_root) in line
