import copy
import math

import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from mmsign.engine.optim_wrapper import SignOptimWrapper
from mmsign.models.heads import CTCHeadOutputs
from mmsign.models.recognizers import SignRecognizer

VOCAB = ['ABEND', 'GUT', 'REGEN', 'WETTER']


class TinyFrameEncoder(nn.Module):
    """The backbone contract with no temporal mixing: conv + average pool per frame."""

    def __init__(self, out_channels: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, out_channels, 3, padding=1)
        self.out_channels = out_channels

    def forward(self, frames: torch.Tensor, lengths) -> torch.Tensor:
        assert frames.shape[0] == sum(lengths)
        return self.conv(frames).mean((2, 3))


TINY_VIT = dict(type='AdaptSignViT',
                arch=dict(width=64, layers=2, heads=2, patch_size=16, image_size=32,
                          output_dim=32),
                pretrained=None, temporal_edge='replicate')


def build_model(backbone=None, **kwargs) -> SignRecognizer:
    torch.manual_seed(0)
    cfg = dict(type='SignRecognizer',
               backbone=backbone or dict(type=TinyFrameEncoder),
               head=dict(type='SignCTCHead', hidden_channels=16,
                         loss_distill=dict(type='SequenceDistillLoss')),
               vocab=VOCAB,
               decoder=dict(type='CTCBeamSearchDecoder'))
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    assert isinstance(model, SignRecognizer)
    return model


def make_batch(lengths=(9, 20), glosses=((1, 2), (3, 4, 3)), size=8, ids=None):
    g = torch.Generator().manual_seed(1)
    inputs, samples = [], []
    for i, (length, gl) in enumerate(zip(lengths, glosses)):
        inputs.append(torch.randint(0, 256, (length, 3, size, size), generator=g,
                                    dtype=torch.uint8))
        sample = ActionDataSample()
        sample.set_metainfo(dict(sample_id=ids[i] if ids else f'video{i}', signer='S1',
                                 num_frames=length,
                                 gt_gloss_text=[VOCAB[k - 1] for k in gl]))
        sample.gt_glosses = torch.tensor(gl, dtype=torch.long)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)



def params(model):
    return {k: v.detach().clone() for k, v in model.named_parameters()}


@pytest.mark.parametrize('backbone', [None, TINY_VIT], ids=['tiny_conv', 'tiny_adaptsign_vit'])
def test_train_step_and_test_step_return_gloss_strings(backbone):
    size = 32 if backbone else 8
    model = build_model(backbone)
    optim = SignOptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    before = params(model)
    log_vars = model.train_step(make_batch(size=size), optim)
    assert list(log_vars) == ['loss', 'loss_ctc_seq', 'loss_ctc_conv', 'loss_distill',
                              'ctc_excluded']
    parts = log_vars['loss_ctc_seq'] + log_vars['loss_ctc_conv'] + log_vars['loss_distill']
    torch.testing.assert_close(log_vars['loss'], parts)
    assert math.isfinite(log_vars['loss'].item()) and optim.last_step.skipped == 0
    after = params(model)
    assert any(not torch.equal(before[k], after[k]) for k in before)

    model.eval()
    samples = model.test_step(make_batch(size=size))
    assert len(samples) == 2
    for sample in samples:
        for key in ('pred_glosses', 'pred_glosses_conv'):
            assert isinstance(sample.get(key), list)
            assert all(isinstance(g, str) and g in VOCAB for g in sample.get(key))
        assert sample.metainfo['sample_id'].startswith('video')


def test_tensor_mode_returns_head_outputs():
    model = build_model().eval()
    data = model.data_preprocessor(make_batch(lengths=(9, 20)))
    out = model(**data, mode='tensor')
    assert isinstance(out, CTCHeadOutputs)
    assert out.lengths == [3, 5] and out.seq_logits.shape == (5, 2, len(VOCAB) + 1)


