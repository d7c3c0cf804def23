"""Utilities: data loading, graph drawing."""
from . import data  # noqa: F401
