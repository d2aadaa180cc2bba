"""models/losses."""
__all__: list = []
