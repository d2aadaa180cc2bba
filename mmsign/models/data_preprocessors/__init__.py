"""models/data_preprocessors."""
__all__: list = []
