"""SignRecognizer: packed frames -> backbone -> CTC head -> losses or gloss strings."""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from mmsign.datasets.vocabulary import GlossVocabulary, VocabLike, as_vocabulary
from mmsign.models.heads.ctc_head import CTCHeadOutputs
from mmsign.models.heads.edge_padding import (
    PaddingGeometry,
    edge_pad_indices,
    released_edge_padding,
    released_padded_length,
)
from mmsign.utils.ctc import ctc_forced_alignment, gloss_timestamps

PADDING_MODES = ('features', 'frames')


@MODELS.register_module()
class SignRecognizer(BaseModel):
    """Continuous sign language recognizer trained with CTC.

    ``padding_mode`` decides where the released temporal edge padding (spec section 4)
    is applied:

    - ``'features'`` (default): the backbone sees only the real frames, packed; the
      head pads the per-frame features. Cheapest.
    - ``'frames'``: every video is padded to the batch's padded length before the
      backbone, exactly as the released code does, so that released checkpoints give
      bit-comparable outputs. The backbone's temporal window then sees the padding
      frames themselves, so a backbone ``temporal_edge`` other than ``'zeros'`` is
      switched to ``'zeros'``. A frame-wise backbone (``frame_wise = True``, the 2-D
      ResNet of VAC and TLP) sees each video's own padded frames only, and the batch
      padding beyond them gets zero features, as the released VAC code does.

    Args:
        backbone (dict): Backbone config; its module takes ``(frames (N, 3, H, W),
            lengths)`` and returns ``(N, E)`` with ``out_channels = E``.
        head (dict): :class:`SignCTCHead` config; ``in_channels`` and ``num_classes``
            are filled in from the backbone and the vocabulary when absent.
        vocab (str | Sequence[str] | GlossVocabulary, optional): The gloss vocabulary
            (a ``gloss_vocab.json`` path or the glosses in class order); needed to
            predict gloss strings.
        decoder (dict): Decoder config for :meth:`predict`. Defaults to the released
            beam search (``CTCBeamSearchDecoder``, width 10).
        padding_mode (str): ``'features'`` or ``'frames'``. Defaults to ``'features'``.
        timestamps (bool): Make :meth:`predict` also align every decoded gloss to the
            frames (``pred_gloss_frames``, ``pred_gloss_scores``): a Viterbi pass per
            sample and branch, which validation does not need. Defaults to False; set
            ``model.timestamps=True`` for CTM files with real times.
        data_preprocessor (dict, optional): Defaults to ``SignDataPreprocessor``.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 vocab: Optional[VocabLike] = None,
                 decoder: Optional[dict] = None,
                 padding_mode: str = 'features',
                 timestamps: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        # Built from mmaction's registry here: mmengine's BaseModel would look the type up
        # in its own registry, which finds mmsign's types only under default_scope.
        data_preprocessor = MODELS.build(data_preprocessor or dict(type='SignDataPreprocessor'))
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f'padding_mode must be one of {PADDING_MODES}, '
                             f'got {padding_mode!r}')
        self.padding_mode = padding_mode
        self.timestamps = timestamps
        self.vocab: Optional[GlossVocabulary] = None if vocab is None else as_vocabulary(vocab)
        backbone = dict(backbone)
        if padding_mode == 'frames' and backbone.get('temporal_edge', 'zeros') != 'zeros':
            # The padding frames are real backbone inputs now: the temporal window must
            # see them and nothing beyond the padded batch, as in the released code.
            print_log(f"padding_mode='frames': backbone temporal_edge "
                      f"{backbone['temporal_edge']!r} -> 'zeros'", logger='current')
            backbone['temporal_edge'] = 'zeros'
        self.backbone = MODELS.build(backbone)
        head = dict(head)
        head.setdefault('in_channels', self.backbone.out_channels)
        if 'num_classes' not in head:
            if self.vocab is None:
                raise ValueError('set model.vocab (a gloss_vocab.json path or a list of '
                                 'glosses) or model.head.num_classes')
            head['num_classes'] = self.vocab.num_classes
        elif self.vocab is not None and head['num_classes'] != self.vocab.num_classes:
            raise ValueError(f'head.num_classes={head["num_classes"]} but the vocabulary '
                             f'has {len(self.vocab)} glosses + blank = '
                             f'{self.vocab.num_classes} classes')
        self.head = MODELS.build(head)
        self.decoder = MODELS.build(decoder or dict(type='CTCBeamSearchDecoder'))

    def extract_feat(self, inputs: Tensor, lengths: Sequence[int]) -> CTCHeadOutputs:
        """Backbone and head on a packed batch.

        Args:
            inputs (Tensor): ``(sum(lengths), 3, H, W)`` normalised frames.
            lengths (Sequence[int]): Frames of each video (host integers).

        Returns:
            CTCHeadOutputs: Logits ``(T', B, C)`` of both branches and ``T'_b``.
        """
        if self.padding_mode == 'features':
            return self.head(self.backbone(inputs, lengths), lengths)
        # The head's temporal conv sizes the padding.
        if getattr(self.backbone, 'frame_wise', False):
            return self._frame_wise_padded(inputs, lengths, self.head.geometry)
        frames, valid = released_edge_padding(inputs, lengths, self.head.geometry)
        batch, total = frames.shape[:2]
        feats = self.backbone(frames.flatten(0, 1), [total] * batch)  # (B * T_pad, E)
        return self.head.forward_padded(feats.view(batch, total, -1).transpose(1, 2), valid)

    def _frame_wise_padded(self, inputs: Tensor, lengths: Sequence[int],
                           geometry: PaddingGeometry) -> CTCHeadOutputs:
        """Each video's own edge-padded frames through the backbone (one packed batch),
        zero features for the batch padding beyond them (the released VAC / TLP)."""
        valid = [released_padded_length(n, geometry) for n in lengths]
        index, start = [], 0
        for n, padded in zip(lengths, valid):
            index.append(edge_pad_indices([n], padded, geometry.left_pad) + start)
            start += n
        frames = inputs.index_select(0, torch.cat(index).to(inputs.device))
        feats = self.backbone(frames, valid)                         # (sum(valid), E)
        if len(valid) == 1:  # no split: an exported graph keeps the length dynamic
            return self.head.forward_padded(feats.t().unsqueeze(0), valid)
        padded = pad_sequence(feats.split(valid), batch_first=True)  # (B, T_pad, E)
        return self.head.forward_padded(padded.transpose(1, 2), valid)

    def forward(self,
                inputs: Tensor,
                lengths: Sequence[int],
                data_samples: Optional[List[ActionDataSample]] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], List[ActionDataSample],
                                               CTCHeadOutputs]:
        """Run in one of mmengine's modes.

        Args:
            inputs (Tensor): ``(sum(lengths), 3, H, W)`` from :class:`SignDataPreprocessor`.
            lengths (Sequence[int]): Frames of each video.
            data_samples (list[ActionDataSample], optional): Needed for ``'loss'`` and
                ``'predict'``.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'``.

        Returns:
            dict | list | CTCHeadOutputs: losses, data samples with predictions, or the
            raw head outputs.
        """
        if mode == 'loss':
            return self.loss(inputs, lengths, data_samples)
        if mode == 'predict':
            return self.predict(inputs, lengths, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs, lengths)
        raise RuntimeError(f'invalid mode {mode!r}: use loss, predict or tensor')

    def loss(self, inputs: Tensor, lengths: Sequence[int],
             data_samples: List[ActionDataSample]) -> Dict[str, Tensor]:
        """Losses of a batch; see :meth:`SignCTCHead.loss` for the keys."""
        return self.head.loss(self.extract_feat(inputs, lengths), data_samples)

    def predict(self, inputs: Tensor, lengths: Sequence[int],
                data_samples: List[ActionDataSample]) -> List[ActionDataSample]:
        """Decode both branches into gloss strings.

        Writes the data fields ``pred_glosses`` (sequence branch) and
        ``pred_glosses_conv`` (conv branch), lists of gloss strings, into each sample.
        With ``timestamps=True`` also where each gloss is
        (:func:`~mmsign.models.decoders.ctc_forced_alignment`): ``pred_gloss_frames`` /
        ``pred_gloss_frames_conv``, one ``[first, stop)`` pair of input frames per gloss,
        and ``pred_gloss_scores`` / ``pred_gloss_scores_conv``, the confidence of each
        gloss.

        Returns:
            list[ActionDataSample]: ``data_samples``, updated.
        """
        if self.vocab is None:
            raise ValueError('predicting gloss strings needs model.vocab (a '
                             'gloss_vocab.json path or a list of glosses)')
        outputs = self.extract_feat(inputs, lengths)
        branches = (('', outputs.seq_logits), ('_conv', outputs.conv_logits))
        for suffix, logits in branches:
            log_probs = logits.float().log_softmax(-1)
            decoded = self.decoder(log_probs, outputs.lengths)
            for b, (sample, ids) in enumerate(zip(data_samples, decoded)):
                sample.set_field(self.vocab.decode(ids), 'pred_glosses' + suffix)
                if self.timestamps:
                    self._align(sample, suffix, log_probs[:outputs.lengths[b], b], ids,
                                lengths[b])
        return data_samples

    def _align(self, sample: ActionDataSample, suffix: str, log_probs: Tensor,
               ids: List[int], num_frames: int) -> None:
        """Write the frames and confidence of each decoded gloss into ``sample``."""
        segments = ctc_forced_alignment(log_probs, ids, blank=getattr(self.decoder, 'blank', 0))
        stamps = gloss_timestamps(segments, [''] * len(ids), self.head.geometry.stride,
                                  num_frames, None)
        sample.set_field([[s['start_frame'], s['end_frame']] for s in stamps],
                         'pred_gloss_frames' + suffix)
        sample.set_field([s['confidence'] for s in stamps], 'pred_gloss_scores' + suffix)
