"""One tiny synthetic data set and one uninterrupted training run, shared by the tests."""
import os.path as osp

import pytest
from reliability_helpers import generator_options, log_of, recipe_workers, train, write_config

from mmsign.datasets.synthetic import ensure_synthetic_dataset


@pytest.fixture(scope='session')
def data_root(tmp_path_factory) -> str:
    """The synthetic data of every run (8 train, 5 dev, 5 test videos), generated once."""
    root = str(tmp_path_factory.mktemp('synthetic'))
    ensure_synthetic_dataset(root, **generator_options())
    return root


@pytest.fixture(scope='session')
def baseline(tmp_path_factory, data_root) -> str:
    """Work dir of an uninterrupted, seeded, deterministic run of 3 epochs x 4 batches.

    It keeps every epoch's checkpoint. Its training loader has the shipped recipe's worker
    settings (a persistent worker process), as the runs compared with it. Checkpoints do
    not change the run (saving draws no random numbers), so runs with other checkpoint
    settings must follow it exactly.
    """
    root = tmp_path_factory.mktemp('baseline')
    config = write_config(str(root / 'config.py'), data_root, checkpoint='max_keep_ckpts=-1',
                          workers=recipe_workers())
    work_dir = str(root / 'work')
    result = train(config, work_dir)
    assert result.returncode == 0, log_of(result)[-4000:]
    assert all(osp.isfile(osp.join(work_dir, f'epoch_{n}.pth')) for n in (1, 2, 3))
    return work_dir

