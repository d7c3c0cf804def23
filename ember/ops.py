"""``torch.ops``: aten's operators by name, as ``ember.ops.aten.NAME(...)`` and ``ember.ops.aten.NAME.default(...)``.

An aten operator is ember's public function of the same name (``ember.X``, else ``ember.nn.functional.X``);
the few that torch exposes only here (max pooling's backward) are listed in ``_ATEN_ONLY``. Each name
resolves to one overload, ``default``: ember's functions take every form torch's overloads split apart.
Private operators (``aten._X``) are not provided.
"""
from __future__ import annotations

from typing import Callable

from .nn._functional.pooling import max_pool2d_with_indices_backward

_ATEN_ONLY = {"max_pool2d_with_indices_backward": max_pool2d_with_indices_backward}


class OpOverloadPacket:
    """One aten operator: callable itself, and through its overload ``default``."""

    def __init__(self, qualified: str, fn: Callable) -> None:
        self._qualified_op_name, self.default = qualified, fn

    def __call__(self, *args, **kwargs):
        return self.default(*args, **kwargs)

    def overloads(self) -> list:
        """The overload names (ember has one per operator)."""
        return ["default"]

    def __repr__(self) -> str:
        return f"<OpOverloadPacket(op='{self._qualified_op_name.replace('::', '.')}')>"


def _public(name: str):
    import ember
    for namespace in (ember, ember.nn.functional):
        try:
            fn = getattr(namespace, name)
        except AttributeError:  # ember's absent names raise an AttributeError subclass too
            continue
        if callable(fn) and not isinstance(fn, type):
            return fn
    return None


class _OpNamespace:
    """An operator namespace (``aten``): attribute access finds the operator, once."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, op: str) -> OpOverloadPacket:
        fn = None if op.startswith("_") else _ATEN_ONLY.get(op) or _public(op)
        if fn is None:
            raise AttributeError(f"'_OpNamespace' '{self.name}' object has no attribute '{op}'")
        packet = OpOverloadPacket(f"{self.name}::{op}", fn)
        setattr(self, op, packet)
        return packet


aten = _OpNamespace("aten")


def __getattr__(name: str):
    """``torch.ops.profiler`` (record_function by handle); torch's other operator namespaces (custom libraries)
    are absent, saying so."""
    if name == "profiler":
        from .autograd.profiler import ops_namespace
        return ops_namespace
    from ._legacy import AbsentFeature, _message
    raise AbsentFeature(_message(f"torch.ops.{name}"))
