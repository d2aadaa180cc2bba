"""High-level APIs: build a recognizer and run it on a video."""
__all__: list = []
