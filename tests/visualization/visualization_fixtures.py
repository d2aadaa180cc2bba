"""Helpers of the visualisation tests: the synthetic recipe, tools as modules, a small
generated dataset with mp4 videos."""
import importlib.util
import os.path as osp

import pytest

from mmsign.datasets.synthetic import generate_synthetic_dataset

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SYNTHETIC_CONFIG = osp.join(REPO_ROOT, 'configs', 'adaptsign_synthetic.py')
# The synthetic recipe's vocabulary (16 glosses) and frame size (36 pixels), few videos.
GENERATOR = dict(num_glosses=16, num_train=8, num_dev=2, num_test=1, image_size=36, seed=0,
                 write_videos=True)


def load_tool(relative: str):
    """A script of tools/ as a module."""
    path = osp.join(REPO_ROOT, 'tools', relative)
    name = 'tool_' + relative.replace('/', '_')[:-3]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def synthetic_videos(tmp_path_factory):
    """``(root, summary)`` of a generated dataset (``GENERATOR``) with
    ``videos/<split>/<id>.mp4``."""
    root = str(tmp_path_factory.mktemp('synthetic') / 'data')
    return root, generate_synthetic_dataset(root, **GENERATOR)
