"""Legacy typed constructors (``torch.FloatTensor`` ...) and no-op stand-ins for CUDA-era helpers
(``torch.compile``, ``torch.autocast``), so that existing scripts run unchanged."""
from __future__ import annotations

import contextlib

from . import _dtype
from ._tensor import Tensor


class _TypedMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls._dtype


def _typed(name: str, dt: _dtype.dtype):
    def __new__(cls, *args):
        from ._factories import empty, tensor
        if len(args) == 1 and not isinstance(args[0], int):
            return tensor(args[0], dtype=dt)
        return empty(*args, dtype=dt)
    return _TypedMeta(name, (), {"__new__": __new__, "_dtype": dt,
                                 "__doc__": f"Legacy constructor: a {dt} tensor from data or sizes."})


FloatTensor = _typed("FloatTensor", _dtype.float32)
DoubleTensor = _typed("DoubleTensor", _dtype.float64)
HalfTensor = _typed("HalfTensor", _dtype.float16)
LongTensor = _typed("LongTensor", _dtype.int64)
IntTensor = _typed("IntTensor", _dtype.int32)
ShortTensor = _typed("ShortTensor", _dtype.int16)
CharTensor = _typed("CharTensor", _dtype.int8)
ByteTensor = _typed("ByteTensor", _dtype.uint8)
BoolTensor = _typed("BoolTensor", _dtype.bool_)


def compile(model=None, **kwargs):
    """Return ``model`` unchanged: ember runs eagerly (accepted so torch.compile'd scripts run)."""
    if model is None:
        return lambda m: m
    return model


@contextlib.contextmanager
def autocast(device_type: str = "cpu", dtype=None, enabled: bool = True, cache_enabled=None):
    """Accepted and ignored: ember computes in the tensors' own dtypes (no mixed precision)."""
    yield
