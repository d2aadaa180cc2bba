"""High-level APIs: build a recognizer and run it on a video."""
from mmsign.apis.inference import RecognitionResult, inference_recognizer, init_recognizer
from mmsign.apis.video_input import (
    RECIPE_FPS,
    RECIPE_FRAME_SIZE,
    VideoFrames,
    read_video,
    resample_indices,
)

__all__ = [
    'RECIPE_FPS', 'RECIPE_FRAME_SIZE', 'RecognitionResult', 'VideoFrames',
    'inference_recognizer', 'init_recognizer', 'read_video', 'resample_indices'
]
