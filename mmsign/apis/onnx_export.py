"""Exporting a recognizer to ONNX: frames in, per-frame log-probabilities out.

The graph takes the frames of one video as the config's test pipeline packs them
(``uint8 [T, 3, H, W]``, any ``T``) and returns ``log_probs`` and ``log_probs_conv``,
``float32 [T', C]`` with ``T' = head.geometry.output_steps(T)`` (``ceil(T / 4)`` for the
recipes' head). Normalisation, the backbone, the edge padding, the temporal conv and the
BiLSTM are in the graph; decoding (CTC greedy or beam search) and the alignment stay
outside, in :mod:`mmsign.apis.onnx_inference`.

:class:`ExportableRecognizer` runs the recognizer's own modules
(``data_preprocessor``'s mean and std, then :meth:`SignRecognizer.extract_feat
<mmsign.models.SignRecognizer.extract_feat>`) on one video, whatever its backbone and
head. Their length bookkeeping (edge padding, output lengths, temporal-window weights,
neighbour frames) is host arithmetic on ``lengths``; here ``lengths`` is
``[frames.shape[0]]``, which the tracer records as a 0-dim tensor of the graph, so the
same arithmetic becomes graph operations and ``T`` stays dynamic
(:func:`mmsign.utils.lengths.host_lengths`). Nothing of a model is restated here: a
new backbone is exportable when its forward keeps to that rule, which the export test
(``tests/apis/test_onnx_export.py``) checks for every tiny synthetic config.
"""
import warnings
from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn


class ExportableRecognizer(nn.Module):
    """A :class:`~mmsign.models.SignRecognizer` as one traceable function of the frames
    of one video.

    Args:
        model (nn.Module): The recognizer (its modules are shared, not copied).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: Tensor) -> Tuple[Tensor, Tensor]:
        """Per-frame log-probabilities of both branches.

        Args:
            frames (Tensor): ``uint8 [T, 3, H, W]`` RGB, from the test pipeline.

        Returns:
            tuple[Tensor, Tensor]: ``log_probs`` (sequence branch) and ``log_probs_conv``,
            each ``float32 [T', C]``.
        """
        preprocessor = self.model.data_preprocessor
        inputs = (frames.float() - preprocessor.mean) / preprocessor.std
        outputs = self.model.extract_feat(inputs, [frames.shape[0]])
        return (outputs.seq_logits[:, 0].float().log_softmax(-1),
                outputs.conv_logits[:, 0].float().log_softmax(-1))


def export_onnx(model: nn.Module, path: str, example: Tensor, opset: int = 17) -> str:
    """Write the recognizer as an ONNX file with a dynamic number of frames.

    Uses the TorchScript-based exporter (``dynamo=False``): it needs no package beyond
    ``onnx``, while the dynamo exporter of torch 2.x also needs ``onnxscript``. Check the
    file against PyTorch on other numbers of frames than ``example``'s
    (:func:`export_difference`; ``tools/deployment/export_onnx.py`` does).

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
        # The tracer warns about the modules' Python checks on the lengths (positive,
        # summing to the frames); they hold for any T (the export is checked on other T).
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        warnings.filterwarnings('ignore', message='.*Converting a tensor to a Python.*')
        # The graph takes one video, so the LSTM's batch-size warning is false; constant
        # folding of the dynamic slices is skipped, which is what a dynamic T needs.
        warnings.filterwarnings('ignore', message='.*batch_size other than 1.*')
        warnings.filterwarnings('ignore', message='.*Constant folding.*')
        torch.onnx.export(
            wrapper, (example, ), path, input_names=['frames'],
            output_names=['log_probs', 'log_probs_conv'],
            dynamic_axes={'frames': {0: 'frames'}, 'log_probs': {0: 'steps'},
                          'log_probs_conv': {0: 'steps'}},
            opset_version=opset, dynamo=False)
    return path


def export_difference(log_probs: Dict[str, np.ndarray], expected: Sequence[Tensor]) -> float:
    """Largest difference between the exported graph's outputs and PyTorch's.

    Args:
        log_probs (dict): ``log_probs`` and ``log_probs_conv`` of the graph (numpy
            ``[T', C]`` each, :meth:`OnnxRecognizer.log_probs
            <mmsign.apis.OnnxRecognizer.log_probs>`).
        expected (Sequence[Tensor]): :class:`ExportableRecognizer`'s outputs on the same
            frames.

    Returns:
        float: ``max |graph - PyTorch|`` over both outputs; ``inf`` when their shapes
        differ (e.g. a graph that froze the number of frames).
    """
    worst = 0.0
    for name, reference in zip(('log_probs', 'log_probs_conv'), expected):
        got = torch.from_numpy(np.asarray(log_probs[name]))
        if got.shape != reference.shape:
            return float('inf')
        worst = max(worst, float((got - reference).abs().max()))
    return worst


__all__ = ['ExportableRecognizer', 'export_difference', 'export_onnx']
