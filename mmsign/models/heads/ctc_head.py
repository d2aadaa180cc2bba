"""The lineage's temporal head: TemporalConv -> BiLSTM, CTC classifiers, their losses."""
import logging
import math
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from mmsign.models.heads.edge_padding import Length, PaddingGeometry, released_edge_padding
from mmsign.models.heads.lift_pooling import LiftResiduals
from mmsign.models.heads.temporal_conv import RELEASED_PATTERN, TemporalConv
from mmsign.models.losses import min_ctc_input_length


class CTCHeadOutputs(NamedTuple):
    """What the head computes for a batch of B videos.

    Attributes:
        seq_logits (Tensor): ``(T', B, C)`` class scores of the BiLSTM branch; rows at
            and beyond ``lengths[b]`` are the classifier of a zero vector (zero for
            :class:`NormLinear`, the bias for ``Linear``).
        conv_logits (Tensor): ``(T', B, C)`` class scores of the convolution branch.
        lengths (list[int]): Valid rows ``T'_b`` of each video (host integers).
        lift_residuals (tuple[LiftResiduals, ...]): What each temporal lift pooling
            layer leaves for its losses; empty with max pooling.
    """
    seq_logits: Tensor
    conv_logits: Tensor
    lengths: List[int]
    lift_residuals: Tuple[LiftResiduals, ...] = ()


