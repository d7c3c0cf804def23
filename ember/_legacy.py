"""What real PyTorch programs touch beyond the tensor library: legacy typed constructors (``torch.FloatTensor``),
CUDA-era helpers (``torch.compile``, matmul precision), and the names torch has that ember deliberately lacks.

A program that reaches for one of those names gets a NotImplementedError naming it, not an AttributeError from
inside ember. The error also subclasses AttributeError (ImportError for a module), so feature detection such as
``hasattr(torch, "fx")`` or ``try: import torch.fx / except ImportError`` still takes its fallback.
"""
from __future__ import annotations

import importlib
import importlib.abc
import math
import sys
import warnings

from . import _dtype
from ._tensor import Tensor
from .amp import autocast  # noqa: F401  (torch.autocast)
from .backends import cuda as _backends_cuda


class _TypedMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls._dtype


def _legacy_new(args: tuple, dt: _dtype.dtype) -> Tensor:
    """torch's legacy constructors of one dtype: sizes (uninitialised), data (a copy), a tensor of it (an alias)."""
    from ._factories import empty, tensor
    from ._tensor import _legacy_data
    from .autograd.engine import _CPP_NAMES
    if len(args) == 1 and isinstance(args[0], Tensor):
        if args[0].dtype is not dt:
            options = "TensorOptions(dtype={}, device=cpu, layout=Strided, requires_grad=false (default), " \
                      "pinned_memory=false (default), memory_format=(nullopt))"
            raise TypeError(f"expected {options.format(_CPP_NAMES[dt.name])} (got "
                            f"{options.format(_CPP_NAMES[args[0].dtype.name])})")
        return Tensor(args[0])
    data = _legacy_data(args)  # sizes or data, read as torch.Tensor reads them
    return empty(*data, dtype=dt) if type(data) is tuple else tensor(data, dtype=dt)


def _typed(name: str, dt: _dtype.dtype):
    def __new__(cls, *args, device=None):
        return _legacy_new(args, dt)
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

pi, e, inf, nan = math.pi, math.e, math.inf, math.nan


def compile(model=None, **kwargs):
    """Return ``model`` unchanged: ember runs eagerly (accepted so torch.compile'd scripts run)."""
    if model is None:
        return lambda m: m
    return model


def set_float32_matmul_precision(precision: str) -> None:
    """Record the float32 matmul precision torch would use on a GPU ("highest", "high", "medium"); ember's
    products are always full float32."""
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"Invalid precision {precision!r}: expected one of 'highest', 'high', 'medium'")
        return
    _backends_cuda._precision[0] = precision


def get_float32_matmul_precision() -> str:
    """The precision last set (``torch.backends.cuda.matmul.allow_tf32 = True`` sets "high", as in torch)."""
    return _backends_cuda._precision[0]


_deterministic = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Record the flag: every ember op is deterministic already (threads split work by size, never by timing)."""
    if not isinstance(mode, bool):
        raise TypeError(f"_set_deterministic_algorithms(): argument 'mode' (position 1) must be bool, not "
                        f"{type(mode).__name__}")
    _deterministic.update(mode=mode, warn_only=mode and warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    """The flag ``use_deterministic_algorithms`` last set."""
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """Whether the flag was set with ``warn_only=True``."""
    return _deterministic["warn_only"]


def get_deterministic_debug_mode() -> int:
    """0 (off), 1 (warn) or 2 (error), as torch derives it from the flags."""
    return 0 if not _deterministic["mode"] else 1 if _deterministic["warn_only"] else 2


def set_deterministic_debug_mode(debug_mode) -> None:
    """Set the flags from 0/1/2 or "default"/"warn"/"error"."""
    mode = {"default": 0, "warn": 1, "error": 2}.get(debug_mode, debug_mode)
    if mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    use_deterministic_algorithms(mode > 0, warn_only=mode == 1)


def get_default_device():
    """``device('cpu')``: ember's one device."""
    from ._tensor import device
    return device("cpu")


def set_default_device(device) -> None:
    """Accept the CPU (or None); another device raises what sending a tensor there raises."""
    if device is not None and str(device).split(":")[0] != "cpu":
        from .cuda import unavailable
        raise unavailable(device)


def set_flush_denormal(mode: bool) -> bool:
    """False: NumPy gives no control over denormals, so the request is not honoured (torch's answer when the CPU
    cannot)."""
    return False


