# VAC without SMKD (the released README's "ResNet18+VAC (CTC only)"), PHOENIX14. Paper WER
# (dev / test): 21.5 / 22.1. The released setting: loss_weights SeqCTC 1 + ConvCTC 1 (no
# distillation), share_classifier and weight_norm False (a plain Linear classifier per
# branch). Schedule and everything else as configs/vac_phoenix14.py.
#   python tools/train.py configs/vac-plain_phoenix14.py
_base_ = ['./vac_phoenix14.py']

model = dict(
    head=dict(
        classifier='Linear',
        share_classifier=False,
        loss_distill=None))
