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


# ---------------------------------------------------------------------------------------------- absent names
class AbsentFeature(NotImplementedError, AttributeError):
    """A torch name ember deliberately lacks (an AttributeError too, so ``hasattr`` answers False)."""


class AbsentModule(NotImplementedError, ModuleNotFoundError):
    """A torch module ember deliberately lacks (an ImportError too, so ``except ImportError`` fallbacks work)."""


def _message(name: str) -> str:
    return (f"{name} is not implemented in ember (a NumPy, CPU-only framework); "
            "docs/api_coverage.md lists what is and is not")


# torch names that public programs use (tools/api_inventory.py) and that ember does not provide
ABSENT = {
    "ember": {
        "fx", "jit", "multiprocessing", "nested", "fft", "sparse", "futures", "profiler", "hub", "export", "ao",
        "quantization", "jagged", "view_as_real", "view_as_complex", "complex64", "complex128", "cfloat",
        "cdouble", "sparse_coo", "to_dlpack", "from_dlpack", "vmap", "func", "library", "package", "mps",
        "xpu", "distributed", "onnx", "complex", "polar", "stft", "istft",
        "quantize_per_tensor", "uint16", "uint32", "uint64", "float8_e4m3fn", "float8_e5m2", "sparse_coo_tensor",
        "sparse_csr_tensor", "spmm", "classes", "ops", "testing",
    },
    "ember.nn": {"attention", "quantized", "intrinsic", "qat"},
    "ember.autograd": {"profiler", "forward_ad", "graph"},
    "ember.distributed": {"rpc", "fsdp", "tensor", "_tensor", "checkpoint", "algorithms", "optim", "autograd", "nn",
                          "device_mesh", "elastic", "pipelining", "_composable"},
    "ember.cuda": {"nccl", "graphs", "streams", "comm"},
    "ember.utils": {"tensorboard", "cpp_extension", "benchmark", "bottleneck", "mobile_optimizer",
                    "model_zoo", "dlpack"},
    "ember.nn.utils": {"prune", "parametrize", "parametrizations", "stateless", "fusion"},
    "ember.optim": {"_multi_tensor"},
}
ABSENT_TENSOR_METHODS = {"to_sparse", "to_sparse_csr", "to_dense", "indices", "values", "coalesce", "is_coalesced",
                         "q_scale", "q_zero_point", "dequantize", "int_repr",
                         "record_stream", "to_mkldnn", "stft", "istft", "resize"}


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


def _new(self, *args) -> Tensor:
    """Legacy ``x.new(2, 3)`` / ``x.new(data)``: a tensor of ``x``'s dtype, as torch.Tensor(...) would make."""
    return Tensor(*args, dtype=self.dtype)


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