def test_frames_padding_mode_gives_released_lengths_for_t1_to_300():
    model = build_model(padding_mode='frames').eval()
    lengths = list(range(1, 301))
    inputs = torch.randn(sum(lengths), 3, 2, 2)
    with torch.no_grad():
        out = model(inputs, lengths, mode='tensor')
    padded = [math.ceil(t / 4) * 4 + 12 for t in lengths]
    assert out.lengths == [((p - 4) // 2 - 4) // 2 for p in padded]
    assert out.lengths == [math.ceil(t / 4) for t in lengths]


def test_padding_modes_agree_for_a_per_frame_backbone():
    # Without temporal mixing in the backbone, padding frames or features is the same.
    features = build_model().eval()
    frames = build_model(padding_mode='frames').eval()
    frames.load_state_dict(features.state_dict())
    data = features.data_preprocessor(make_batch(lengths=(5, 18)))
    with torch.no_grad():
        a = features(**data, mode='tensor')
        b = frames(**data, mode='tensor')
    assert a.lengths == b.lengths
    torch.testing.assert_close(a.seq_logits, b.seq_logits)
    torch.testing.assert_close(a.conv_logits, b.conv_logits)


def test_frames_mode_puts_backbone_temporal_edge_to_zeros():
    assert build_model(TINY_VIT).backbone.temporal_edge == 'replicate'
    assert build_model(TINY_VIT, padding_mode='frames').backbone.temporal_edge == 'zeros'
    with pytest.raises(ValueError, match='padding_mode'):
        build_model(padding_mode='edges')


def test_nan_batch_skips_the_step():
    # The skip is the optimiser wrapper's (the model keeps mmengine's train_step);
    # NonFiniteStepHook logs the sample ids (tests/reliability/test_nonfinite.py).
    model = build_model()
    optim = SignOptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    model.train_step(make_batch(), optim)  # Adam now has momentum: a zero grad would move
    before = params(model)
    state = copy.deepcopy(optim.optimizer.state_dict())
    handle = model.backbone.register_forward_hook(lambda m, i, out: out * float('nan'))
    log_vars = model.train_step(make_batch(ids=['01April_2010_Thursday_heute-6694',
                                                'nan_video_2']), optim)
    handle.remove()
    assert optim.last_step.skipped == 1 and math.isnan(log_vars['loss'].item())
    after = params(model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    for index, entry in optim.optimizer.state_dict()['state'].items():
        assert all(torch.equal(value, state['state'][index][key])
                   for key, value in entry.items())
    # the next finite batch trains again
    model.train_step(make_batch(), optim)
    assert optim.last_step.skipped == 0


def test_video_too_short_for_its_glosses_is_reported_not_inf(mm_log):
    model = build_model()
    optim = SignOptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))
    # 2 frames -> T' = 1 output frame for 3 glosses
    batch = make_batch(lengths=(2, 20), glosses=((1, 2, 3), (3, 4)),
                       ids=['too_short_video', 'ok_video'])
    log_vars = model.train_step(batch, optim)
    assert math.isfinite(log_vars['loss'].item())
    assert log_vars['ctc_excluded'] == 1 and optim.last_step.skipped == 0
    assert 'too_short_video' in mm_log.getvalue()


def test_vocabulary_and_head_classes_must_agree(tmp_path):
    with pytest.raises(ValueError, match='num_classes=9'):
        build_model(head=dict(type='SignCTCHead', num_classes=9, hidden_channels=16))
    with pytest.raises(ValueError, match='model.vocab'):
        build_model(vocab=None)
    # a gloss_vocab.json path works too
    path = tmp_path / 'gloss_vocab.json'
    path.write_text('{"blank_id": 0, "glosses": ["A", "B"]}')
    assert build_model(vocab=str(path)).head.num_classes == 3


class ListDataset(Dataset):
    def __init__(self, batch):
        self.items = list(zip(batch['inputs'], batch['data_samples']))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        inputs, sample = self.items[i]
        return dict(inputs=inputs, data_samples=copy.deepcopy(sample))


def test_runner_trains_and_scores_wer(tmp_path):
    dataset = ListDataset(make_batch(lengths=(9, 20)))
    loader = dict(dataset=dataset, batch_size=2, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='pseudo_collate'))
    runner = Runner(
        model=dict(type='SignRecognizer', backbone=dict(type=TinyFrameEncoder),
                   head=dict(type='SignCTCHead', hidden_channels=16), vocab=VOCAB,
                   decoder=dict(type='CTCGreedyDecoder')),
        work_dir=str(tmp_path), default_scope='mmaction',
        train_dataloader=loader, val_dataloader=loader,
        train_cfg=dict(by_epoch=False, max_iters=2, val_interval=2), val_cfg=dict(),
        val_evaluator=dict(type='WERMetric'),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-4)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                           checkpoint=dict(type='CheckpointHook', interval=100)),
        env_cfg=dict(dist_cfg=dict(backend='gloo')))
    runner.train()
    metrics = runner.val_loop.run()
    assert {'wer/seq', 'wer/conv'} <= set(metrics)
    assert 0 <= metrics['wer/seq']
