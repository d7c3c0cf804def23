"""The one seam between ember and its array library.

Every op reaches arrays through ``xp``; a CuPy backend slots in by choosing
a different module here, without touching the ops.
"""
from __future__ import annotations

import numpy

xp = numpy
ndarray = numpy.ndarray


def array_module(device: str = "cpu"):
    """Return the array module serving ``device``."""
    if device != "cpu":
        raise RuntimeError(f"ember: device '{device}' is not available (only 'cpu' in this build)")
    return numpy
