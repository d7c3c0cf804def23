"""Activation checkpointing, as torch.utils.checkpoint: here a plain call.

Checkpointing trades compute for memory by recomputing a segment in backward. ember keeps the
segment's graph instead; the gradients are the same, only the memory saving is not made.
"""
from __future__ import annotations

from typing import Callable


def checkpoint(function: Callable, *args, use_reentrant: bool | None = None, context_fn=None,
               determinism_check: str = "default", debug: bool = False, preserve_rng_state: bool = True,
               **kwargs):
    """``function(*args, **kwargs)``: same values and gradients as torch's checkpoint."""
    return function(*args, **kwargs)


def checkpoint_sequential(functions, segments: int, input, use_reentrant: bool | None = None, **kwargs):
    """Run a Sequential (or list of modules) on ``input``: same values and gradients as torch's."""
    for f in (functions if isinstance(functions, (list, tuple)) else list(functions.children()) or [functions]):
        input = f(input)
    return input