def typename(obj) -> str:
    """``torch.FloatTensor`` for a tensor, the qualified class name otherwise (as torch.typename)."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module in ("builtins", None) else f"{module.replace('ember', 'torch', 1)}.{name}"


# ---------------------------------------------------------------------------------------------- absent names
class AbsentFeature(NotImplementedError, AttributeError):
    """A torch name ember deliberately lacks (an AttributeError too, so ``hasattr`` answers False)."""


class AbsentModule(NotImplementedError, ModuleNotFoundError):
    """A torch module ember deliberately lacks (an ImportError too, so ``except ImportError`` fallbacks work)."""


def _message(name: str) -> str:
    return (f"{name} is not implemented in ember (a NumPy, CPU-only framework); "
            "docs/api_coverage.md lists what is and is not")


def absent_function(qualname: str):
    """A stand-in for the torch function ``qualname`` (e.g. ``torch.jit.script``) that raises AbsentFeature."""
    def absent(*args, **kwargs):
        raise AbsentFeature(_message(qualname))
    absent.__name__ = qualname.rpartition(".")[2]
    absent.__doc__ = f"{qualname}: not implemented in ember; raises NotImplementedError naming it."
    absent._ember_absent = _message(qualname)  # what tools/api_inventory.py reports for it
    return absent


# torch names that public programs use (tools/api_inventory.py) and that ember does not provide
ABSENT = {
    "ember": {
        "fx", "nested", "export", "ao",
        "quantization", "jagged", "to_dlpack", "from_dlpack", "library", "package", "mps",
        "xpu",
        "quantize_per_tensor", "uint16", "uint32", "float8_e4m3fn", "float8_e5m2",
        "classes", "frombuffer", "is_storage",
        "storage", "UntypedStorage", "TypedStorage", "FloatStorage", "overrides", "set_default_tensor_type",
    },
    "ember.nn": {"quantized", "intrinsic", "qat"},
    "ember.distributed": {"rpc", "fsdp", "tensor", "_tensor", "checkpoint", "optim", "autograd", "nn",
                          "device_mesh", "elastic", "pipelining", "_composable"},
    "ember.distributed.algorithms": {"_checkpoint", "model_averaging", "_optimizer_overlap"},
    "ember.cuda": {"nccl", "graphs", "streams", "comm"},
    "ember.utils": {"tensorboard", "cpp_extension", "benchmark", "mobile_optimizer",
                    "model_zoo", "dlpack"},
    "ember.optim": {"_multi_tensor"},
}
ABSENT_TENSOR_METHODS = {"indices", "values", "coalesce", "is_coalesced",
                         "q_scale", "q_zero_point", "dequantize", "int_repr",
                         "record_stream", "to_mkldnn", "resize"}


def absent_getattr(module: str):
    """A module ``__getattr__`` that names torch's absent features; other names raise plain AttributeError."""
    names = ABSENT.get(module, set())

    def __getattr__(name: str):
        if not name.startswith("_"):
            try:  # torch.version, torch.onnx, ...: a real submodule its parent does not import
                return importlib.import_module(f"{module}.{name}")
            except ImportError:
                pass
        if name in names:
            raise AbsentFeature(_message(f"{module.replace('ember', 'torch', 1)}.{name}"))
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    return __getattr__


class _AbsentModuleFinder(importlib.abc.MetaPathFinder):
    """Last on ``sys.meta_path``: ``import torch.fx`` (when no real ember.fx exists) raises AbsentModule."""

    def find_spec(self, fullname: str, path=None, target=None):
        parent, _, leaf = fullname.rpartition(".")
        if leaf in ABSENT.get(parent, ()):
            err = AbsentModule(_message(fullname.replace("ember", "torch", 1)))
            err.name = fullname
            raise err
        return None


def _absent_method(name: str):
    def method(self, *args, **kwargs):
        raise AbsentFeature(_message(f"Tensor.{name}"))
    method.__name__ = method.__qualname__ = name
    method.__doc__ = "Not implemented in ember: raises NotImplementedError."
    return method


def _new(self, *args, device=None) -> Tensor:
    """Legacy ``x.new(2, 3)`` / ``x.new(data)``: a tensor of ``x``'s dtype, as torch.Tensor(...) would make."""
    return _legacy_new(args, self.dtype)


def install() -> None:
    """Hook the absent names in: the import finder and the Tensor methods (only where nothing real exists)."""
    if not any(isinstance(f, _AbsentModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(_AbsentModuleFinder())
    if not hasattr(Tensor, "new"):
        Tensor.new = _new
    if not hasattr(Tensor, "bfloat16"):  # so ``t.bfloat16()`` fails on the dtype, naming it
        Tensor.bfloat16 = lambda self, memory_format=None: self.to(_dtype.bfloat16)
    for name in ABSENT_TENSOR_METHODS:
        if not hasattr(Tensor, name):
            setattr(Tensor, name, _absent_method(name))
