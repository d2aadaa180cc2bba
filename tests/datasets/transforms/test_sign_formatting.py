"""PackSignInputs: the contract the model side relies on."""
import numpy as np
import pytest
import torch
from mmaction.structures import ActionDataSample

from mmsign.datasets.transforms import PackSignInputs


def results(num_frames=6):
    imgs = np.random.randint(0, 256, (num_frames, 8, 10, 3), dtype=np.uint8)
    return dict(imgs=imgs[:, :, ::-1], img_shape=np.array([8, 10]), sample_id='id-1',
                signer='Signer05', num_frames=123, gloss_ids=[5, 1, 9],
                gloss_text=['REGEN', '__ON__', 'SONNE'])


def test_packs_inputs_and_data_sample():
    data = results()
    expected = torch.from_numpy(data['imgs'].copy()).permute(0, 3, 1, 2)
    packed = PackSignInputs()(data)
    assert set(packed) == {'inputs', 'data_samples'}
    inputs = packed['inputs']
    assert inputs.dtype == torch.uint8 and inputs.shape == (6, 3, 8, 10)
    assert inputs.is_contiguous() and torch.equal(inputs, expected)
    sample = packed['data_samples']
    assert isinstance(sample, ActionDataSample)
    assert sample.gt_glosses.dtype == torch.long
    assert sample.gt_glosses.tolist() == [5, 1, 9]
    assert 'gt_glosses' in sample.keys() and 'gt_label' not in sample
    assert sample.metainfo == dict(sample_id='id-1', signer='Signer05', num_frames=123,
                                   img_shape=(8, 10),
                                   gt_gloss_text=['REGEN', '__ON__', 'SONNE'])


def test_rejects_frames_that_are_not_rgb_video():
    data = results()
    data['imgs'] = data['imgs'][..., 0]
    with pytest.raises(ValueError, match='sample id-1: imgs must be T x H x W x 3'):
        PackSignInputs()(data)


def test_missing_meta_key_is_named():
    data = results()
    del data['signer']
    with pytest.raises(KeyError, match=r"sample id-1: PackSignInputs needs the meta keys "
                       r"\['signer'\]"):
        PackSignInputs()(data)
    packed = PackSignInputs(meta_keys=('sample_id', ))(data)
    assert set(packed['data_samples'].metainfo) == {'sample_id', 'gt_gloss_text'}
