"""models/backbones."""
__all__: list = []
