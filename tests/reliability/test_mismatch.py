"""Pieces that do not fit together stop with a clear error: a checkpoint of another
vocabulary, a training set of another vocabulary, an unknown CLIP architecture, a
malformed CTM file."""
import os.path as osp
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from reliability_helpers import REPO, SYNTHETIC, TEST, log_of, run_tool, write_config

from mmsign.engine import CheckpointCompatibilityHook, CheckpointError
from mmsign.evaluation.sclite_io import TranscriptFormatError, read_ctm

RECIPE = Config.fromfile(SYNTHETIC)
GLOSSES = RECIPE.glosses


def build(vocab):
    """The synthetic recipe's recognizer (a tiny ViT) for the given vocabulary."""
    torch.manual_seed(0)
    return MODELS.build(dict(RECIPE.model, vocab=list(vocab)))


def runner_for(model, dataset_glosses=None, load_from='work/epoch_3.pth'):
    dataset = SimpleNamespace(metainfo=dict(glosses=dataset_glosses))
    return SimpleNamespace(model=model, cfg=Config(dict(load_from=load_from)),
                           train_dataloader=SimpleNamespace(dataset=dataset))


def checkpoint_of(model, glosses):
    return dict(state_dict=model.state_dict(),
                meta=dict(dataset_meta=dict(dataset_name='phoenix2014', glosses=glosses)))


def test_checkpoint_of_another_vocabulary_size_is_refused():
    hook = CheckpointCompatibilityHook()
    trained = build(GLOSSES)
    smaller = build(GLOSSES[:12])
    with pytest.raises(CheckpointError) as info:
        hook.after_load_checkpoint(runner_for(smaller), checkpoint_of(trained, GLOSSES))
    message = str(info.value)
    assert message.startswith('work/epoch_3.pth does not fit the model: '
                              'head.classifier.weight is (128, 17) in the checkpoint but '
                              '(128, 13) in the model')
    assert ('The checkpoint has 17 classes (16 glosses + blank), the model 13 (12 glosses '
            '+ blank, from model.vocab)') in message
    # the same vocabulary loads
    hook.after_load_checkpoint(runner_for(build(GLOSSES)), checkpoint_of(trained, GLOSSES))


def test_checkpoint_of_another_vocabulary_of_the_same_size_is_refused():
    # Same shapes, other class order: loading would decode every id to a wrong gloss.
    hook = CheckpointCompatibilityHook()
    shuffled = GLOSSES[1:] + GLOSSES[:1]
    with pytest.raises(CheckpointError, match="checkpoint against model.vocab: both 16 "
                       "glosses, but class 1 is 'GEWITTER' there and 'ABEND' in the model"):
        hook.after_load_checkpoint(runner_for(build(GLOSSES)),
                                   checkpoint_of(build(shuffled), shuffled))


def test_training_set_of_another_vocabulary_is_refused():
    hook = CheckpointCompatibilityHook()
    model = build(GLOSSES)
    with pytest.raises(ValueError, match=r'and the model disagree on the vocabulary '
                       r'\(dataset against model.vocab: 15 glosses against 16\)'):
        hook.before_train(runner_for(model, dataset_glosses=GLOSSES[:15]))
    hook.before_train(runner_for(model, dataset_glosses=GLOSSES))


@pytest.mark.slow
def test_tools_test_refuses_a_checkpoint_of_another_vocabulary(baseline, data_root, tmp_path):
    # A checkpoint trained on 16 glosses evaluated with a 12-gloss model: mmengine alone
    # would only log "size mismatch" and report the WER of a random classifier.
    config = write_config(str(tmp_path / 'config.py'), data_root)
    checkpoint = osp.join(baseline, 'epoch_3.pth')
    vocab = '[' + ','.join(GLOSSES[:12]) + ']'
    result = run_tool([TEST, config, checkpoint, '--work-dir', str(tmp_path / 'work'),
                       '--cfg-options', f'model.vocab={vocab}'], cwd=str(tmp_path))
    log = log_of(result)
    assert result.returncode != 0
    assert f'CheckpointError: {checkpoint} does not fit the model' in log
    assert 'The checkpoint has 17 classes (16 glosses + blank), the model 13' in log
    assert 'Epoch(test)' not in log


def test_unknown_clip_architecture_is_named():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'adaptsign_phoenix14.py'))
    cfg.model.vocab = GLOSSES
    cfg.model.backbone.pretrained = None
    cfg.model.backbone.arch = 'ViT-B-61'
    with pytest.raises(ValueError, match=r"open_clip has no model 'ViT-B-61'; its ViTs are "
                       r"\['ViT-B-16', "):
        MODELS.build(cfg.model)
    cfg.model.backbone.arch = dict(width=64, layers=2, heads=2)
    with pytest.raises(ValueError, match=r"missing keys \['patch_size', 'image_size', "
                       r"'output_dim'\]"):
        MODELS.build(cfg.model)


MALFORMED_CTM = {
    'too few fields': ('s1 1 0.00 0.01', 'a CTM line needs 5 or 6 fields'),
    'time not a number': ('s1 1 zero 0.01 REGEN', "begin time 'zero' is not a number"),
    'duration not a number': ('s1 1 0.02 nan REGEN', "duration 'nan' is not a number"),
    'confidence not a number': ('s1 1 0.02 0.01 REGEN high', "confidence 'high'"),
    'word with a semicolon': ('s1 1 0.02 0.01 RE;GEN', 'sclite cuts words at ";"'),
}


@pytest.mark.parametrize('case', list(MALFORMED_CTM))
def test_malformed_ctm_line_is_named_with_its_line_number(tmp_path, case):
    bad, problem = MALFORMED_CTM[case]
    lines = [f's{k} 1 0.0{k} 0.01 SONNE' for k in range(5)] + [bad, 's9 1 0.00 0.01 WIND']
    path = tmp_path / 'hyp.ctm'
    path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(TranscriptFormatError, match=f'{path}:6: .*{problem}'):
        read_ctm(str(path))


def test_score_wer_reports_a_malformed_ctm_without_a_traceback(tmp_path):
    (tmp_path / 'ref.stm').write_text('s1 1 signer 0.0 1.79769e+308 SONNE REGEN\n')
    (tmp_path / 'hyp.ctm').write_text('s1 1 0.00 0.01 SONNE\ns1 1 0.01 REGEN\n')
    result = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'analysis', 'score_wer.py'),
                             '--ref', str(tmp_path / 'ref.stm'), '--hyp',
                             str(tmp_path / 'hyp.ctm')], capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 2
    assert f'{tmp_path / "hyp.ctm"}:2: a CTM line needs 5 or 6 fields' in result.stderr
    assert 'Traceback' not in result.stderr
