"""utils."""
__all__: list = []
