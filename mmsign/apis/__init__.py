"""High-level APIs: build a recognizer and run it on a video of any length.

Names load on first use (PEP 562), so that ``from mmsign.apis import OnnxRecognizer``
imports only the ONNX recognizer, which needs no torch.
"""
import importlib

_WHERE = {
    'RecognitionResult': 'result',
    'inference_recognizer': 'inference', 'init_recognizer': 'inference',
    'DEFAULT_OVERLAP': 'long_video', 'DEFAULT_WINDOW': 'long_video',
    'STITCH_MODES': 'long_video', 'plan_windows': 'long_video',
    'windowed_logits': 'long_video',
    'ExportableRecognizer': 'onnx_export', 'export_onnx': 'onnx_export',
    'OnnxRecognizer': 'onnx_inference', 'write_onnx_metadata': 'onnx_inference',
    'FramePipeline': 'pipeline', 'build_test_pipeline': 'pipeline',
    'inference_steps': 'pipeline', 'pipeline_frame_size': 'pipeline',
    'RECIPE_FPS': 'video_input', 'RECIPE_FRAME_SIZE': 'video_input',
    'VideoFrames': 'video_input', 'VideoSource': 'video_input', 'read_video': 'video_input',
    'resample_indices': 'video_input',
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f'{__name__}.{_WHERE[name]}'), name)
        globals()[name] = value
        return value
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
    return __all__
