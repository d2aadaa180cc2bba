"""AdaptSign's temporal head: TemporalConv -> BiLSTM, one shared CTC classifier."""
import logging
import math
from typing import Dict, List, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from mmsign.models.heads.edge_padding import Length, PaddingGeometry, released_edge_padding
from mmsign.models.heads.temporal_conv import RELEASED_PATTERN, TemporalConv
from mmsign.models.losses import min_ctc_input_length


class CTCHeadOutputs(NamedTuple):
    """What the head computes for a batch of B videos.

    Attributes:
        seq_logits (Tensor): ``(T', B, C)`` class scores of the BiLSTM branch; rows at
            and beyond ``lengths[b]`` are zero.
        conv_logits (Tensor): ``(T', B, C)`` class scores of the convolution branch.
        lengths (list[int]): Valid rows ``T'_b`` of each video (host integers).
    """
    seq_logits: Tensor
    conv_logits: Tensor
    lengths: List[int]


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


def _host_index(index: Sequence[int], device: torch.device) -> Tensor:
    """An index tensor made on the host and copied to ``device`` without waiting."""
    index = torch.as_tensor(index, dtype=torch.long)
    if device.type == 'cuda':
        index = index.pin_memory()
    return index.to(device, non_blocking=True)


@MODELS.register_module()
class SignCTCHead(BaseModule):
    """CTC head of AdaptSign (spec section 3) with its losses (section 5).

    Per-frame features -> released edge padding -> TemporalConv -> conv logits, and
    -> BiLSTM -> sequence logits; both through one shared :class:`NormLinear`.

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
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 2:
            raise ValueError(f'num_classes counts the blank and at least one gloss, '
                             f'got {num_classes}')
        self.num_classes = num_classes
        self.temporal_conv = TemporalConv(in_channels, hidden_channels, conv_pattern)
        self.bilstm = BiLSTM(hidden_channels, lstm_layers, lstm_dropout)
        self.classifier = NormLinear(hidden_channels, num_classes)
        self.loss_ctc_seq = MODELS.build(loss_ctc_seq or dict(type='SignCTCLoss'))
        self.loss_ctc_conv = MODELS.build(loss_ctc_conv or dict(type='SignCTCLoss'))
        self.loss_distill = MODELS.build(loss_distill) if loss_distill else None

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
        conv = self.temporal_conv(x).permute(2, 0, 1)  # (T', B, H)
        seq = self.bilstm(conv, out_lengths)  # (T', B, H)
        return CTCHeadOutputs(self.classifier(seq), self.classifier(conv), out_lengths)

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
            dict[str, Tensor]: ``loss_ctc_seq``, ``loss_ctc_conv``, ``loss_distill`` (when
            configured), each already weighted, and the log-only ``ctc_excluded``.
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
        losses = {
            'loss_ctc_seq': self._ctc(self.loss_ctc_seq, outputs.seq_logits, targets,
                                      outputs.lengths, keep),
            'loss_ctc_conv': self._ctc(self.loss_ctc_conv, outputs.conv_logits, targets,
                                       outputs.lengths, keep),
        }
        if self.loss_distill is not None:
            losses['loss_distill'] = self.loss_distill(outputs.conv_logits,
                                                       outputs.seq_logits, outputs.lengths)
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
