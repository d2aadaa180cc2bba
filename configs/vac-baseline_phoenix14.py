# The VAC paper's baseline (the released README's "ResNet18 (baseline)"), PHOENIX14. Paper
# WER (dev / test): 23.8 / 25.4. The released setting: loss_weights SeqCTC 1 only (the conv
# branch and its own plain Linear classifier are computed but not trained: a loss of
# weight 0 is left out), share_classifier and weight_norm False. Schedule and everything
# else as configs/vac_phoenix14.py.
#   python tools/train.py configs/vac-baseline_phoenix14.py
_base_ = ['./vac-plain_phoenix14.py']

model = dict(head=dict(loss_ctc_conv=dict(type='SignCTCLoss', loss_weight=0.0)))
# The conv branch's classifier gets no gradient: DDP must be told.
model_wrapper_cfg = dict(find_unused_parameters=True)
