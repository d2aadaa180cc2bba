"""A CTC head for backbones whose per-frame features are several groups of channels
(SlowFastSign's slow and fast pathways; ``SLOWFASTSIGN_SPEC.md`` section 3, the paper's
Pathway Feature Enhancement).

The fused head sees all channels; one pathway head per group sees only its channels; each
is a :class:`SignCTCHead` (TemporalConv -> BiLSTM, one classifier shared by its conv and
sequence branches). With group weights ``a_h``::

    L = L_fused + sum_h a_h L_h,    L_x = 1.0 CTC(seq_x) + 1.0 CTC(conv_x)
                                          + 25 KD(conv_x, stopgrad(seq_x))

(the weights inside ``L_x`` are the loss configs', shared by all heads). The pathway heads
run only in training: evaluation, decoding and export see the fused head alone, which is
a plain :class:`SignCTCHead` under the usual names (``temporal_conv``, ``bilstm``,
``classifier``).
"""
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from torch import Tensor, nn

from mmsign.models.heads.ctc_head import CTCHeadOutputs, SignCTCHead


class MultiPathwayOutputs(NamedTuple):
    """The fused head's outputs (the fields of :class:`CTCHeadOutputs`) and, in
    training, each pathway head's.

    Attributes:
        seq_logits (Tensor): ``(T', B, C)`` of the fused head's BiLSTM branch.
        conv_logits (Tensor): ``(T', B, C)`` of the fused head's convolution branch.
        lengths (list[int]): Valid rows ``T'_b`` of each video.
        lift_residuals (tuple): The fused head's lift-pooling residuals (empty with max
            pooling), as in :class:`CTCHeadOutputs`.
        pathways (tuple[CTCHeadOutputs, ...]): One per channel group in training; empty
            in evaluation.
    """
    seq_logits: Tensor
    conv_logits: Tensor
    lengths: list
    lift_residuals: tuple = ()
    pathways: Tuple[CTCHeadOutputs, ...] = ()


@MODELS.register_module()
class MultiPathwayCTCHead(SignCTCHead):
    """Fused CTC head plus one auxiliary CTC head per channel group of the features.

    Args:
        in_channels (int): Feature width E, ``sum(pathway_channels)``.
        num_classes (int): Classes C, blank (index 0) included.
        pathway_channels (Sequence[int]): Widths of the channel groups, in channel order
            (SlowFastSign R101: ``(2048, 256)``, slow then fast).
        pathway_weights (Sequence[float]): ``a_h`` of each group's loss (the release:
            0.25 each). Defaults to 0.25 each.
        pathway_names (Sequence[str], optional): Suffixes of the groups' loss names
            (``loss_ctc_seq_slow``...). Defaults to ``pathway0``, ``pathway1``, ...
        **kwargs: :class:`SignCTCHead`'s arguments (hidden width, temporal conv, BiLSTM,
            losses), shared by all heads.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 pathway_channels: Sequence[int],
                 pathway_weights: Optional[Sequence[float]] = None,
                 pathway_names: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        super().__init__(in_channels, num_classes, **kwargs)
        self.pathway_channels = tuple(int(c) for c in pathway_channels)
        if not self.pathway_channels or sum(self.pathway_channels) != in_channels:
            raise ValueError(f'pathway_channels {self.pathway_channels} must add up to the '
                             f'{in_channels} feature channels of the backbone')
        count = len(self.pathway_channels)
        self.pathway_weights = tuple(
            float(w) for w in (pathway_weights if pathway_weights is not None else
                               (0.25, ) * count))
        self.pathway_names = tuple(pathway_names or (f'pathway{i}' for i in range(count)))
        if len(self.pathway_weights) != count or len(self.pathway_names) != count:
            raise ValueError(f'{count} pathway_channels but pathway_weights '
                             f'{self.pathway_weights} and pathway_names {self.pathway_names}')
        self.pathway_heads = nn.ModuleList(
            SignCTCHead(channels, num_classes, **kwargs) for channels in self.pathway_channels)

    def forward_padded(self, x: Tensor, lengths: Sequence[int]) -> MultiPathwayOutputs:
        """All heads on a padded batch (the pathway heads in training only).

        Args:
            x (Tensor): ``(B, E, T)``.
            lengths (Sequence[int]): Valid rows of each video, ``<= T``.

        Returns:
            MultiPathwayOutputs: logits ``(T', B, C)`` of every head.
        """
        fused = super().forward_padded(x, lengths)
        if not self.training:
            return MultiPathwayOutputs(*fused)
        groups = x.split(self.pathway_channels, dim=1)
        return MultiPathwayOutputs(*fused, tuple(
            head.forward_padded(group, lengths)
            for head, group in zip(self.pathway_heads, groups)))

    def loss(self, outputs: MultiPathwayOutputs,
             data_samples: Sequence[ActionDataSample]) -> Dict[str, Tensor]:
        """The fused head's losses (:meth:`SignCTCHead.loss`'s names) and each pathway
        head's, weighted by ``a_h`` and named with the pathway's suffix.

        Args:
            outputs (MultiPathwayOutputs): :meth:`forward`'s result in training.
            data_samples (Sequence[ActionDataSample]): With ``gt_glosses``.

        Returns:
            dict[str, Tensor]: ``loss_ctc_seq``, ``loss_ctc_conv``, ``loss_distill`` and
            ``loss_*_{name}`` of every pathway, each weighted, and ``ctc_excluded``.
        """
        if len(outputs.pathways) != len(self.pathway_heads):
            raise RuntimeError('the pathway heads did not run: losses need the head in '
                               'training mode')
        losses = super().loss(CTCHeadOutputs(*outputs[:4]), data_samples)
        for name, weight, head, pathway in zip(self.pathway_names, self.pathway_weights,
                                               self.pathway_heads, outputs.pathways):
            for key, value in head.loss(pathway, data_samples).items():
                if key.startswith('loss'):
                    losses[f'{key}_{name}'] = weight * value
        return losses
