"""Files from strangers run no code: every entry point that reads a checkpoint, and the CLIP
weights of ``model.backbone.pretrained`` (OpenAI's TorchScript format included).

Each malicious file would leave a trace (a file written by a pickled ``exec``, a line
printed by a scripted ``__setstate__``) if it were run. The tools run with
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, which makes ``torch.load`` unpickle everything
unless the caller passes ``weights_only=True`` itself.
"""
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
from typing import Tuple

import cv2
import numpy as np
import pytest
import torch
from reliability_helpers import (
    REPO,
    SYNTHETIC,
    TEST,
    TRAIN,
    log_of,
    recipe_workers,
    run_tool,
    write_config,
)
from torch import nn

from mmsign.apis import init_recognizer

pytestmark = pytest.mark.slow

UNSAFE_ENV = dict(TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
MARKER = 'SCRIPTED-SETSTATE-RAN'


class Trace:
    """Pickles as ``exec(code)``: unpickling it writes ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return exec, (f'open({self.path!r}, "w").write("ran")',)


@pytest.fixture(scope='module')
def malicious(tmp_path_factory):
    """A real checkpoint of the synthetic recipe's model with a ``Trace`` in its meta: a
    complete zip archive whose CRCs all match."""
    root = tmp_path_factory.mktemp('malicious')
    torch.manual_seed(0)
    model = init_recognizer(SYNTHETIC)
    trace = str(root / 'TRACE')
    path = str(root / 'epoch_1.pth')
    torch.save({'state_dict': model.state_dict(), 'optimizer': {}, 'meta': {
        'epoch': 1, 'iter': 4, 'trace': Trace(trace),
        'dataset_meta': {'glosses': model.vocab.glosses}}}, path)
    video = str(root / 'video.mp4')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'mp4v'), 25, (40, 40))
    for t in range(20):
        writer.write(np.full((40, 40, 3), 10 * t, np.uint8))
    writer.release()
    return dict(path=path, trace=trace, root=root, video=video)


def assert_refused(result: subprocess.CompletedProcess, trace: str) -> str:
    log = log_of(result)
    assert not osp.exists(trace), 'the pickle ran: ' + log[-3000:]
    assert result.returncode != 0, log[-3000:]
    assert 'Traceback' not in log, log[-3000:]
    return log


def test_the_trace_would_show(malicious, tmp_path):
    # without weights_only the file runs its code: the checks below can fail
    torch.load(malicious['path'], weights_only=False)
    assert osp.exists(malicious['trace'])
    os.remove(malicious['trace'])


def test_tools_read_checkpoints_with_weights_only(malicious, data_root, tmp_path):
    path, trace = malicious['path'], malicious['trace']
    config = write_config(str(tmp_path / 'config.py'), data_root)
    runs = {
        'tools/test.py': [TEST, config, path, '--work-dir', str(tmp_path / 'test')],
        'tools/demo/recognize.py': [osp.join(REPO, 'tools', 'demo', 'recognize.py'),
                                    SYNTHETIC, path, malicious['video']],
        'tools/demo/web_demo.py': [osp.join(REPO, 'tools', 'demo', 'web_demo.py'),
                                   SYNTHETIC, path, '--port', '0'],
        'load_from': [TRAIN, config, '--work-dir', str(tmp_path / 'load_from'),
                      '--cfg-options', f'load_from={path}'],
        'converter': [osp.join(REPO, 'tools', 'model_converters',
                               'released_to_mmsign.py'), path,
                      str(tmp_path / 'converted.pth')],
    }
    for name, args in runs.items():
        log = assert_refused(run_tool(args, cwd=str(tmp_path), env=UNSAFE_ENV), trace)
        assert 'weights_only' in log or 'not a loadable checkpoint' in log, (name, log[-2000:])
    work_dir = tmp_path / 'resume'
    work_dir.mkdir()
    shutil.copy(path, work_dir / 'epoch_1.pth')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_1.pth'))
    log = assert_refused(run_tool([TRAIN, config, '--work-dir', str(work_dir), '--resume'],
                                  cwd=str(tmp_path), env=UNSAFE_ENV), trace)
    assert 'epoch_1.pth (named by last_checkpoint) is not a loadable checkpoint' in log


def test_checkpoint_that_passes_its_crc_but_does_not_load_is_skipped(malicious, baseline,
                                                                     data_root, tmp_path):
    # the newest checkpoint of a finished run replaced by a complete archive that does not
    # load: --resume says so and resumes from the one before
    work_dir = str(tmp_path / 'work')
    shutil.copytree(baseline, work_dir)
    newest = osp.join(work_dir, 'epoch_3.pth')
    shutil.copy(malicious['path'], newest)
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
        f.write(newest)
    with open(osp.join(work_dir, 'losses_rank0.json'), 'w') as f:
        f.write('{}')
    config = write_config(str(tmp_path / 'config.py'), data_root, workers=recipe_workers())
    resumed = run_tool([TRAIN, config, '--work-dir', work_dir, '--seed', '0',
                        '--deterministic', '--resume'], cwd=str(tmp_path), env=UNSAFE_ENV)
    log = log_of(resumed)
    assert resumed.returncode == 0, log[-4000:]
    assert not osp.exists(malicious['trace'])
    warning = [line for line in log.splitlines() if '--resume:' in line]
    assert f'{newest} (named by last_checkpoint) is not a loadable checkpoint' in log, warning
    assert 'epoch_2.pth instead, the newest complete checkpoint' in log, warning
    assert 'resumed epoch: 2, iter: 8' in log and 'Traceback' not in log
    # named explicitly, the same file is one line, not a torch traceback
    shutil.copy(malicious['path'], newest)  # the resumed run wrote a good one
    refused = run_tool([TRAIN, config, '--work-dir', work_dir, '--resume', newest],
                       cwd=str(tmp_path), env=UNSAFE_ENV)
    log = assert_refused(refused, malicious['trace'])
    assert f'cannot resume from {newest}: not a loadable checkpoint' in log


class Evil(nn.Module):
    """A scripted module whose ``__setstate__`` (run by ``torch.jit.load``) prints."""

    def __init__(self) -> None:
        super().__init__()
        self.note = 'x'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @torch.jit.export
    def __getstate__(self) -> Tuple[str, bool]:
        return self.note, self.training

    @torch.jit.export
    def __setstate__(self, state: Tuple[str, bool]) -> None:
        print('SCRIPTED-SETSTATE-RAN')
        self.note = state[0]
        self.training = state[1]


class Tree(nn.Module):
    """Parameters at dotted names, as a scripted CLIP holds them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def clip_archive(path: str, tensors: dict) -> None:
    """A TorchScript archive holding ``tensors`` (CLIP names) and an :class:`Evil` part."""
    root = Tree()
    for name, value in tensors.items():
        *parents, leaf = name.split('.')
        module = root
        for part in parents:
            if not hasattr(module, part):
                module.add_module(part, Tree())
            module = getattr(module, part)
        module.register_parameter(leaf, nn.Parameter(value.clone()))
    root.evil = Evil()
    with pytest.warns(FutureWarning):  # TorchScript is deprecated; OpenAI's files exist
        torch.jit.script(root).save(path)


def test_torchscript_clip_weights_are_read_without_running_their_code(tmp_path):
    torch.manual_seed(0)
    backbone = init_recognizer(SYNTHETIC).backbone
    names = backbone.pretrained_parameter_names()
    own = backbone.state_dict()
    tensors = {'visual.' + re.sub(r'^blocks\.(\d+)\.frozen\.', r'transformer.resblocks.\1.',
                                  name): torch.randn_like(own[name]) for name in names}
    archive = str(tmp_path / 'ViT-evil.pt')
    clip_archive(archive, tensors)
    load = ('import torch, warnings; warnings.simplefilter("ignore"); '
            f'torch.jit.load({archive!r})')
    jit = subprocess.run([sys.executable, '-c', load], capture_output=True, text=True)
    assert MARKER in jit.stdout + jit.stderr  # torch.jit.load runs the scripted code

    check = (
        'import sys, torch\n'
        'from mmsign.apis import init_recognizer\n'
        f'model = init_recognizer({SYNTHETIC!r}, cfg_options={{'
        f'"model.backbone.pretrained": {archive!r}}})\n'
        'model.backbone.init_weights()\n'
        f'torch.save(model.backbone.state_dict(), {str(tmp_path / "loaded.pth")!r})\n')
    built = subprocess.run([sys.executable, '-c', check], capture_output=True, text=True,
                           cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO))
    assert built.returncode == 0, built.stderr[-3000:]
    assert MARKER not in built.stdout + built.stderr
    loaded = torch.load(str(tmp_path / 'loaded.pth'), weights_only=True)
    for name in names:
        clip_name = 'visual.' + re.sub(r'^blocks\.(\d+)\.frozen\.',
                                       r'transformer.resblocks.\1.', name)
        assert torch.equal(loaded[name], tensors[clip_name]), name


