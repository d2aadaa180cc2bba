"""The four dataset classes read fixture trees of their real releases, through the base
configs' train and test pipelines and dataloaders."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmaction.registry import DATASETS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from sign_fixtures import NUM_FRAMES, SAMPLES_PER_SPLIT, read_stm

from mmsign.datasets import (
    CSLDailyDataset,
    CSLDataset,
    GlossVocabulary,
    Phoenix2014Dataset,
    Phoenix2014TDataset,
)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CROP = 48
FRAME_SIZE = (64, 72)  # (height, width) of the fixture frames


def load_config(name: str, data_root: str) -> Config:
    """The dataset base config pointed at a fixture tree, with small crops and no workers."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'datasets', f'{name}.py'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.pin_memory = False
        loader.dataset.data_root = data_root
        loader.dataset.vocab_file = osp.join(data_root, 'gloss_vocab.json')
        for transform in loader.dataset.pipeline:
            if transform['type'] == 'SignResize':  # the fixture frames' own size
                transform['size'] = FRAME_SIZE
            elif 'size' in transform:
                transform['size'] = CROP
    return cfg


CASES = [
    # config, class, fixture, shared folder, splits (loader -> split), first train sample
    ('phoenix2014', Phoenix2014Dataset, 'phoenix2014_root', 'phoenix2014',
     dict(train='train', val='dev', test='test')),
    ('phoenix2014t', Phoenix2014TDataset, 'phoenix2014t_root', 'phoenix2014-T',
     dict(train='train', val='dev', test='test')),
    ('csl-daily', CSLDailyDataset, 'csl_daily_root', 'CSL-Daily',
     dict(train='train', val='dev', test='test')),
    ('csl', CSLDataset, 'csl_root', 'CSL', dict(train='train', val='dev', test='dev')),
]


def stm_refs(release_data: str, folder: str, split: str) -> dict:
    """References of the real release (STM), keyed by the sample id mmsign uses."""
    stm = osp.join(release_data, folder, f'{folder}-groundtruth-{split}.stm')
    return {osp.basename(k): v for k, v in read_stm(stm).items()}


@pytest.mark.parametrize('name,cls,fixture,folder,splits', CASES,
                         ids=[c[0] for c in CASES])
def test_config_pipelines_load_fixture_tree(name, cls, fixture, folder, splits, request,
                                            release_data):
    root = request.getfixturevalue(fixture)
    cfg = load_config(name, root)
    vocab = GlossVocabulary.load(osp.join(release_data, folder, 'gloss_vocab.json'))
    assert cfg.num_classes == vocab.num_classes
    assert cfg.train_dataloader.collate_fn == dict(type='pseudo_collate')
    init_default_scope('mmaction')
    for loader_key, split in splits.items():
        dataset = DATASETS.build(cfg[f'{loader_key}_dataloader'].dataset)
        assert isinstance(dataset, cls)
        assert dataset.split == split and len(dataset) == SAMPLES_PER_SPLIT
        assert dataset.metainfo['glosses'] == vocab.glosses
        for idx in range(len(dataset)):
            info = dataset.get_data_info(idx)
            # Labels are the release's own glosses; ids follow the released class order.
            ref_split = 'dev' if (name == 'csl' and split == 'dev') else split
            if name not in ('phoenix2014', ):  # PHOENIX14 STMs are normalised references
                assert info['gloss_text'] == stm_refs(release_data, folder,
                                                      ref_split)[info['sample_id']]
            assert info['gloss_ids'] == vocab.encode(info['gloss_text'])
            assert min(info['gloss_ids']) >= 1

            packed = dataset[idx]
            inputs, sample = packed['inputs'], packed['data_samples']
            assert inputs.dtype == torch.uint8 and inputs.shape[1:] == (3, CROP, CROP)
            assert isinstance(sample, ActionDataSample)
            assert sample.gt_glosses.dtype == torch.long
            assert sample.gt_glosses.tolist() == info['gloss_ids']
            assert 'gt_label' not in sample
            assert sample.sample_id == info['sample_id']
            assert sample.signer == info['signer']
            assert sample.gt_gloss_text == info['gloss_text']
            assert sample.num_frames == NUM_FRAMES[idx % 2]
            assert sample.img_shape == (CROP, CROP)
            if loader_key == 'train':
                # Temporal rescale: at least 32 frames, a multiple of 4.
                assert inputs.shape[0] >= 32 and inputs.shape[0] % 4 == 0
            else:
                assert inputs.shape[0] == NUM_FRAMES[idx % 2]
                # Centre crop of the 64x72 frames: red = frame index, green = x, blue = y.
                if name.startswith('phoenix'):  # PNG: lossless
                    assert inputs[:, 0, 0, 0].tolist() == list(range(inputs.shape[0]))
                    assert inputs[0, 1, 0, 0] == (72 - CROP) // 2
                    assert inputs[0, 2, 0, 0] == (64 - CROP) // 2


