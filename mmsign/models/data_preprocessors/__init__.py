"""Data preprocessors: normalise and pack the frames of a batch of videos."""
from mmsign.models.data_preprocessors.sign_data_preprocessor import SignDataPreprocessor

__all__ = ['SignDataPreprocessor']