PHOENIX_LINE = '{id}|{folder}|Signer04|__ON__ LIEB ZUSCHAUER'


def write_phoenix(root, train_folder: str) -> dict:
    """A PHOENIX14 release of one video per split (3 frames each); the train line names
    ``train_folder``. Returns the original frames' bytes by path."""
    originals = {}
    for split in ('train', 'dev', 'test'):
        sample = f'{split}_video-0'
        folder = train_folder if split == 'train' else f'{sample}/1/*.png'
        csv = root / 'annotations' / 'manual' / f'{split}.corpus.csv'
        csv.parent.mkdir(parents=True, exist_ok=True)
        csv.write_text('id|folder|signer|annotation\n'
                       + PHOENIX_LINE.format(id=sample, folder=folder) + '\n')
        frames = root / 'features' / 'fullFrame-210x260px' / split / sample / '1'
        frames.mkdir(parents=True)
        for t in range(3):
            path = str(frames / f'{sample}.avi_pid0_fn{t:06d}-0.png')
            cv2.imwrite(path, np.full((260, 210, 3), 40 * t, np.uint8))
            with open(path, 'rb') as f:
                originals[path] = f.read()
    return originals


PREPROCESS = osp.join(REPO, 'tools', 'data', 'phoenix2014', 'preprocess.py')


