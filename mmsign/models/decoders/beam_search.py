"""CTC prefix beam search through flashlight-text or ctcdecode."""
import importlib
from typing import List, Sequence

import torch
from mmaction.registry import MODELS
from torch import Tensor

from mmsign.models.decoders.base import CTCDecoder, collapse_ctc

BACKENDS = {'flashlight': 'flashlight-text', 'ctcdecode': 'ctcdecode'}


def _import_backend(backend: str, module: str):
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"CTCBeamSearchDecoder backend '{backend}' needs the package "
            f"'{BACKENDS[backend]}', which is not installed: `pip install "
            f"{BACKENDS[backend]}`, or choose another backend (flashlight, ctcdecode) or "
            "type='CTCGreedyDecoder' in the model's decoder config") from e


@MODELS.register_module()
class CTCBeamSearchDecoder(CTCDecoder):
    """Beam search over CTC labellings without a language model.

    The defaults are the released AdaptSign configuration (ctcdecode's defaults with a
    beam of 10): keep 10 hypotheses, extend each only by the 40 most likely classes of
    the frame, merge hypotheses with equal labellings by adding their probabilities.

    Backends:

    - ``'flashlight'`` (default): flashlight-text's ``LexiconFreeDecoder`` with ``ZeroLM``
      and ``log_add``; its frame-level tokens are collapsed afterwards.
    - ``'ctcdecode'``: ``ctcdecode.CTCBeamDecoder`` (parlance), when installed.

    Args:
        beam_width (int): Hypotheses kept per frame. Defaults to 10.
        top_k (int): Classes tried per frame and hypothesis. Defaults to 40.
        backend (str): ``'flashlight'`` or ``'ctcdecode'``. Defaults to ``'flashlight'``.
        beam_threshold (float): flashlight only: drop hypotheses scoring this far (in
            log-probability) below the best. The default keeps all, as ctcdecode does.
        num_processes (int): ctcdecode only: worker threads. Defaults to 4.
        blank (int): Blank id. Defaults to 0.
        merge_repeated_glosses (bool): See :class:`CTCDecoder`. Defaults to True.
    """

    def __init__(self,
                 beam_width: int = 10,
                 top_k: int = 40,
                 backend: str = 'flashlight',
                 beam_threshold: float = 1e30,
                 num_processes: int = 4,
                 blank: int = 0,
                 merge_repeated_glosses: bool = True) -> None:
        super().__init__(blank, merge_repeated_glosses)
        if backend not in BACKENDS:
            raise ValueError(f'unknown beam search backend {backend!r}: choose one of '
                             f'{sorted(BACKENDS)}')
        if beam_width < 1 or top_k < 1:
            raise ValueError(f'beam_width and top_k must be positive, got {beam_width}, '
                             f'{top_k}')
        self.beam_width = beam_width
        self.top_k = top_k
        self.backend = backend
        self.beam_threshold = beam_threshold
        self.num_processes = num_processes
        # Fail at build time, not after an epoch of training.
        if backend == 'flashlight':
            self._fl = _import_backend(backend, 'flashlight.lib.text.decoder')
        else:
            self._ctcdecode = _import_backend(backend, 'ctcdecode')
        self._ctcdecode_decoders: dict = {}

    def decode(self, log_probs: Tensor, lengths: Sequence[int]) -> List[List[int]]:
        """Decode a batch; see :meth:`CTCDecoder.__call__`."""
        # (B, T, C) float32 on the host: both backends read host memory.
        emissions = log_probs.detach().transpose(0, 1).float().cpu().contiguous()
        if self.backend == 'flashlight':
            return self._decode_flashlight(emissions, lengths)
        return self._decode_ctcdecode(emissions, lengths)

    def _decode_flashlight(self, emissions: Tensor, lengths: Sequence[int]) -> List[List[int]]:
        fl = self._fl
        num_classes = emissions.shape[2]
        options = fl.LexiconFreeDecoderOptions(
            beam_size=self.beam_width,
            beam_size_token=min(self.top_k, num_classes),
            beam_threshold=self.beam_threshold,
            lm_weight=0.0,
            sil_score=0.0,
            log_add=True,
            criterion_type=fl.CriterionType.CTC)
        # Silence is the blank: with sil_score 0 it adds nothing to any score.
        decoder = fl.LexiconFreeDecoder(options, fl.ZeroLM(), self.blank, self.blank, [])
        row_bytes = emissions.stride(0) * emissions.element_size()
        hypotheses = []
        for b, length in enumerate(lengths):
            results = decoder.decode(emissions.data_ptr() + b * row_bytes, length,
                                     num_classes)
            # tokens has one extra (silence) token at each end; the collapse removes them.
            hypotheses.append(collapse_ctc(results[0].tokens, self.blank) if results else [])
        return hypotheses

    def _decode_ctcdecode(self, emissions: Tensor, lengths: Sequence[int]) -> List[List[int]]:
        num_classes = emissions.shape[2]
        decoder = self._ctcdecode_decoders.get(num_classes)
        if decoder is None:
            decoder = self._ctcdecode.CTCBeamDecoder(
                [chr(0x4e00 + i) for i in range(num_classes)],  # labels are never read
                beam_width=self.beam_width,
                cutoff_top_n=self.top_k,
                cutoff_prob=1.0,
                num_processes=self.num_processes,
                blank_id=self.blank,
                log_probs_input=True)
            self._ctcdecode_decoders[num_classes] = decoder
        beams, _, _, out_lengths = decoder.decode(emissions,
                                                  torch.as_tensor(lengths, dtype=torch.int32))
        return [beams[b, 0, :out_lengths[b, 0]].tolist() for b in range(len(lengths))]
