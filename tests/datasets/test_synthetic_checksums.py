"""The synthetic generator writes the same bytes as before it became a package.

``tests/data/synthetic/checksums.json`` holds the sha256 of every file the generator
wrote, for two small settings (PNG frames only; PNG frames, mp4 videos and list files),
recorded from the single-module generator of commit 3d428fc. Any change to the sign
designs, the rendering, the PNG/mp4 writing or the text files shows up here.
"""
import hashlib
import json
import os
import os.path as osp

import pytest

from mmsign.datasets.synthetic import generate_synthetic_dataset

CHECKSUMS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'synthetic',
                     'checksums.json')


def _tree(root: str) -> dict:
    digest = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                digest[osp.relpath(path, root).replace(os.sep, '/')] = \
                    hashlib.sha256(f.read()).hexdigest()
    return dict(sorted(digest.items()))


with open(CHECKSUMS, encoding='utf-8') as _f:
    SETTINGS = json.load(_f)['settings']


@pytest.mark.parametrize('name', sorted(SETTINGS))
def test_same_bytes_as_the_recorded_generator(name, tmp_path):
    expected = SETTINGS[name]
    root = str(tmp_path / name)
    generate_synthetic_dataset(root, **expected['options'])
    files = _tree(root)
    assert len(files) == expected['num_files']
    text = {p: h for p, h in files.items() if not p.endswith('.png')}
    # The non-frame files one by one first: a failure names the file that changed.
    assert text == expected['files']
    lines = ''.join(f'{p} {h}\n' for p, h in files.items())
    assert hashlib.sha256(lines.encode()).hexdigest() == expected['tree_sha256']


def test_synthetic_configs_take_the_generators_vocabulary():
    from mmengine.config import Config

    from mmsign.datasets.synthetic import SyntheticOptions
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    for name in ('adaptsign_synthetic', 'adaptsign_tiny-mmpretrain_synthetic'):
        cfg = Config.fromfile(osp.join(repo, 'configs', name + '.py'))
        glosses = SyntheticOptions.from_dict(cfg.generator).glosses
        assert cfg.model.vocab == cfg.dataset.vocab_file == glosses
        # The list the config used to spell out by hand.
        assert glosses == ['ABEND', 'GEWITTER', 'HEUTE', 'KALT', 'MORGEN', 'NEBEL', 'NORD',
                           'OST', 'REGEN', 'SCHNEE', 'SONNE', 'SUED', 'WARM', 'WEST', 'WIND',
                           'WOLKE']
        assert 'synthetic_glosses' not in cfg  # the helper is not a config value