class NormLinear(nn.Module):
    """Linear classifier whose class vectors have unit norm: ``x @ normalize(W, dim=0)``.

    Args:
        in_channels (int): Feature width H.
        num_classes (int): Classes C, blank included.
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_channels, num_classes))
        nn.init.xavier_uniform_(self.weight, gain=math.sqrt(2))

    def forward(self, x: Tensor) -> Tensor:
        """Score every class.

        Args:
            x (Tensor): ``(..., H)``.

        Returns:
            Tensor: ``(..., C)``.
        """
        return x @ F.normalize(self.weight, dim=0)


class BiLSTM(nn.Module):
    """Bidirectional LSTM over packed sequences: padding never enters the recurrence.

    Args:
        channels (int): Input and output width H (H/2 per direction).
        num_layers (int): Stacked layers. Defaults to 2.
        dropout (float): Dropout between layers. Defaults to 0.3.
    """

    def __init__(self, channels: int, num_layers: int = 2, dropout: float = 0.3) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError(f'BiLSTM width must be even (H/2 per direction), got {channels}')
        self.rnn = nn.LSTM(channels, channels // 2, num_layers=num_layers,
                           dropout=dropout if num_layers > 1 else 0.0, bidirectional=True)

    def forward(self, x: Tensor, lengths: Sequence[int]) -> Tensor:
        """Run both directions over the valid rows of each sequence.

        Args:
            x (Tensor): ``(T, B, H)``.
            lengths (Sequence[int]): Valid rows of each sequence, ``1..T``.

        Returns:
            Tensor: ``(T, B, H)``; rows beyond a sequence's length are zero.
        """
        if len(lengths) == 1 and lengths[0] == x.shape[0]:
            # One full-length sequence: packing changes nothing. This is also the path an
            # ONNX export traces (one video, its length a 0-dim tensor of the graph).
            return self.rnn(x)[0]
        # Sorted here on the host: with enforce_sorted=False, torch would copy its sort
        # order to the device and the inverse order back to the host, two device
        # synchronisations per call.
        order = sorted(range(len(lengths)), key=lambda b: -lengths[b])
        permuted = order != list(range(len(lengths)))
        if permuted:
            x = x.index_select(1, _host_index(order, x.device))
        packed = pack_padded_sequence(
            x, torch.as_tensor([lengths[b] for b in order], dtype=torch.long))
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, total_length=x.shape[0])
        if permuted:
            inverse = sorted(range(len(order)), key=order.__getitem__)
            out = out.index_select(1, _host_index(inverse, out.device))
        return out


#: Classifier types of :class:`SignCTCHead`.
CLASSIFIERS = ('NormLinear', 'Linear')


def build_classifier(kind: str, in_channels: int, num_classes: int) -> nn.Module:
    """A CTC classifier: :class:`NormLinear` or ``nn.Linear`` (bias, PyTorch's init).

    Args:
        kind (str): One of :data:`CLASSIFIERS`.
        in_channels (int): Feature width H.
        num_classes (int): Classes C, blank included.

    Returns:
        nn.Module: ``(..., H) -> (..., C)``.
    """
    if kind == 'NormLinear':
        return NormLinear(in_channels, num_classes)
    if kind == 'Linear':
        return nn.Linear(in_channels, num_classes)
    raise ValueError(f'classifier must be one of {CLASSIFIERS}, got {kind!r}')


def _host_index(index: Sequence[int], device: torch.device) -> Tensor:
    """An index tensor made on the host and copied to ``device`` without waiting."""
    index = torch.as_tensor(index, dtype=torch.long)
    if device.type == 'cuda':
        index = index.pin_memory()
    return index.to(device, non_blocking=True)


@MODELS.register_module()
class SignCTCHead(BaseModule):
    """CTC head of the lineage (AdaptSign spec section 3) with its losses (section 5).

    Per-frame features -> released edge padding -> TemporalConv -> conv logits, and
    -> BiLSTM -> sequence logits. By default (AdaptSign, CorrNet, VAC+SMKD) both branches
    go through one shared :class:`NormLinear` (``head.classifier``); with
    ``share_classifier=False`` (VAC, TLP, SEN) the conv branch has its own
    (``head.conv_classifier``). A loss config with ``loss_weight=0`` is left out of the
    loss entirely (the VAC baseline trains the sequence branch only), so what only it
    would train gets no gradient.

    Args:
        in_channels (int): Feature width E of the backbone.
        num_classes (int): Classes C, blank (index 0) included.
        hidden_channels (int): Width H of the convolutions and the BiLSTM. Defaults
            to 1024.
        conv_pattern (Sequence[str]): TemporalConv layers. Defaults to
            ``('K5', 'P2', 'K5', 'P2')``.
        lstm_layers (int): BiLSTM layers. Defaults to 2.
        lstm_dropout (float): Dropout between BiLSTM layers. Defaults to 0.3.
        loss_ctc_seq (dict): CTC loss of the sequence branch.
        loss_ctc_conv (dict): CTC loss of the conv branch.
        loss_distill (dict, optional): Distillation of the sequence branch into the conv
            branch; None leaves it out.
        pooling (str): The temporal conv's pools: ``'max'`` or ``'lift'`` (temporal
            lift pooling, TLP). Defaults to ``'max'``.
        lift_kernel (int): Kernel of the lift pooling's predictor and updater: 3 (5 in
            the released CSL model). Defaults to 3.
        loss_lift_update (dict, optional): TLP's loss ``Cu`` on the update residuals
            (``LiftingLoss``, weight 0.001 in TLP, 0.0005 in CorrNet+); None leaves it
            out. Needs ``pooling='lift'``.
        loss_lift_predict (dict, optional): TLP's loss ``Cp`` on the details, as
            ``loss_lift_update``.
        classifier (str): ``'NormLinear'`` (weight-normalised, no bias) or ``'Linear'``.
            Defaults to ``'NormLinear'``.
        share_classifier (bool): One classifier for both branches. Defaults to True.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 hidden_channels: int = 1024,
                 conv_pattern: Sequence[str] = RELEASED_PATTERN,
                 lstm_layers: int = 2,
                 lstm_dropout: float = 0.3,
                 loss_ctc_seq: Optional[dict] = None,
                 loss_ctc_conv: Optional[dict] = None,
                 loss_distill: Optional[dict] = None,
                 pooling: str = 'max',
                 lift_kernel: int = 3,
                 loss_lift_update: Optional[dict] = None,
                 loss_lift_predict: Optional[dict] = None,
                 classifier: str = 'NormLinear',
                 share_classifier: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 2:
            raise ValueError(f'num_classes counts the blank and at least one gloss, '
                             f'got {num_classes}')
        if pooling != 'lift' and (loss_lift_update or loss_lift_predict):
            raise ValueError('loss_lift_update / loss_lift_predict need the temporal lift '
                             f"pooling (head pooling='lift'), got pooling={pooling!r}")
        self.num_classes = num_classes
        self.temporal_conv = TemporalConv(in_channels, hidden_channels, conv_pattern,
                                          pooling, lift_kernel)
        self.bilstm = BiLSTM(hidden_channels, lstm_layers, lstm_dropout)
        self.classifier = build_classifier(classifier, hidden_channels, num_classes)
        self.share_classifier = share_classifier
        if not share_classifier:
            self.conv_classifier = build_classifier(classifier, hidden_channels, num_classes)
        self.loss_ctc_seq = _build_loss(loss_ctc_seq or dict(type='SignCTCLoss'))
        self.loss_ctc_conv = _build_loss(loss_ctc_conv or dict(type='SignCTCLoss'))
        self.loss_distill = _build_loss(loss_distill)
        self.loss_lift_update = _build_loss(loss_lift_update)
        self.loss_lift_predict = _build_loss(loss_lift_predict)

    @property
    def conv_branch_classifier(self) -> nn.Module:
        """The conv branch's classifier: ``classifier`` when shared, else its own."""
        return self.classifier if self.share_classifier else self.conv_classifier

    @property
    def geometry(self) -> PaddingGeometry:
        """Stride, receptive field and edge padding of the head, derived from the layers
        of its temporal conv: the one source for everything that needs them."""
        return self.temporal_conv.geometry

    def output_lengths(self, padded_lengths: Sequence[Length]) -> List[Length]:
        """Valid output rows for videos of the given (padded) lengths.

        Args:
            padded_lengths (Sequence[int | Tensor]): Valid input rows of each video.

        Returns:
            list[int | Tensor]: ``T'`` of each video.
        """
        out = [self.temporal_conv.output_length(length) for length in padded_lengths]
        if min(out) < 1:
            raise ValueError(f'inputs of lengths {list(padded_lengths)} are too short for '
                             f'the temporal conv {self.temporal_conv.pattern}: outputs {out}')
        return out

    def forward(self, feats: Tensor, lengths: Sequence[int]) -> CTCHeadOutputs:
        """Head on packed per-frame features, padded here the released way.

        Args:
            feats (Tensor): ``(sum(lengths), E)``: the frames of each video one after
                another.
            lengths (Sequence[int]): Frames of each video (host integers).

        Returns:
            CTCHeadOutputs: logits ``(T', B, C)`` with ``T'_b =
            geometry.output_steps(T_b)`` (``ceil(T_b / 4)`` for the released pattern).
        """
        padded, valid = released_edge_padding(feats, lengths, self.geometry)  # (B, T_pad, E)
        return self.forward_padded(padded.transpose(1, 2), valid)

    def forward_padded(self, x: Tensor, lengths: Sequence[int]) -> CTCHeadOutputs:
        """Head on a batch that is already padded.

        Args:
            x (Tensor): ``(B, E, T)``.
            lengths (Sequence[int]): Valid rows of each video, ``<= T`` (host integers).

        Returns:
            CTCHeadOutputs: logits ``(T', B, C)``, ``T' = temporal_conv.output_length(T)``.
        """
        out_lengths = self.output_lengths(lengths)
        conv, residuals = self.temporal_conv.forward_with_residuals(x)
        conv = conv.permute(2, 0, 1)  # (T', B, H)
        seq = self.bilstm(conv, out_lengths)  # (T', B, H)
        return CTCHeadOutputs(self.classifier(seq), self.conv_branch_classifier(conv),
                              out_lengths, tuple(residuals))

    def loss(self, outputs: CTCHeadOutputs,
             data_samples: Sequence[ActionDataSample]) -> Dict[str, Tensor]:
        """Losses of a batch, named so that mmengine sums exactly the losses.

        Samples whose output is too short for their glosses (``T' <``
        :func:`min_ctc_input_length`) would give an infinite CTC loss: they are left out
        of both CTC terms (logged with their sample ids) and counted in
        ``ctc_excluded``; the distillation term still sees them.

        Args:
            outputs (CTCHeadOutputs): :meth:`forward`'s result.
            data_samples (Sequence[ActionDataSample]): With data field ``gt_glosses``
                (LongTensor ``(L,)``, on the host) and metainfo ``sample_id``.

        Returns:
            dict[str, Tensor]: ``loss_ctc_seq``, ``loss_ctc_conv``, ``loss_distill``,
            ``loss_lift_update``, ``loss_lift_predict`` (those configured), each already
            weighted, and the log-only ``ctc_excluded``.
        """
        targets = [sample.gt_glosses for sample in data_samples]
        keep = [b for b, (target, length) in enumerate(zip(targets, outputs.lengths))
                if length >= min_ctc_input_length(target.tolist())]
        if len(keep) < len(targets):
            dropped = [(data_samples[b].metainfo.get('sample_id', f'#{b}'),
                        outputs.lengths[b], targets[b].numel())
                       for b in range(len(targets)) if b not in keep]
            print_log('CTC loss leaves out samples too short for their glosses '
                      '(sample id, output frames, glosses): ' + ', '.join(
                          f'{sid} ({t}, {n})' for sid, t, n in dropped),
                      logger='current', level=logging.WARNING)
        losses = {}
        for name, loss_fn, logits in (('loss_ctc_seq', self.loss_ctc_seq, outputs.seq_logits),
                                      ('loss_ctc_conv', self.loss_ctc_conv,
                                       outputs.conv_logits)):
            if loss_fn is not None:
                losses[name] = self._ctc(loss_fn, logits, targets, outputs.lengths, keep)
        if self.loss_distill is not None:
            losses['loss_distill'] = self.loss_distill(outputs.conv_logits,
                                                       outputs.seq_logits, outputs.lengths)
        if self.loss_lift_update is not None:
            losses['loss_lift_update'] = self.loss_lift_update(
                [step.update for step in outputs.lift_residuals])
        if self.loss_lift_predict is not None:
            losses['loss_lift_predict'] = self.loss_lift_predict(
                [step.detail for step in outputs.lift_residuals])
        losses['ctc_excluded'] = torch.tensor(float(len(targets) - len(keep)))
        return losses

    @staticmethod
    def _ctc(loss_fn: nn.Module, logits: Tensor, targets: Sequence[Tensor],
             lengths: Sequence[int], keep: Sequence[int]) -> Tensor:
        if not keep:
            # Nothing to learn from; a zero that keeps the graph (and DDP) whole.
            return logits.sum() * 0.0
        if len(keep) < len(targets):
            logits = logits[:, list(keep)]
            targets = [targets[b] for b in keep]
            lengths = [lengths[b] for b in keep]
        return loss_fn(logits, targets, lengths)


def _build_loss(cfg: Optional[dict]) -> Optional[nn.Module]:
    """The loss of ``cfg``; None for no config or a ``loss_weight`` of 0 (left out)."""
    if not cfg or cfg.get('loss_weight', 1.0) == 0:
        return None
    return MODELS.build(cfg)
