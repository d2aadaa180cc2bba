"""Data transforms of sign videos: loading, temporal rescale, crop, flip, packing.

A training pipeline::

    SignInit -> SignTemporalRescale -> SignDecode -> SignRandomCrop -> SignFlip
    -> PackSignInputs

and an evaluation pipeline::

    SignInit -> SignDecode -> SignResize -> SignCenterCrop -> PackSignInputs

(``SignResize`` is a no-op on prepared data; it states the frame size for inference.)
SlowFastSign's CSL-Daily recipe adds ``SignTopCrop`` after the decoding.
"""
from mmsign.datasets.transforms.formatting import PackSignInputs
from mmsign.datasets.transforms.loading import SignDecode, SignInit
from mmsign.datasets.transforms.processing import SignCenterCrop, SignFlip, SignRandomCrop
from mmsign.datasets.transforms.resize import SignResize
from mmsign.datasets.transforms.temporal import SignTemporalRescale
from mmsign.datasets.transforms.top_crop import SignTopCrop

__all__ = [
    'PackSignInputs', 'SignCenterCrop', 'SignDecode', 'SignFlip', 'SignInit',
    'SignRandomCrop', 'SignResize', 'SignTemporalRescale', 'SignTopCrop'
]