@pytest.mark.parametrize('folder', ['../../../../outside/1/*.png', '{root}/elsewhere/1/*.png'])
def test_preprocess_writes_only_inside_its_output_root(tmp_path, folder):
    root = tmp_path / 'release'
    folder = folder.format(root=tmp_path)
    write_phoenix(root, folder)
    result = run_tool([PREPROCESS, '--root', str(root), '--workers', '1'], cwd=str(tmp_path))
    log = log_of(result)
    assert result.returncode == 1, log
    assert 'train.corpus.csv:2: the frame folder' in log and 'Fix the line' in log, log
    assert 'Traceback' not in log
    written = [osp.join(d, f) for d, _, files in os.walk(tmp_path) for f in files
               if 'fullFrame-256x256px' in d or 'outside' in d or 'elsewhere' in d]
    assert written == []


def test_overwrite_never_touches_the_original_frames(tmp_path):
    root = tmp_path / 'release'
    originals = write_phoenix(root, 'train_video-0/1/*.png')
    raw = osp.join('features', 'fullFrame-210x260px')
    for dst in (raw, raw + '/train', 'features'):
        result = run_tool([PREPROCESS, '--root', str(root), '--workers', '1', '--overwrite',
                           '--dst', dst], cwd=str(tmp_path))
        log = log_of(result)
        assert result.returncode == 1 and 'would be written into the original frames' in log
    # a resized folder that is a link to the originals
    resized = root / 'features' / 'fullFrame-256x256px' / 'train'
    resized.mkdir(parents=True)
    os.symlink(root / raw / 'train' / 'train_video-0', resized / 'train_video-0')
    result = run_tool([PREPROCESS, '--root', str(root), '--workers', '1', '--overwrite'],
                      cwd=str(tmp_path))
    log = log_of(result)
    assert result.returncode == 1 and 'train.corpus.csv:2' in log and '(a link?)' in log, log
    for path, data in originals.items():
        with open(path, 'rb') as f:
            assert f.read() == data, path
