"""Shared test fixtures."""
import os
import os.path as osp

import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


#: Real annotation files, vocabularies and references of the releases (tests/data/README.md).
DATA_ROOT = osp.join(REPO_ROOT, 'tests', 'data')


@pytest.fixture(scope='session')
def release_data() -> str:
    """The folder of real release data inside the repository (``tests/data``)."""
    return DATA_ROOT


@pytest.fixture(autouse=True)
def _small_torch_threads():
    # Tests run on 2-core machines; oversubscription makes them slower, not faster.
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield
