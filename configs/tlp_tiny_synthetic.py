# The synthetic quick start with TLP's model: the narrow frame-wise ResNet-18 of
# vac_tiny_synthetic.py and temporal lift pooling in the head (plain Linear classifiers,
# the conv branch with its own; the lift losses Cu and Cp weighted 0.001 each).
# Pipeline, data and schedule are the synthetic recipe's.
#   python tools/train.py configs/tlp_tiny_synthetic.py
_base_ = ['./vac_tiny_synthetic.py']

model = dict(
    head=dict(
        pooling='lift',
        lift_kernel=3,
        loss_lift_update=dict(type='LiftingLoss', loss_weight=0.001),
        loss_lift_predict=dict(type='LiftingLoss', loss_weight=0.001),
        classifier='Linear',
        share_classifier=False))
