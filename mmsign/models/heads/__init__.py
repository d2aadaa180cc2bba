"""models/heads."""
__all__: list = []
