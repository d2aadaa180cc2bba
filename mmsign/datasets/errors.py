"""Errors raised while reading annotations and loading sign videos.

Both carry the sample id and the offending path as attributes, so a caller can decide
per sample whether to stop or to skip it (and log it) without parsing messages.
"""
from typing import Optional


class SignDataError(Exception):
    """Base class of the data errors of mmsign.

    Args:
        message (str): What went wrong and how to fix it.
        sample_id (str, optional): Id of the sample concerned.
        path (str, optional): The file or folder concerned.
    """

    def __init__(self, message: str, sample_id: Optional[str] = None,
                 path: Optional[str] = None) -> None:
        super().__init__(message)
        self.sample_id = sample_id
        self.path = path

    def __reduce__(self):
        # Keep the attributes when pickled (multiprocessing pools). A DataLoader worker
        # re-creates the error from its message instead: same type, same text.
        return type(self), (str(self), self.sample_id, self.path)


class SignAnnotationError(SignDataError, ValueError):
    """An annotation file is missing, malformed, or a sample's label is unusable."""


class SignLoadError(SignDataError, RuntimeError):
    """A sample's frames or video cannot be read: missing, empty, truncated, unreadable."""
