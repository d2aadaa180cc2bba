"""Shared test fixtures."""
import os
import os.path as osp

import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def shared_data_root() -> str:
    """``../shared/data`` beside the checkout, or ``$MMSIGN_SHARED_DATA``."""
    return os.environ.get('MMSIGN_SHARED_DATA',
                          osp.join(osp.dirname(REPO_ROOT), 'shared', 'data'))


@pytest.fixture(scope='session')
def shared_data() -> str:
    root = shared_data_root()
    if not osp.isdir(root):
        pytest.fail(f'real annotation data not found at {root}: '
                    'set MMSIGN_SHARED_DATA to the shared/data folder')
    return root


@pytest.fixture(autouse=True)
def _small_torch_threads():
    # Tests run on 2-core machines; oversubscription makes them slower, not faster.
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield
