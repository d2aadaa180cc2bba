"""Plumbing shared by the command-line tools (``tools/*.py``), not a user API.

:mod:`mmsign.cli.runtime` turns command-line arguments into config keys and a Runner;
:mod:`mmsign.cli.command` runs a tool so that a known failure ends with one line and an
exit status. What users call from Python is :mod:`mmsign.apis`.
"""
