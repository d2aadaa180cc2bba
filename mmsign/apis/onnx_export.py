"""Exporting an AdaptSign recognizer to ONNX: frames in, per-frame log-probabilities out.

The graph takes the frames of one video as the config's test pipeline packs them
(``uint8 [T, 3, H, W]``, any ``T``) and returns ``log_probs`` and ``log_probs_conv``,
``float32 [ceil(T / 4), C]`` for the recipes' head. Normalisation, the backbone, the
released edge padding, the temporal conv and the BiLSTM are in the graph; decoding (CTC
greedy or beam search) and the alignment stay outside, in
:mod:`mmsign.apis.onnx_inference`.

The recognizer's own forward builds its temporal-window weights and padding indices on
the host from Python lengths (so that training never waits for the device); traced,
those would be frozen for the export's number of frames. :class:`ExportableRecognizer`
computes them with tensor operations from the frame count instead, and runs the
BiLSTM on the one full-length sequence directly (packing a single full sequence changes
nothing). It reuses the recognizer's modules and weights as they are.
"""
import warnings
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmsign.models.backbones import AdaptSignViTBase
from mmsign.models.heads.edge_padding import EXTRA, LEFT_PAD


def window_weights(num_frames: Tensor, window: int, edge: str) -> Tensor:
    """Temporal-window weights of one video of ``num_frames`` frames, as tensor ops.

    The same values as :func:`mmsign.models.backbones.temporal_window_weights` for one
    video, computed from a 0-dim tensor so that the export keeps ``T`` dynamic.

    Args:
        num_frames (Tensor): 0-dim int64, the frames T.
        window (int): Odd window size W.
        edge (str): ``'zeros'`` or ``'replicate'``.

    Returns:
        Tensor: ``[T, W]`` float32.
    """
    radius = window // 2
    source = torch.arange(num_frames)
    last = num_frames - 1
    columns = []
    for offset in range(-radius, radius + 1):
        frame = source - offset
        inside = ((frame >= 0) & (frame <= last)).to(torch.float32)
        if edge == 'zeros':
            columns.append(inside)
            continue
        uses = torch.zeros_like(inside)
        for other in range(-radius, radius + 1):
            clamped = torch.minimum(torch.clamp(frame + other, min=0), last)
            uses = uses + (clamped == source).to(torch.float32)
        columns.append(uses * inside)
    return torch.stack(columns, dim=1)


class ExportableRecognizer(nn.Module):
    """A :class:`~mmsign.models.SignRecognizer` with an AdaptSign backbone, as one
    traceable function of the frames (``padding_mode='features'``).

    Args:
        model (nn.Module): The recognizer (its modules are shared, not copied).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if not isinstance(model.backbone, AdaptSignViTBase):
            raise TypeError(f'ONNX export supports AdaptSign backbones, not '
                            f'{type(model.backbone).__name__}')
        if getattr(model, 'padding_mode', 'features') != 'features':
            raise ValueError("ONNX export needs padding_mode='features' (the default); "
                             "drop the cfg option model.padding_mode=frames")
        self.backbone = model.backbone
        self.head = model.head
        self.register_buffer('mean', model.data_preprocessor.mean.detach().clone())
        self.register_buffer('std', model.data_preprocessor.std.detach().clone())

    def features(self, x: Tensor) -> Tensor:
        """AdaptSign's forward for one video (``AdaptSignViTBase.forward``, lengths
        ``[T]``): ``[T, 3, H, W]`` normalised -> ``[T, E]``."""
        backbone = self.backbone
        z = backbone.embed(x)
        q = backbone.aggregation.start(z.shape[0])
        for block, aggregation in zip(backbone.blocks, backbone.aggregation.blocks):
            z = block(z)
            q = aggregation(q, z)
        cls = z[:, 0]
        if backbone.temporal is not None:
            count = torch.ones_like(z[:, 0, 0], dtype=torch.int64).sum()
            weights = window_weights(count, backbone.temporal.window, backbone.temporal_edge)
            cls = cls + backbone.temporal(z, weights)
        features = (backbone.ln_post(cls) * backbone.alpha[0]
                    + backbone.ln_post_cls(q) * backbone.alpha[1])
        return features if backbone.proj is None else features @ backbone.proj

    def forward(self, frames: Tensor) -> Tuple[Tensor, Tensor]:
        """Per-frame log-probabilities of both branches.

        Args:
            frames (Tensor): ``uint8 [T, 3, H, W]`` RGB, from the test pipeline.

        Returns:
            tuple[Tensor, Tensor]: ``log_probs`` (BiLSTM branch) and ``log_probs_conv``,
            each ``float32 [T', C]``.
        """
        x = (frames.float() - self.mean) / self.std
        feats = self.features(x)                                     # [T, E]
        count = torch.ones_like(feats[:, 0], dtype=torch.int64).sum()
        # The released edge padding: 6 copies of the first frame, copies of the last
        # up to ceil(T / 4) * 4 + 12 frames.
        padded_length = torch.div(count + 3, 4, rounding_mode='floor') * 4 + EXTRA
        index = torch.minimum(torch.clamp(torch.arange(padded_length) - LEFT_PAD, min=0),
                              count - 1)
        padded = feats.index_select(0, index).t()[None]              # [1, E, T_pad]
        conv = self.head.temporal_conv(padded).permute(2, 0, 1)      # [T', 1, H]
        seq, _ = self.head.bilstm.rnn(conv)
        log_probs = F.log_softmax(self.head.classifier(seq[:, 0]), dim=-1)
        log_probs_conv = F.log_softmax(self.head.classifier(conv[:, 0]), dim=-1)
        return log_probs, log_probs_conv


def export_onnx(model: nn.Module, path: str, example: Tensor, opset: int = 17) -> str:
    """Write the recognizer as an ONNX file with a dynamic number of frames.

    Uses the TorchScript-based exporter (``dynamo=False``): it needs no package beyond
    ``onnx``, while the dynamo exporter of torch 2.x also needs ``onnxscript``.

    Args:
        model (nn.Module): The recognizer, in eval mode, on the CPU.
        path (str): Output ``.onnx`` file.
        example (Tensor): ``uint8 [T, 3, H, W]`` frames to trace with (``T >= 2``).
        opset (int): ONNX opset. Defaults to 17.

    Returns:
        str: ``path``.
    """
    wrapper = ExportableRecognizer(model).eval()
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about the backbone's Python shape checks; they hold for any T
        # (and the export is checked on another T by tools/deployment/export_onnx.py).
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        torch.onnx.export(
            wrapper, (example, ), path, input_names=['frames'],
            output_names=['log_probs', 'log_probs_conv'],
            dynamic_axes={'frames': {0: 'frames'}, 'log_probs': {0: 'steps'},
                          'log_probs_conv': {0: 'steps'}},
            opset_version=opset, dynamo=False)
    return path


__all__ = ['ExportableRecognizer', 'export_onnx', 'window_weights']
