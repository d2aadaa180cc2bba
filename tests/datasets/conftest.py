"""Fixture trees of the real releases (see ``sign_fixtures.py``)."""
from sign_fixtures import csl_daily_root, csl_root, phoenix2014_root, phoenix2014t_root  # noqa: F401
