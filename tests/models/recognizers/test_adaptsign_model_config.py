import os.path as osp

from mmaction.registry import MODELS
from mmengine.config import Config

from mmsign.models.recognizers import SignRecognizer

CONFIG = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', '_base_', 'models',
                  'adaptsign_vit-b16.py')
TINY_ARCH = dict(width=64, layers=2, heads=2, patch_size=16, image_size=32, output_dim=32)


def test_config_holds_the_released_settings():
    model = Config.fromfile(CONFIG).model
    assert model.type == 'SignRecognizer' and model.padding_mode == 'features'
    assert model.data_preprocessor.mean == [127.5] * 3 == model.data_preprocessor.std
    assert model.backbone.arch == 'ViT-B-16' and model.backbone.pretrained is None
    assert model.head.hidden_channels == 1024
    assert tuple(model.head.conv_pattern) == ('K5', 'P2', 'K5', 'P2')
    assert (model.head.loss_distill.temperature, model.head.loss_distill.loss_weight) == (8, 25)
    assert model.head.loss_ctc_seq.loss_weight == model.head.loss_ctc_conv.loss_weight == 1
    assert (model.decoder.beam_width, model.decoder.top_k) == (10, 40)


def test_config_builds_and_padding_mode_switches_from_cfg_options():
    cfg = Config.fromfile(CONFIG)
    # what `--cfg-options model.padding_mode=frames ...` does
    cfg.merge_from_dict({'model.padding_mode': 'frames', 'model.vocab': ['A', 'B', 'C'],
                         'model.backbone.arch': dict(_delete_=True, **TINY_ARCH),
                         'model.head.hidden_channels': 16})
    model = MODELS.build(cfg.model)
    assert isinstance(model, SignRecognizer)
    assert model.padding_mode == 'frames' and model.backbone.temporal_edge == 'zeros'
    assert model.head.num_classes == 4
    assert model.head.temporal_conv.temporal_conv[0].in_channels == 32  # backbone width
