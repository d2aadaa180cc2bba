"""Shared test fixtures."""
import io
import logging
import os
import os.path as osp

import pytest
import torch
from mmengine.logging import MMLogger

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


@pytest.fixture
def unformatted_config_text(monkeypatch):
    """Skip yapf when the Runner prints, dumps and checkpoints the config: seconds per call
    on a 2-core machine, and formatting is not what these tests check."""
    monkeypatch.setattr('mmengine.config.config.FormatCode',
                        lambda text, **kwargs: (text, False))


@pytest.fixture
def mm_log():
    """What mmengine's current logger writes during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


@pytest.fixture(autouse=True)
def mmengine_loggers_follow_the_capture():
    """mmengine's loggers keep the stream that was ``sys.stdout`` when they were made, and a
    test's capture closes it after the test: point such handlers at the current stream
    before each test, so that one test's logger never writes into another's closed one."""
    import logging
    import sys

    from mmengine.logging import MMLogger
    for logger in list(MMLogger._instance_dict.values()):
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                    handler, logging.FileHandler) and getattr(handler.stream, 'closed', False):
                handler.setStream(sys.stdout)
    yield
