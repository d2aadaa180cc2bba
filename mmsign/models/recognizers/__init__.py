"""models/recognizers."""
__all__: list = []
