# TLP (ECCV 2022), LINEAGE_SPEC.md: VAC's frame-wise ResNet-18 and head with temporal lift
# pooling in place of both max pools (predict / update operators, local weightings), its
# losses Cu and Cp (Frobenius norms of the update and predict residuals, summed over the
# two pools) weighted 0.001 each, and plain Linear classifiers, the conv branch with its
# own. Losses: SeqCTC 1, ConvCTC 1, Dist 25 (SeqKD, T = 8), Cu 0.001, Cp 0.001.
_base_ = ['./vac_resnet18.py']

model = dict(
    head=dict(
        pooling='lift',
        # Kernel of the predictor's and updater's depthwise convolutions (5 for CSL).
        lift_kernel=3,
        loss_lift_update=dict(type='LiftingLoss', loss_weight=0.001),
        loss_lift_predict=dict(type='LiftingLoss', loss_weight=0.001),
        classifier='Linear',
        share_classifier=False))
