"""A small synthetic dataset with mp4 videos (see ``visualization_fixtures.py``)."""
from visualization_fixtures import synthetic_videos  # noqa: F401
