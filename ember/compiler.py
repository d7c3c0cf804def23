"""torch.compiler: ember runs eagerly, so nothing is ever being compiled and the decorators return what they get."""
from __future__ import annotations

from ._legacy import compile  # noqa: F401


def is_compiling() -> bool:
    """False: ember never traces."""
    return False


is_dynamo_compiling = is_exporting = is_compiling


def disable(fn=None, recursive: bool = True, *, reason: str | None = None):
    """``fn`` unchanged (usable as ``@disable`` or ``@disable()``)."""
    return fn if fn is not None else (lambda f: f)


def allow_in_graph(fn):
    """``fn`` unchanged."""
    return fn


assume_constant_result = allow_in_graph


def reset() -> None:
    """Nothing is cached."""
