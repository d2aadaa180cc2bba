"""tools/data/build_gloss_lm.py and tools/analysis/tune_decoder.py end to end on a tiny
generated set: the tuned numbers are what the model gives with the written config."""
import importlib.util
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmsign.apis import init_recognizer
from mmsign.datasets import ensure_synthetic_dataset
from mmsign.evaluation import WERMetric
from mmsign.models.decoders.ngram import NgramLM

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'adaptsign_synthetic.py')
GENERATOR = dict(num_glosses=16, num_train=24, num_dev=6, num_test=4, max_glosses=3,
                 image_size=36, seed=0)


def _load(path):
    spec = importlib.util.spec_from_file_location(osp.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _options(root):
    options = {}
    for loader in ('val_dataloader', 'test_dataloader'):
        options.update({f'{loader}.dataset.data_root': root, f'{loader}.num_workers': 0,
                        f'{loader}.persistent_workers': False})
        options.update({f'{loader}.dataset.generator.{k}': v for k, v in GENERATOR.items()})
    return options


def _wer_of_model(config, checkpoint, options):
    """dev WER of the model's own predict() with the config's decoder, via WERMetric."""
    model = init_recognizer(config, checkpoint, 'cpu', options)
    metric = WERMetric(normalize='none')
    with torch.no_grad():
        for batch in Runner.build_dataloader(model.cfg.val_dataloader):
            metric.process(None, model(**model.data_preprocessor(batch), mode='predict'))
    return metric.evaluate(len(metric.results))['wer/seq'], model.decoder


@pytest.mark.slow  # about 30 s: data generation, three model builds, two tunings
def test_tuned_decoder_gives_the_tuned_wer(tmp_path, capsys, monkeypatch):
    root = str(tmp_path / 'data')
    ensure_synthetic_dataset(root, **GENERATOR)
    lm_path = str(tmp_path / 'lm.arpa')
    build = _load(osp.join(REPO, 'tools', 'data', 'build_gloss_lm.py'))
    assert build.main(['--dataset', 'phoenix2014', '--root',
                       osp.join(root, 'phoenix-2014-multisigner'), '--order', '2',
                       '--out', lm_path]) == 0
    assert NgramLM.from_arpa(lm_path).order == 2

    # An untrained model: random posteriors, so every grid point decodes differently.
    torch.manual_seed(0)
    options = _options(root)
    model = init_recognizer(CONFIG, None, 'cpu', options)
    checkpoint = str(tmp_path / 'random.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)

    tune = _load(osp.join(REPO, 'tools', 'analysis', 'tune_decoder.py'))
    out = str(tmp_path / 'tune' / 'best.py')
    argv = [CONFIG, checkpoint, '--lm', lm_path, '--lm-weights', '0', '1', '--word-scores',
            '-2', '0', '--beams', '4', '--out', out, '--device', 'cpu', '--cfg-options',
            *[f'{k}={v}' for k, v in options.items()]]
    assert tune.main(argv) == 0
    table = capsys.readouterr().out
    rows = {tuple(m[:3]): float(m[3]) for m in re.findall(
        r'^beam +(\d+) +([\d.]+) +(-?[\d.]+) +([\d.]+)', table, re.M)}
    assert sorted(rows) == [('4', '0.0', '-2.0'), ('4', '0.0', '0.0'), ('4', '1.0', '-2.0'),
                            ('4', '1.0', '0.0')]
    assert len(set(rows.values())) > 1, table  # the grid points decode differently
    greedy = float(re.search(r'^greedy +- +- +- +([\d.]+)', table, re.M).group(1))
    listed = [float(w) for w in re.findall(r'^(?:beam|greedy) +\S+ +\S+ +\S+ +([\d.]+) ',
                                           table, re.M)]
    assert len(listed) == 5 and listed == sorted(listed), table  # best first
    assert re.search(r'^.* <- best$', table, re.M).group(0).split()[4] == f'{listed[0]:.2f}'
    assert osp.isfile(osp.join(osp.dirname(out), 'posteriors_val.pt'))

    # The config's own (greedy) decoder and the written best config give the table's WER.
    wer, _ = _wer_of_model(CONFIG, checkpoint, options)
    assert wer == greedy
    best = Config.fromfile(out).model.decoder
    assert best.type == 'CTCBeamSearchDecoder' and best.beam_width == 4
    wer, decoder = _wer_of_model(out, checkpoint, options)
    key = ('4', str(float(best.get('lm_weight', 0.0))),
           str(float(best.get('word_score', 0.0))))
    assert wer == rows[key] == min(rows.values())
    assert decoder.lm == (lm_path if best.get('lm_weight') else None)

    # A second run decodes the cached posteriors: no forward pass, the same table.
    def no_forward(*args):
        raise AssertionError('forward pass despite the cache')

    monkeypatch.setattr(tune, 'forward_split', no_forward)
    assert tune.main(argv) == 0
    again = capsys.readouterr().out
    assert re.findall('^(?:beam|greedy) .*$', again, re.M) == re.findall(
        '^(?:beam|greedy) .*$', table, re.M)


def test_build_gloss_lm_reports_a_missing_split(tmp_path, capsys):
    build = _load(osp.join(REPO, 'tools', 'data', 'build_gloss_lm.py'))
    assert build.main(['--dataset', 'phoenix2014', '--root', str(tmp_path), '--out',
                       str(tmp_path / 'lm.arpa')]) == 1
    assert 'error:' in capsys.readouterr().err
