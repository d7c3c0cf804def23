"""``autocast``: inside a CPU region, torch's CPU autocast lists decide each op's dtype: products and convolutions
(``LOWER``) run in the region's dtype (bfloat16 by default), losses and other precision-sensitive ops (``FP32``)
in float32, the rest in their inputs' dtypes. The flags and checks behave as torch's CPU build (a CUDA region
warns and disables itself)."""
from __future__ import annotations

import functools
import warnings

from .. import _dtype

_DEVICES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia", "xla",
            "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")
_enabled = {"cpu": False, "cuda": False}
_fast_dtype = {"cpu": _dtype.bfloat16, "cuda": _dtype.float16}
LOWER, FP32, PROMOTE = "lower", "fp32", "promote"  # torch's cast policies (lower_precision_fp, fp32, promote)


class _State:
    """Read by the listed ops on every call: ``on`` is False outside a CPU autocast region."""

    on = False


state = _State()


def call(fn, policy: str, *args, **kwargs):
    """``fn`` run as CPU autocast runs it: its float32/bfloat16/float16 tensor arguments (in lists too) cast to
    the region's dtype (``LOWER``), float32 (``FP32``) or the widest of their dtypes (``PROMOTE``), float64 left
    alone, and autocast off inside it, so the ops it is made of are not cast again."""
    to = _fast_dtype["cpu"] if policy == LOWER else _dtype.float32
    floats = [d for d in map(_float_dtype, args) if d not in (None, _dtype.float64)] if policy == PROMOTE else None
    if floats:
        to = functools.reduce(_dtype.promote_types, floats)

    def cast(a):
        if isinstance(a, (list, tuple)):
            return type(a)(cast(x) for x in a)
        dt = _float_dtype(a)
        return a.to(to) if dt is not None and dt is not _dtype.float64 and dt is not to else a
    state.on = False
    try:
        return fn(*cast(args), **{k: cast(v) for k, v in kwargs.items()})
    finally:
        state.on = _enabled["cpu"]


def _float_dtype(a):
    """The floating dtype of a tensor argument, else None."""
    dt = getattr(a, "dtype", None)
    return dt if isinstance(dt, _dtype.dtype) and dt.is_floating_point else None


def fp32(fn):
    """``fn`` run in float32 under CPU autocast, as torch's fp32 list (losses, 3-D pooling, prod...) runs."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        if state.on:
            return call(fn, FP32, *args, **kwargs)
        return fn(*args, **kwargs)
    return wrapped


class autocast:
    """Context manager and decorator marking a mixed-precision region, with torch's CPU op lists."""

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled=None) -> None:
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type not in _DEVICES:
            raise RuntimeError(f"Expected one of {', '.join(_DEVICES)} device type at start of device string: "
                               f"{device_type}")
        self.device = device_type
        self.fast_dtype = _fast_dtype.get(device_type, _dtype.float16) if dtype is None else dtype
        if enabled and device_type == "cuda":
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.")
            enabled = False
        elif enabled and device_type == "cpu" and self.fast_dtype not in (_dtype.bfloat16, _dtype.float16):
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                          "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.")
            enabled = False
        self._enabled = enabled

    def __enter__(self) -> "autocast":
        self._prev = (_enabled.get(self.device, False), _fast_dtype.get(self.device))
        _enabled[self.device], _fast_dtype[self.device] = self._enabled, self.fast_dtype
        state.on = _enabled["cpu"]
        return self

    def __exit__(self, *exc) -> None:
        _enabled[self.device], _fast_dtype[self.device] = self._prev
        state.on = _enabled["cpu"]

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return wrapped


_AVAILABLE = ("cpu", "cuda", "ipu", "xpu", "maia", "xla", "mps", "hpu", "mtia", "privateuseone")


def is_autocast_available(device_type: str) -> bool:
    """Whether torch has autocast for ``device_type`` (regions for devices ember lacks run disabled)."""
    if device_type not in _DEVICES:
        raise RuntimeError(f"Expected one of {', '.join(_DEVICES)} device type at start of device string: "
                           f"{device_type}")
    return device_type in _AVAILABLE


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether an autocast region for ``device_type`` is active (``"cuda"`` by default, as torch's)."""
    return _enabled.get(device_type, False)


def get_autocast_dtype(device_type: str):
    """The lower precision an autocast region for ``device_type`` uses."""
    return _fast_dtype.get(device_type, _dtype.float16)
