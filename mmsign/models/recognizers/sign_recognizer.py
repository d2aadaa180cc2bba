"""SignRecognizer: packed frames -> backbone -> CTC head -> losses or gloss strings."""
import logging
from typing import Dict, List, NamedTuple, Optional, Sequence, Union

import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from torch import Tensor

from mmsign.datasets.vocabulary import GlossVocabulary, VocabLike, as_vocabulary
from mmsign.engine.nonfinite import RunningStatsSnapshot
from mmsign.models.heads.ctc_head import CTCHeadOutputs
from mmsign.models.heads.edge_padding import released_edge_padding

PADDING_MODES = ('features', 'frames')


def skips_on_device(optim_wrapper: OptimWrapper) -> bool:
    """Whether a step with a non-finite loss can be skipped without reading the loss.

    True for fused optimisers (``fused=True``: their update kernel takes a device-side
    ``found_inf`` flag and leaves parameters and state untouched when it is set), unless a
    grad scaler drives them (it sets that flag itself) or gradients are accumulated over
    several batches (the skipped batch's gradients must then be dropped, which needs the
    flag on the host).
    """
    groups = optim_wrapper.optimizer.param_groups
    scaler = getattr(optim_wrapper, 'use_loss_scaler',
                     isinstance(optim_wrapper, AmpOptimWrapper))
    return (all(group.get('fused') for group in groups) and not scaler
            and getattr(optim_wrapper, '_accumulative_counts', 1) == 1)


class _SkipReport(NamedTuple):
    """A train step's skip flag and log values on their way to the host."""
    values: Tensor  # [skipped, *device_values] on the host once ``done``
    keys: List[str]
    device_keys: List[str]
    host_values: Dict[str, float]
    sample_ids: List[str]
    done: Optional['torch.cuda.Event']

    @classmethod
    def start(cls, skipped: Tensor, log_vars: Dict[str, Tensor],
              sample_ids: List[str]) -> '_SkipReport':
        """Start copying ``skipped`` and the log values to the host without waiting."""
        device_keys = [k for k, v in log_vars.items() if v.device == skipped.device]
        host_values = {k: float(v) for k, v in log_vars.items() if v.device.type == 'cpu'
                       and k not in device_keys}
        stacked = torch.stack([v.detach().float().reshape(())
                               for v in [skipped] + [log_vars[k] for k in device_keys]])
        if stacked.device.type != 'cuda':
            return cls(stacked.cpu(), list(log_vars), device_keys, host_values, sample_ids,
                       None)
        values = torch.empty(stacked.shape, dtype=stacked.dtype, pin_memory=True)
        values.copy_(stacked, non_blocking=True)
        done = torch.cuda.Event()
        done.record()
        return cls(values, list(log_vars), device_keys, host_values, sample_ids, done)

    def ready(self) -> bool:
        return self.done is None or self.done.query()

    def log_values(self) -> Dict[str, float]:
        values = {**dict(zip(self.device_keys, self.values[1:].tolist())), **self.host_values}
        return {key: values[key] for key in self.keys}


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
      switched to ``'zeros'``.

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
        data_preprocessor (dict, optional): Defaults to ``SignDataPreprocessor``.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 vocab: Optional[VocabLike] = None,
                 decoder: Optional[dict] = None,
                 padding_mode: str = 'features',
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
        self._skip_reports: List[_SkipReport] = []  # see train_step

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
        # The head's temporal conv sizes the padding (None: the released K5 P2 K5 P2).
        frames, valid = released_edge_padding(inputs, lengths,
                                              getattr(self.head, 'geometry', None))
        batch, total = frames.shape[:2]
        feats = self.backbone(frames.flatten(0, 1), [total] * batch)  # (B * T_pad, E)
        return self.head.forward_padded(feats.view(batch, total, -1).transpose(1, 2), valid)

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

        Returns:
            list[ActionDataSample]: ``data_samples``, updated.
        """
        if self.vocab is None:
            raise ValueError('predicting gloss strings needs model.vocab (a '
                             'gloss_vocab.json path or a list of glosses)')
        outputs = self.extract_feat(inputs, lengths)
        seq = self.decoder(outputs.seq_logits.float().log_softmax(-1), outputs.lengths)
        conv = self.decoder(outputs.conv_logits.float().log_softmax(-1), outputs.lengths)
        for sample, seq_ids, conv_ids in zip(data_samples, seq, conv):
            sample.pred_glosses = self.vocab.decode(seq_ids)
            sample.pred_glosses_conv = self.vocab.decode(conv_ids)
        return data_samples

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """One optimisation step that skips batches with a non-finite loss.

        A NaN or infinite total loss (after the CTC loss has already left out videos
        too short for their glosses) would corrupt the weights: the step is skipped (no
        update, optimiser state untouched), the gradients are cleared, the BatchNorm
        running statistics the bad forward pass moved are put back, and the batch's
        sample ids are logged. ``skipped_step`` (1 or 0) is logged.

        With a fused optimiser (:func:`skips_on_device`; ``SignAmpOptimWrapper`` makes
        Adam fused on GPUs) the decision stays on the device: the optimiser's kernel
        receives the flag, nothing waits for the GPU, ``skipped_step`` is a device
        tensor, and the warning with the sample ids is logged by a later step once the
        flag has reached the host. Otherwise the loss is read on the host (one
        device-to-host synchronisation per step).

        Args:
            data (dict): A collated batch.
            optim_wrapper (OptimWrapper): Updates the parameters.

        Returns:
            dict[str, Tensor]: Values to log.
        """
        self.report_skipped_steps()
        stats = RunningStatsSnapshot(self)
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        parsed_loss, log_vars = self.parse_losses(losses)
        ids = [str(s.metainfo.get('sample_id', '?')) for s in data['data_samples'] or []]
        if skips_on_device(optim_wrapper):
            skipped = (~torch.isfinite(parsed_loss.detach())).float()
            optimizer = optim_wrapper.optimizer
            optimizer.found_inf = skipped  # read by the fused update kernel
            try:
                optim_wrapper.update_params(parsed_loss)
            finally:
                del optimizer.found_inf
            stats.restore(where=skipped > 0)
            self._skip_reports.append(_SkipReport.start(skipped, log_vars, ids))
            self.report_skipped_steps()
        else:
            finite = bool(torch.isfinite(parsed_loss))
            if finite:
                optim_wrapper.update_params(parsed_loss)
            else:
                optim_wrapper.zero_grad()
                stats.restore()
                self._warn_skipped({k: v.item() for k, v in log_vars.items()}, ids)
            skipped = torch.tensor(0.0 if finite else 1.0)
        log_vars['skipped_step'] = skipped
        return log_vars

    def report_skipped_steps(self) -> None:
        """Log the device-side skips (see :meth:`train_step`) whose flags have reached the
        host; never waits for the device."""
        reports = self._skip_reports
        while reports and reports[0].ready():
            report = reports.pop(0)
            if report.values[0] > 0:
                self._warn_skipped(report.log_values(), report.sample_ids)

    @staticmethod
    def _warn_skipped(log_values: Dict[str, float], sample_ids: List[str]) -> None:
        values = ', '.join(f'{k}={v:.4g}' for k, v in log_values.items())
        print_log(f'non-finite loss ({values}): optimiser step skipped for samples '
                  f'{sample_ids}', logger='current', level=logging.WARNING)
