"""Utilities shared by tools and models."""
__all__: list = []
