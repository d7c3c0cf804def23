"""Utilities: data loading, graph drawing."""
