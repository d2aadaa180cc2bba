"""datasets/transforms."""
__all__: list = []
