"""What recognising one video gives (PyTorch or onnxruntime alike); no torch import."""
from dataclasses import dataclass, field
from typing import Any, Dict, List


@dataclass
class RecognitionResult:
    """The glosses recognised in one video.

    Attributes:
        glosses (list[str]): Glosses of the sequence (BiLSTM) branch: the model's answer.
        glosses_conv (list[str]): Glosses of the convolution branch.
        logits (Tensor | np.ndarray): ``(T', C)`` float32 class scores of the sequence
            branch, on the CPU (a tensor from :func:`~mmsign.apis.inference_recognizer`,
            a numpy array of log-probabilities from :class:`~mmsign.apis.OnnxRecognizer`);
            class 0 is the blank, class ``i`` is ``vocab.glosses[i - 1]``. One row per
            ``head.geometry.stride`` input frames (``T' = ceil(T / 4)`` for the recipes).
        logits_conv (Tensor | np.ndarray): ``(T', C)`` of the convolution branch.
        num_frames (int): Frames given to the model (after resampling).
        video (dict): The input and what was done to it (:meth:`VideoFrames.describe`).
        timing (dict[str, float]): Seconds spent reading (``read``), in the pipeline
            (``pipeline``), in the model (``model``), decoding and aligning (``decode``)
            and in all (``total``).
        timestamps (list[dict]): One entry per gloss of ``glosses``: ``gloss``,
            ``start_frame`` / ``end_frame`` (input frames, end exclusive), ``start`` /
            ``end`` in seconds at the video's frame rate (None when it is unknown: an
            array or frame folder without ``source_fps``) and ``confidence`` (the mean
            posterior of the gloss over its aligned frames); see
            :mod:`mmsign.utils.ctc`.
        timestamps_conv (list[dict]): The same for ``glosses_conv``.
        windows (int): Windows the video was run in (1: one pass).
    """
    glosses: List[str]
    glosses_conv: List[str]
    logits: Any
    logits_conv: Any
    num_frames: int
    video: Dict[str, Any]
    timing: Dict[str, float]
    timestamps: List[Dict[str, Any]] = field(default_factory=list)
    timestamps_conv: List[Dict[str, Any]] = field(default_factory=list)
    windows: int = 1

    def to_dict(self, with_logits: bool = False) -> Dict[str, Any]:
        """A JSON-friendly dict; ``with_logits`` adds both logit matrices as lists."""
        out = dict(glosses=self.glosses, glosses_conv=self.glosses_conv,
                   timestamps=self.timestamps, timestamps_conv=self.timestamps_conv,
                   num_frames=self.num_frames, output_frames=int(self.logits.shape[0]),
                   windows=self.windows, video=self.video, timing=self.timing)
        if with_logits:
            out['logits'] = self.logits.tolist()
            out['logits_conv'] = self.logits_conv.tolist()
        return out


__all__ = ['RecognitionResult']
