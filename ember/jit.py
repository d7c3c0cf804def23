"""The part of ``torch.jit`` that eager code touches: TorchScript's annotations, which do nothing outside a
compiler, so that models written for ``torch.jit.script`` (torchvision's among them) run unchanged.
Compiling, tracing and loading TorchScript raise NotImplementedError naming what is missing.
"""
from __future__ import annotations

from typing import Any, Callable, Final  # noqa: F401  (torch.jit.Final is typing's Final)

from ._legacy import absent_function


def is_scripting() -> bool:
    """False: ember code always runs eagerly, never inside TorchScript."""
    return False


def is_tracing() -> bool:
    """False: nothing is being traced."""
    return False


def _mark(fn: Callable, modifier: str) -> Callable:
    fn._torchscript_modifier = modifier  # what torch records; a compiler would read it
    return fn


def unused(fn: Callable) -> Callable:
    """Mark ``fn`` as left out of TorchScript; eagerly it runs as written."""
    if isinstance(fn, property):
        _mark(fn.fget, "unused")
        return fn
    return _mark(fn, "unused")


def export(fn: Callable) -> Callable:
    """Mark a method as a TorchScript entry point; eagerly it runs as written."""
    return _mark(fn, "export")


def ignore(drop: bool | Callable = False, **kwargs) -> Callable:
    """Mark ``fn`` to stay Python under TorchScript; usable bare (``@ignore``) or called (``@ignore(drop=True)``)."""
    if callable(drop):
        return _mark(drop, "ignore")
    if not isinstance(drop, bool):
        raise RuntimeError(f"Argument to @torch.jit.ignore must be a bool or a function but got {drop}")
    return lambda fn: _mark(fn, "unused" if drop or kwargs.get("drop_on_export") else "ignore")


def _overload(fn: Callable) -> Callable:
    """A typed overload declaration for TorchScript; eagerly the final, undecorated definition is the one called."""
    return fn


_overload_method = _overload


def annotate(the_type: Any, the_value: Any) -> Any:
    """Give TorchScript the type of ``the_value``; eagerly, ``the_value`` itself."""
    return the_value


script = absent_function("torch.jit.script")
trace = absent_function("torch.jit.trace")
trace_module = absent_function("torch.jit.trace_module")
load = absent_function("torch.jit.load")
save = absent_function("torch.jit.save")
freeze = absent_function("torch.jit.freeze")
optimize_for_inference = absent_function("torch.jit.optimize_for_inference")
