"""Frames per video: host integers, except while an export traces them."""
from typing import Sequence, Tuple, Union

import torch
from torch import Tensor


def host_lengths(lengths: Sequence[Union[int, Tensor]]) -> Tuple[Union[int, Tensor], ...]:
    """The lengths of a packed batch as host integers.

    While ``torch.onnx.export`` traces a model with ``lengths=[frames.shape[0]]``
    (:mod:`mmsign.apis.onnx_export`), the length is a 0-dim tensor of the graph: it is
    kept as it is, so that the index arithmetic done with it stays in the graph and the
    number of frames stays dynamic. Everywhere else it becomes an ``int``.

    Args:
        lengths (Sequence[int | Tensor]): Frames per video.

    Returns:
        tuple: ``int`` per video (0-dim tensors while tracing).
    """
    if torch.jit.is_tracing():
        return tuple(lengths)
    return tuple(int(n) for n in lengths)


__all__ = ['host_lengths']
