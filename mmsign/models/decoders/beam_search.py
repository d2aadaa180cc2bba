"""CTC prefix beam search through flashlight-text or ctcdecode, optionally with a gloss LM."""
import importlib
import os.path as osp
from typing import Any, List, Optional, Sequence, Tuple

import torch
from mmaction.registry import MODELS
from torch import Tensor

from mmsign.datasets.vocabulary import VocabLike, as_vocabulary
from mmsign.models.decoders.base import CTCDecoder
from mmsign.models.decoders.lm_scorer import (
    ENGINES,
    LN10,
    build_engine,
    make_scorer_class,
)
from mmsign.utils.ctc import collapse_ctc

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
    """Beam search over CTC labellings, optionally with a gloss n-gram language model.

    The defaults are the released AdaptSign configuration (ctcdecode's defaults with a
    beam of 10, no language model): keep 10 hypotheses, extend each only by the 40 most
    likely classes of the frame, merge hypotheses with equal labellings by adding their
    probabilities.

    With ``lm`` (an ARPA file, e.g. from ``tools/data/build_gloss_lm.py``), each
    hypothesis scores ``log P_ctc + lm_weight * ln P_lm + word_score * #glosses``
    (shallow fusion, ``</s>`` included; natural logarithms, whatever the engine), through
    flashlight-text's decoder: see :mod:`mmsign.models.decoders.lm_scorer`. A
    ``word_score`` alone (no ``lm``) is a bonus per gloss, against deletions.
    ``tools/analysis/tune_decoder.py`` chooses ``lm_weight``, ``word_score`` and the beam
    on the dev split.

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
        lm (str, optional): ARPA file of a gloss n-gram model (flashlight backend
            only). Defaults to None: no language model.
        lm_weight (float): Weight of the natural-log LM probability. Defaults to 0.
        word_score (float): Score added per emitted gloss. Defaults to 0.
        vocab (str | list[str], optional): The model's vocabulary (``gloss_vocab.json``
            or the glosses in class order), which maps class ids to the LM's glosses;
            required with ``lm``.
        lm_engine (str): ``'kenlm'`` (flashlight's KenLM binding reads the file) or
            ``'python'`` (mmsign's ARPA reader). Defaults to ``'kenlm'``.
    """

    def __init__(self,
                 beam_width: int = 10,
                 top_k: int = 40,
                 backend: str = 'flashlight',
                 beam_threshold: float = 1e30,
                 num_processes: int = 4,
                 blank: int = 0,
                 merge_repeated_glosses: bool = True,
                 lm: Optional[str] = None,
                 lm_weight: float = 0.0,
                 word_score: float = 0.0,
                 vocab: Optional[VocabLike] = None,
                 lm_engine: str = 'kenlm') -> None:
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
        self.lm, self.lm_weight, self.word_score = lm, float(lm_weight), float(word_score)
        self.lm_engine = lm_engine
        self._lm_tokens: Optional[List[str]] = None
        self._scorer = self._build_scorer(vocab)

    def __getstate__(self) -> dict:
        # The flashlight objects neither pickle nor deep-copy (mmengine copies models);
        # a copy rebuilds them from the configuration.
        state = dict(self.__dict__)
        state.pop('_fl', None)
        state['_scorer'] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.backend == 'flashlight':
            self._fl = _import_backend(self.backend, 'flashlight.lib.text.decoder')
        self._scorer = self._build_scorer(self._lm_tokens)

    def _build_scorer(self, vocab: Optional[VocabLike]) -> Optional[Tuple[Any, float]]:
        """flashlight LM of the fusion term and flashlight's ``lm_weight`` for it, or None
        for plain CTC beam search."""
        if self.lm is None:
            if self.lm_weight != 0.0:
                raise ValueError(f'lm_weight={self.lm_weight} without lm: set lm to an '
                                 'ARPA file (tools/data/build_gloss_lm.py) or lm_weight=0')
            if self.word_score == 0.0:
                return None
        if self.backend != 'flashlight':
            raise ValueError("lm and word_score need backend='flashlight'; ctcdecode's LM "
                             'scores characters of words, not glosses')
        engine = None
        if self.lm is not None:
            if self.lm_engine not in ENGINES:
                raise ValueError(f'unknown lm_engine {self.lm_engine!r}: choose one of '
                                 f'{ENGINES}')
            if not osp.isfile(self.lm):
                raise FileNotFoundError(
                    f'language model not found: {self.lm}; build one with '
                    'tools/data/build_gloss_lm.py or set lm=None')
            if vocab is None:
                raise ValueError('lm needs vocab (the gloss_vocab.json of the model, or its '
                                 'glosses in class order) to map class ids to glosses')
            if self._lm_tokens is None:
                self._lm_tokens = ['<blank>', *as_vocabulary(vocab).glosses]
            engine = build_engine(self.lm_engine, self.lm, self._lm_tokens)
            if self.lm_engine == 'kenlm' and self.word_score == 0.0:
                # Fast path, 20 times faster on PHOENIX14's vocabulary: KenLM scores in
                # C++ and flashlight weights it (log10 -> natural log); the Python scorer
                # is needed only for a word score. Same results (tested).
                return engine.kenlm, self.lm_weight * LN10
        return make_scorer_class(self._fl)(engine, self.lm_weight, self.word_score), 1.0

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
            lm_weight=0.0 if self._scorer is None else self._scorer[1],
            sil_score=0.0,
            log_add=True,
            criterion_type=fl.CriterionType.CTC)
        if self._scorer is None:
            lm = fl.ZeroLM()
        else:
            if self._lm_tokens is not None and len(self._lm_tokens) != num_classes:
                raise ValueError(f'the decoder vocab has {len(self._lm_tokens)} classes, the '
                                 f'log-probabilities {num_classes}: give the model\'s vocab')
            lm = self._scorer[0]
        # Silence is the blank: with sil_score 0 it adds nothing to any score.
        decoder = fl.LexiconFreeDecoder(options, lm, self.blank, self.blank, [])
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
