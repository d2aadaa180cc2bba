"""``tools/test.py --out-dir DIR`` writes what the WER metric scored: hypothesis CTM,
reference STM, per-sample errors and alignments."""
import importlib.util
import json
import os.path as osp

import torch

from mmsign.apis import init_recognizer

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'adaptsign_synthetic.py')
GENERATOR = dict(num_train=4, num_dev=2, num_test=3)


def test_out_dir_writes_hypotheses_references_and_errors(tmp_path):
    options = [f'test_dataloader.dataset.data_root={tmp_path / "data"}',
               'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    options += [f'test_dataloader.dataset.generator.{k}={v}' for k, v in GENERATOR.items()]
    torch.manual_seed(0)
    model = init_recognizer(CONFIG, None, 'cpu')
    checkpoint = str(tmp_path / 'random.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)

    spec = importlib.util.spec_from_file_location('test_tool', osp.join(REPO, 'tools', 'test.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out_dir = tmp_path / 'out'
    tool.main([CONFIG, checkpoint, '--work-dir', str(tmp_path / 'work'), '--out-dir',
               str(out_dir), '--cfg-options', *options])

    for name in ('hyp_seq.ctm', 'hyp_conv.ctm', 'ref.stm', 'errors_seq.json',
                 'report_seq.md', 'alignment_seq.txt'):
        assert (out_dir / name).is_file(), name
    references = [line.split()[0] for line in (out_dir / 'ref.stm').read_text().splitlines()
                  if line.strip() and not line.startswith(';;')]
    assert len(references) == 3
    alignments = (out_dir / 'alignment_seq.txt').read_text()
    assert all(sample_id in alignments for sample_id in references)  # per sample
    hypotheses = (out_dir / 'hyp_seq.ctm').read_text()
    with open(out_dir / 'errors_seq.json') as f:
        assert json.load(f)  # SER, confusions, per-gloss errors
    assert all(line.split()[0] in references for line in hypotheses.splitlines()
               if line.strip() and not line.startswith(';;'))
