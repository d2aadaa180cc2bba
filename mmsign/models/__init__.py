"""Models: backbones, heads, losses, recognizers, data preprocessors and decoders."""
from mmsign.models import backbones, data_preprocessors, decoders, heads, losses, recognizers  # noqa: F401
