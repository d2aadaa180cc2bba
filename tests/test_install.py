"""What `make setup` (``pip install -e .``) leaves behind: mmsign imports from any working
directory, the clone's parent folder included; OpenCV comes from the upstream wheels at
one version and reads a video; an installed torch that satisfies the constraints is kept."""
import importlib.metadata
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
HANG_GUARD_S = 600
OPENCV_WHEELS = ('opencv-python', 'opencv-python-headless', 'opencv-contrib-python',
                 'opencv-contrib-python-headless')


def installed_env() -> dict:
    """The environment without PYTHONPATH: the installed mmsign, as a user has it."""
    return {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}


def test_import_from_the_clones_parent_folder(tmp_path):
    # A user's project folder that holds the clone as mmsign/: that folder (no
    # __init__.py) must not shadow the installed package as a namespace package.
    importlib.metadata.distribution('mmsign')  # installed by `make setup`
    os.symlink(REPO, tmp_path / 'mmsign')
    probe = ('import mmsign, mmsign.apis\n'
             'print(mmsign.__file__)\n'
             'print(mmsign.apis.init_recognizer.__name__)\n')
    done = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                          cwd=str(tmp_path), env=installed_env(), timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr[-3000:]
    module_file, name = done.stdout.split()[-2:]
    assert module_file.endswith(osp.join('mmsign', '__init__.py')) and name == \
        'init_recognizer'


def test_opencv_is_the_upstream_wheels_at_one_version_and_reads_a_video(tmp_path):
    import cv2
    for name in ('runtime', 'optional', 'tests', 'mmcv'):
        with open(osp.join(REPO, 'requirements', f'{name}.txt')) as f:
            assert not re.search(r'^opencv', f.read(), re.M), name  # upstream's are enough
    with open(osp.join(REPO, 'requirements', 'constraints.txt')) as f:
        pinned = dict(re.findall(r'^(opencv[\w-]*)==(\S+)$', f.read(), re.M))
    assert len(set(pinned.values())) == 1, pinned
    installed = {}
    for name in OPENCV_WHEELS:
        try:
            installed[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    assert set(installed.values()) == set(pinned.values()), installed

    path = str(tmp_path / 'clip.avi')
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 25, (64, 48))
    frames = [np.full((48, 64, 3), 20 * i, np.uint8) for i in range(6)]
    for frame in frames:
        writer.write(frame)
    writer.release()
    capture = cv2.VideoCapture(path)
    read = []
    ok, frame = capture.read()
    while ok:
        read.append(frame)
        ok, frame = capture.read()
    assert len(read) == 6 and read[0].shape == (48, 64, 3)
    assert abs(int(read[3].mean()) - 60) <= 3


def test_setup_keeps_an_installed_torch_that_satisfies_the_constraints(tmp_path):
    # What `make setup` / `pip install -e .` would do in this environment (a CPU build of
    # torch installed first, docs/install.md): install mmsign, change nothing else.
    report = tmp_path / 'report.json'
    done = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--dry-run', '--no-index',
         '--no-build-isolation', '--quiet', '--report', str(report), '-e', REPO, '-c',
         osp.join(REPO, 'requirements', 'constraints.txt')],
        capture_output=True, text=True, cwd=str(tmp_path), timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(report) as f:
        changes = [item['metadata']['name'] for item in json.load(f)['install']]
    assert changes == ['mmsign'], changes
