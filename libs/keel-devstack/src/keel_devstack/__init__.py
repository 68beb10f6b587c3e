"""Keel's embedded local stack: real servers from PyPI wheels for `make run` and tests."""
