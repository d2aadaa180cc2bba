"""evaluation."""
__all__: list = []
