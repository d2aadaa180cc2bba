"""models/decoders."""
__all__: list = []
