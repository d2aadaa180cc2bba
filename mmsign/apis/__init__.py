"""High-level APIs: build a recognizer and run it on a video of any length."""
from mmsign.apis.inference import RecognitionResult, inference_recognizer, init_recognizer
from mmsign.apis.long_video import (
    DEFAULT_OVERLAP,
    DEFAULT_WINDOW,
    STITCH_MODES,
    plan_windows,
    windowed_logits,
)
from mmsign.apis.onnx_export import ExportableRecognizer, export_onnx
from mmsign.apis.onnx_inference import OnnxRecognizer, write_onnx_metadata
from mmsign.apis.pipeline import (
    FramePipeline,
    build_test_pipeline,
    inference_steps,
    pipeline_frame_size,
)
from mmsign.apis.video_input import (
    RECIPE_FPS,
    RECIPE_FRAME_SIZE,
    VideoFrames,
    VideoSource,
    read_video,
    resample_indices,
)

__all__ = [
    'DEFAULT_OVERLAP', 'DEFAULT_WINDOW', 'ExportableRecognizer', 'FramePipeline',
    'OnnxRecognizer', 'RECIPE_FPS', 'RECIPE_FRAME_SIZE',
    'RecognitionResult', 'STITCH_MODES', 'VideoFrames', 'VideoSource', 'build_test_pipeline',
    'inference_recognizer', 'inference_steps', 'init_recognizer', 'pipeline_frame_size',
    'plan_windows', 'read_video', 'resample_indices', 'windowed_logits', 'export_onnx',
    'write_onnx_metadata'
]
