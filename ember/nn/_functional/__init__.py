"""Implementations behind ember.nn.functional, one file per layer family."""