@pytest.mark.parametrize('name,cls,fixture,folder,splits', CASES[:1] + CASES[2:3],
                         ids=['phoenix2014', 'csl-daily'])
def test_config_dataloader_collates_a_list(name, cls, fixture, folder, splits, request):
    init_default_scope('mmaction')
    cfg = load_config(name, request.getfixturevalue(fixture))
    loader = Runner.build_dataloader(copy.deepcopy(cfg.val_dataloader))
    batch = next(iter(loader))
    assert isinstance(batch['inputs'], list) and len(batch['inputs']) == 2
    assert [x.shape[0] for x in batch['inputs']] == list(NUM_FRAMES)
    assert [s.sample_id for s in batch['data_samples']] == [
        loader.dataset.get_data_info(i)['sample_id'] for i in range(2)
    ]


def test_phoenix2014_layout_and_fields(phoenix2014_root):
    dataset = Phoenix2014Dataset(phoenix2014_root, 'train',
                                 vocab_file=osp.join(phoenix2014_root, 'gloss_vocab.json'))
    info = dataset.get_data_info(0)
    assert info['sample_id'] == '01April_2010_Thursday_heute_default-0'
    assert info['signer'] == 'Signer04'
    # Raw annotation forms stay: the released vocabulary has them.
    assert info['gloss_text'][:3] == ['__ON__', 'LIEB', 'ZUSCHAUER'] and \
        'loc-NORD' in info['gloss_text']
    assert info['frame_dir'] == osp.join(phoenix2014_root, 'features', 'fullFrame-256x256px',
                                         'train', '01April_2010_Thursday_heute_default-0', '1')
    raw = Phoenix2014Dataset(phoenix2014_root, 'dev',
                             data_prefix=dict(frames='features/fullFrame-210x260px'))
    assert '/fullFrame-210x260px/dev/' in raw.get_data_info(0)['frame_dir']


def test_phoenix2014t_has_no_1_level(phoenix2014t_root):
    dataset = Phoenix2014TDataset(phoenix2014t_root, 'dev')
    info = dataset.get_data_info(0)
    assert info['frame_dir'].endswith(osp.join('dev', '11August_2010_Wednesday_tagesschau-2'))
    assert info['signer'] == 'Signer08'
    assert info['gloss_text'] == ['DRUCK', 'TIEF', 'KOMMEN']


def test_csl_daily_reads_split_file_and_lengths(csl_daily_root):
    dataset = CSLDailyDataset(csl_daily_root, 'test',
                              vocab_file=osp.join(csl_daily_root, 'gloss_vocab.json'))
    info = dataset.get_data_info(0)
    assert info['sample_id'] == 'S000020_P0004_T00'
    assert info['signer'] == 'P0004'
    assert info['gloss_text'] == ['他', '今天', '年龄', '4']
    assert info['num_frames'] == NUM_FRAMES[0]
    assert [dataset.get_data_info(i)['sample_id'] for i in range(len(dataset))] == [
        'S000020_P0004_T00', 'S000040_P0008_T00'
    ]


def test_csl_uses_video_names_of_the_published_lists(csl_root):
    dataset = CSLDataset(csl_root, 'train', vocab_file=osp.join(csl_root, 'gloss_vocab.json'))
    info = dataset.get_data_info(0)
    assert info['sample_id'] == 'video250'
    assert info['frame_dir'] == osp.join(csl_root, 'frames_256x256', 'video250')
    assert info['gloss_text'] == ['他', '妈妈', '的', '同学', '是', '公务员']
    with pytest.raises(ValueError, match="no split 'test'"):
        CSLDataset(csl_root, 'test')


def test_vocabulary_defaults_to_all_splits(phoenix2014_root):
    dataset = Phoenix2014Dataset(phoenix2014_root, 'dev')
    expected = sorted({
        g
        for split in ('train', 'dev', 'test')
        for r in Phoenix2014Dataset.read_annotations(phoenix2014_root, split)
        for g in r['gloss_text']
    })
    assert dataset.vocabulary.glosses == expected
    assert np.all(np.array(dataset.get_data_info(0)['gloss_ids']) >= 1)
