"""Recognizers: the whole model from frames to glosses."""
from mmsign.models.recognizers.sign_recognizer import SignRecognizer

__all__ = ['SignRecognizer']
