"""``autocast``: torch runs chosen ops in a lower precision inside it. ember has no bfloat16 and keeps every op
in its inputs' dtype, so the region runs in full precision; the flags and checks behave as torch's CPU build
(``is_autocast_enabled("cpu")`` is True inside, a CUDA region warns and disables itself)."""
from __future__ import annotations

import functools
import warnings

from .. import _dtype

_DEVICES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia", "xla",
            "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")
_enabled = {"cpu": False, "cuda": False}
_fast_dtype = {"cpu": _dtype.bfloat16, "cuda": _dtype.float16}


class autocast:
    """Context manager and decorator marking a mixed-precision region (computed in full precision by ember)."""

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
        return self

    def __exit__(self, *exc) -> None:
        _enabled[self.device], _fast_dtype[self.device] = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return wrapped


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether an autocast region for ``device_type`` is active (``"cuda"`` by default, as torch's)."""
    return _enabled.get(device_type, False)


def get_autocast_dtype(device_type: str):
    """The lower precision an autocast region for ``device_type`` names (ember computes in full precision)."""
    return _fast_dtype.get(device_type, _dtype.float16)
