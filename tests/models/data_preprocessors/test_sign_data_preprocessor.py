import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

from mmsign.models.data_preprocessors import SignDataPreprocessor


def make_samples(*ids):
    samples = []
    for sid in ids:
        s = ActionDataSample()
        s.set_metainfo(dict(sample_id=sid))
        s.gt_glosses = torch.tensor([1, 2])
        samples.append(s)
    return samples


def build(**kwargs) -> SignDataPreprocessor:
    preprocessor = MODELS.build(dict(type='SignDataPreprocessor', **kwargs))
    assert isinstance(preprocessor, SignDataPreprocessor)
    return preprocessor


def test_packs_normalises_and_keeps_lengths():
    videos = [torch.randint(0, 256, (t, 3, 4, 5), dtype=torch.uint8) for t in (3, 7)]
    samples = make_samples('a', 'b')
    out = build()(dict(inputs=videos, data_samples=samples), training=True)
    assert set(out) == {'inputs', 'lengths', 'data_samples'}
    assert out['lengths'] == [3, 7] and all(type(n) is int for n in out['lengths'])
    assert out['inputs'].shape == (10, 3, 4, 5) and out['inputs'].dtype == torch.float32
    expected = torch.cat(videos).float() / 127.5 - 1
    torch.testing.assert_close(out['inputs'], expected)
    assert out['inputs'].min() >= -1 and out['inputs'].max() <= 1
    assert out['data_samples'] is samples


def test_custom_mean_std_per_channel():
    video = torch.full((2, 3, 2, 2), 100, dtype=torch.uint8)
    out = build(mean=[0, 50, 100], std=[1, 2, 4])(dict(inputs=[video]))
    assert out['inputs'][:, :, 0, 0].tolist() == [[100.0, 25.0, 0.0]] * 2
    assert 'mean' not in build().state_dict()


def test_accepts_one_5d_tensor():
    batch = torch.zeros(2, 4, 3, 2, 2, dtype=torch.uint8)
    out = build()(dict(inputs=batch))
    assert out['lengths'] == [4, 4] and out['inputs'].shape == (8, 3, 2, 2)


def test_errors_name_the_sample():
    good = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    with pytest.raises(ValueError, match='sample b: .*T x 3 x H x W'):
        build()(dict(inputs=[good, torch.zeros(2, 4, 4, 3, dtype=torch.uint8)],
                     data_samples=make_samples('a', 'b')))
    with pytest.raises(ValueError, match='sample b: frames of'):
        build()(dict(inputs=[good, torch.zeros(2, 3, 5, 4, dtype=torch.uint8)],
                     data_samples=make_samples('a', 'b')))
    with pytest.raises(ValueError, match='sample a: .*T >= 1'):
        build()(dict(inputs=[torch.zeros(0, 3, 4, 4, dtype=torch.uint8)],
                     data_samples=make_samples('a')))
