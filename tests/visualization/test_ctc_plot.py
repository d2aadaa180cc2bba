"""The CTC picture (blank and recognised glosses per frame, decoded glosses under it) from
made-up posteriors, from ``recognize.py --plot`` and for a dataset sample; the WER-curve
axis turns logarithmic when WER spans decades. Text is at least 9 pt at the saved size."""
import os.path as osp

import numpy as np
import torch
from PIL import Image
from visualization_fixtures import GENERATOR, SYNTHETIC_CONFIG, load_tool

from mmsign.apis import init_recognizer
from mmsign.visualization import TrainingCurves, ctc_figure, plot_ctc
from mmsign.visualization.ctc_plot import DPI, MIN_FONT_PT, text_sizes
from mmsign.visualization.curves import curves_figure, wer_axis_scale

GLOSSES = ['REGEN', 'HEUTE', 'NORD', 'WIND', 'SONNE']


def made_up_posteriors() -> np.ndarray:
    """24 output frames of blank with a peak of REGEN, HEUTE and WIND."""
    logits = np.full((24, len(GLOSSES) + 1), -2.0)
    logits[:, 0] = 2.0
    for cls, t in ((1, 5), (2, 11), (4, 18)):
        logits[t - 1:t + 2, cls] = [2.5, 5.0, 2.0]
    probs = np.exp(logits)
    return probs / probs.sum(1, keepdims=True)


STAMPS = [dict(gloss='REGEN', start_frame=16, end_frame=24, confidence=0.9),
          dict(gloss='HEUTE', start_frame=40, end_frame=48, confidence=0.8),
          dict(gloss='WIND', start_frame=68, end_frame=76, confidence=0.7)]


def test_ctc_figure_shows_blank_the_glosses_and_their_times(tmp_path):
    fig = ctc_figure(made_up_posteriors(), GLOSSES, STAMPS, stride=4, fps=25.0,
                     title='made up', reference=['REGEN', 'HEUTE', 'NORD', 'WIND'])
    sizes = text_sizes(fig)
    assert min(sizes.values()) >= MIN_FONT_PT, sizes
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ['blank', 'REGEN', 'HEUTE', 'WIND', 'NORD (reference, not decoded)']
    assert 'decoded: REGEN HEUTE WIND\nreference: REGEN HEUTE NORD WIND' in sizes
    assert fig.axes[1].get_xlim() == (0.0, 24 * 4 / 25.0)  # seconds
    out = plot_ctc(str(tmp_path / 'ctc.png'), made_up_posteriors(), GLOSSES, STAMPS, 4)
    width, height = Image.open(out).size
    assert (width, height) == tuple(round(x * DPI) for x in fig.get_size_inches())


def test_wer_axis_is_logarithmic_when_wer_spans_decades():
    assert wer_axis_scale([100.0, 40.0, 12.0]) == 'linear'
    assert wer_axis_scale([100.0, 3.4, 0.34]) == 'log'
    assert wer_axis_scale([100.0, 3.4, 0.0]) == 'symlog'
    curves = TrainingCurves(
        train=[dict(step=i, epoch=1 + i // 5, loss=30.0 - i) for i in range(10)],
        val=[dict(step=1, **{'wer/seq': 100.0}), dict(step=2, **{'wer/seq': 0.34})],
        source='work/20261208_000000/vis_data/scalars.json')
    fig = curves_figure(curves)
    assert fig.axes[1].get_yscale() == 'log'
    assert min(text_sizes(fig).values()) >= 9


def test_recognize_plot_and_a_dataset_sample(synthetic_videos, tmp_path, capsys):
    root, _ = synthetic_videos
    options = []
    for loader in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        options += [f'{loader}.dataset.data_root={root}']
        options += [f'{loader}.dataset.generator.{k}={v}' for k, v in GENERATOR.items()]
    torch.manual_seed(0)
    model = init_recognizer(SYNTHETIC_CONFIG, None, 'cpu')
    checkpoint = str(tmp_path / 'random.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)

    sample_png = str(tmp_path / 'sample.png')
    assert load_tool('visualize/ctc_alignment.py').main(
        [SYNTHETIC_CONFIG, checkpoint, '--split', 'test', '--out', sample_png,
         '--cfg-options', *options]) == 0
    printed = capsys.readouterr().out
    assert f'wrote {sample_png}' in printed and ': reference ' in printed
    assert Image.open(sample_png).size[0] >= 1000

    video = osp.join(root, 'videos', 'test', 'synth_test_00000_default-0.mp4')  # generated
    video_png = str(tmp_path / 'video.png')
    assert load_tool('demo/recognize.py').main(
        [SYNTHETIC_CONFIG, checkpoint, str(video), '--plot', video_png, '--device', 'cpu',
         '--no-progress']) == 0
    assert f'wrote {video_png}' in capsys.readouterr().out
    assert Image.open(video_png).size[0] >= 1000
