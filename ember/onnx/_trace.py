"""Recording one forward call: every op ember runs, and each call of a module that ONNX has as a whole.

Three seams, swapped only while recording (nothing changes, nothing slows down otherwise):
``Op.apply`` and ``Function.apply``, through which every op runs; ``Module.__call__``, to see a
leaf module (a convolution, an LSTM) as one call instead of the ops inside it; and
``write_inplace``, through which every in-place op stores its result into its ``self``. Where an
ember module holds a seam by value (``write_inplace`` imported by name, an Op's ``apply`` kept as a
bound method), that global is swapped too.
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from types import MethodType

from .._backend import ndarray
from .._ops import common
from .._tensor import Tensor
from ..autograd.function import Function, Op
from ..nn.modules.module import Module

INPLACE = "inplace"  # the fn of an event in which an op's result was written into args[0]


@dataclass
class Event:
    """One call seen while recording: an Op class, a leaf module or INPLACE, with arguments and result."""

    fn: object
    args: tuple
    kwargs: dict
    out: object
    versions: dict = field(default_factory=dict)  # id(tensor argument or result) -> its version counter then


def tensors(obj) -> list:
    """The tensors in a (nested) argument or result, in order."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in tensors(o)]
    return []


def arrays(obj) -> list:
    """The NumPy arrays in an op's (nested) arguments: index arrays, masks."""
    if isinstance(obj, ndarray):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [a for o in obj for a in arrays(o)]
    return []


def record(model, args: tuple, kwargs: dict, is_leaf) -> tuple[list, object]:
    """Run ``model(*args, **kwargs)``, returning the events in the order they ran, and the result."""
    events, inside_leaf = [], [0]
    apply_op, apply_fn = Op.__dict__["apply"].__func__, Function.__dict__["apply"].__func__
    call, write = Module.__call__, common.write_inplace

    def add(fn, a, k, out) -> None:
        if not inside_leaf[0]:
            events.append(Event(fn, a, k, out, {id(t): t._version for t in tensors((a, k, out))}))

    def traced_apply(cls, *a, **k):
        out = (apply_op if issubclass(cls, Op) else apply_fn)(cls, *a, **k)
        add(cls, a, k, out)
        return out

    def traced_call(module, *a, **k):
        if inside_leaf[0] or not is_leaf(module):
            return call(module, *a, **k)
        inside_leaf[0] += 1
        try:
            out = call(module, *a, **k)
        finally:
            inside_leaf[0] -= 1
        add(module, a, k, out)
        return out

    def traced_write(self, out, name):
        result = write(self, out, name)
        add(INPLACE, (self,), {}, out)
        return result

    held = []
    for m in [m for m in list(sys.modules.values()) if getattr(m, "__name__", "").startswith("ember.")]:
        for name, v in list(vars(m).items()):
            if v is write:
                held.append((m, name, traced_write))
            elif isinstance(v, MethodType) and v.__func__ is apply_op:
                held.append((m, name, MethodType(traced_apply, v.__self__)))
    with contextlib.ExitStack() as stack:
        for owner, name, value in ((Op, "apply", classmethod(traced_apply)),
                                   (Function, "apply", classmethod(traced_apply)),
                                   (Module, "__call__", traced_call), *held):
            stack.enter_context(_swapped(owner, name, value))
        out = model(*args, **kwargs)
    return events, out


@contextlib.contextmanager
def _swapped(owner, name: str, value):
    old = vars(owner)[name]
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, old)
