"""Training curves: a real 2-epoch run of the synthetic recipe through tools/train.py
writes loss and dev WER to mmengine's local backend and TensorBoard;
tools/analysis/plot_curves.py draws them."""
import glob
import os
import os.path as osp
import sys

import numpy as np
import pytest
from PIL import Image
from visualization_fixtures import GENERATOR, SYNTHETIC_CONFIG, load_tool

from mmsign.visualization import latest_scalars_file, read_scalars

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


@pytest.fixture(scope='module')
def trained_work_dir(synthetic_videos, tmp_path_factory):
    """Work dir of the synthetic recipe trained for 2 epochs on the generated videos."""
    root, _ = synthetic_videos
    work_dir = str(tmp_path_factory.mktemp('work'))
    options = ['train_cfg.max_epochs=2', 'param_scheduler.0.end=2',
               'default_hooks.logger.interval=1']
    for loader in LOADERS:
        options += [f'{loader}.batch_size=4', f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False', f'{loader}.dataset.data_root={root}']
        options += [f'{loader}.dataset.generator.{k}={v}' for k, v in GENERATOR.items()]
    with pytest.MonkeyPatch.context() as patch:
        # yapf formats the config for the log and the checkpoints: seconds on 2 cores.
        patch.setattr('mmengine.config.config.FormatCode', lambda text, **kwargs: (text, False))
        patch.setattr(sys, 'argv', ['train.py', SYNTHETIC_CONFIG, '--work-dir', work_dir,
                                    '--cfg-options', *options])
        load_tool('train.py').main()
    return work_dir


def test_training_writes_loss_and_wer_per_epoch(trained_work_dir):
    curves = read_scalars(latest_scalars_file(trained_work_dir))
    # 8 training videos in batches of 4: 2 iterations per epoch, each logged.
    assert [(row['epoch'], row['step']) for row in curves.train] == [
        (1, 1), (1, 2), (2, 3), (2, 4)]
    for row in curves.train:
        assert row['loss'] == pytest.approx(
            row['loss_ctc_seq'] + row['loss_ctc_conv'] + row['loss_distill'], rel=1e-4)
    assert [row['step'] for row in curves.val] == [1, 2]  # dev WER after each epoch
    assert curves.metric_keys() == ['wer/seq', 'wer/conv']
    assert curves.loss_keys()[0] == 'loss' and 'loss_distill' in curves.loss_keys()
    assert curves.epoch_means('loss')[2] == pytest.approx(
        (curves.train[2]['loss'] + curves.train[3]['loss']) / 2)
    (vis_data, ) = glob.glob(osp.join(trained_work_dir, '*', 'vis_data'))
    assert glob.glob(osp.join(vis_data, 'events.out.tfevents.*')), 'no TensorBoard events'


def test_plot_curves_tool(trained_work_dir, tmp_path, capsys):
    out = str(tmp_path / 'curves.png')
    assert load_tool('analysis/plot_curves.py').main([trained_work_dir, '--out', out]) == 0
    printed = capsys.readouterr().out
    assert '4 training log lines over 2 epochs, 2 validations' in printed
    assert 'epoch 2: wer/seq' in printed
    with Image.open(out) as image:
        assert image.size == (1100, 400)
        pixels = np.asarray(image.convert('L'))
    assert pixels.std() > 10  # something is drawn
    load_tool('analysis/plot_curves.py').main([trained_work_dir])
    assert osp.isfile(osp.join(trained_work_dir, 'curves.png'))


def test_latest_run_is_read(tmp_path):
    for run, loss in (('20240101_120000', 2.0), ('20240102_090000', 1.0)):
        os.makedirs(tmp_path / run / 'vis_data')
        (tmp_path / run / 'vis_data' / 'scalars.json').write_text(
            f'{{"lr": 0.1, "loss": {loss}, "epoch": 1, "iter": 1, "step": 1}}\n'
            '{"wer/seq": 50.0, "wer/seq_sub": 10.0, "step": 1}\n')
    curves = read_scalars(latest_scalars_file(str(tmp_path)))
    assert curves.train[0]['loss'] == 1.0 and curves.metric_keys() == ['wer/seq']
    with pytest.raises(FileNotFoundError, match='LocalVisBackend'):
        latest_scalars_file(str(tmp_path / '20240101_120000'))
