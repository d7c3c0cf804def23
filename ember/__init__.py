"""ember: a deep learning framework in Python on NumPy, with PyTorch's API and semantics.

``import ember as torch`` is meant to work: tensors, autograd, nn, optim, data loading and
safetensors checkpoints behave as torch 2.13's do. Start reading at ``ember/_tensor.py`` and
``ember/autograd/``; ``docs/design.md`` maps the rest.
"""
from __future__ import annotations

import builtins as _builtins

from ._dtype import (dtype, bool_ as bool, bfloat16, uint8, int8, int16, int32, int64, float16, float32, float64,
                     uint64, complex64, complex128, set_default_dtype, get_default_dtype, promote_types, result_type,
                     can_cast)
from ._tensor import Tensor, Size, device
from . import autograd
from .autograd import no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled
from .autograd.grad_mode import is_inference_mode_enabled
from .autograd.anomaly_mode import is_anomaly_enabled, is_anomaly_check_nan_enabled, set_anomaly_enabled
from . import _ops
from . import _factories  # noqa: F401  (registers the factories)
from ._tensor_str import set_printoptions
from . import nn
from . import linalg  # registers det, inverse, norm, ... on ember and Tensor

# every registered op, published once as ember.<name> (Tensor methods are attached by the registry), taking
# torch's out= where torch's takes it
globals().update({_n: _ops.out.with_out(_f, _n) for _n, _f in _ops.FUNCTIONS.items()})

from ._ops.reduction import return_types  # noqa: E402
from .random import (manual_seed, seed, initial_seed, Generator, default_generator, get_rng_state,  # noqa: E402
                     set_rng_state, rand, randn, randint, randperm, rand_like, randn_like, randint_like, normal,
                     bernoulli, multinomial, poisson, binomial, _standard_gamma, _standard_gamma_grad,
                     _sample_dirichlet, _dirichlet_grad)
from .autograd import functional as _autograd_functional  # noqa: E402,F401  (loads ember.autograd.functional)
from . import optim, utils, datasets, transforms, special  # noqa: E402,F401
from ._ops.conversion import (layout, strided, memory_format, contiguous_format, preserve_format,  # noqa: E402
                              channels_last, channels_last_3d)
from .serialization import save, load  # noqa: E402
from ._dtype import finfo, iinfo  # noqa: E402
from . import _tensor_extra  # noqa: E402,F401  (storages, set_, dim_order, ... on Tensor)
from . import cuda, backends  # noqa: E402,F401  (CPU only: is_available() is False)
from . import onnx  # noqa: E402,F401  (ember.onnx.export; the onnx package is imported only when exporting)
from . import func  # noqa: E402,F401  (ember.func: grad, vmap, jacrev, jacfwd, functional_call, ...)
from . import fft  # noqa: E402,F401  (ember.fft, as torch.fft)
from . import profiler  # noqa: E402,F401  (ember.profiler; loads ember.autograd.profiler)
from .fft import stft, istft  # noqa: E402
from .nn._functional.native_norms import (native_layer_norm, native_group_norm, native_batch_norm,  # noqa: E402,F401
                                         _native_batch_norm_legit, _batch_norm_with_update)

half, float, double = float16, float32, float64
cfloat, cdouble = complex64, complex128
from ._dtype import complex32  # noqa: E402
chalf = complex32
short, int, long = int16, int32, int64

__version__ = "0.1.0"


def is_tensor(obj) -> _builtins.bool:
    """True for ember tensors."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> _builtins.int:
    """Number of elements."""
    return input.numel()


def is_floating_point(input: Tensor) -> _builtins.bool:
    """True for floating dtypes."""
    return input.is_floating_point()


def set_num_threads(n: _builtins.int) -> None:
    """The number of threads ember's large array loops use (BLAS keeps its own setting)."""
    from ._backend import set_threads
    if not isinstance(n, _builtins.int):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    set_threads(n)


def get_num_threads() -> _builtins.int:
    """The number of threads ember's large array loops use (OMP_NUM_THREADS, else the CPU count)."""
    from ._backend import get_threads
    return get_threads()

from ._legacy import (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor,  # noqa: E402
                      CharTensor, ByteTensor, BoolTensor, compile, autocast, set_float32_matmul_precision,
                      get_float32_matmul_precision, pi, e, inf, nan, use_deterministic_algorithms,
                      are_deterministic_algorithms_enabled, is_deterministic_algorithms_warn_only_enabled,
                      get_deterministic_debug_mode, set_deterministic_debug_mode, get_default_device,
                      set_default_device, set_flush_denormal, typename)
from . import amp, accelerator  # noqa: E402,F401
from .amp import is_autocast_enabled, get_autocast_dtype  # noqa: E402,F401
from .utils import checkpoint as _checkpoint  # noqa: E402,F401  (ember.utils.checkpoint)
from . import distributions  # noqa: E402,F401
from .sparse import (sparse_coo, sparse_csr, sparse_coo_tensor, sparse_csr_tensor,  # noqa: E402,F401
                     spmm)  # sparse COO/CSR tensors (ember/sparse)
from .func import vmap  # noqa: E402  (torch.vmap is torch.func.vmap)
from . import _toplevel  # noqa: E402  (torch.conv2d, torch.batch_norm, torch.exp_, torch.hann_window, ...)
for _name, _form in _toplevel.names().items():
    globals().setdefault(_name, _form)
del _name, _form

from ._ops import axis as _axis  # noqa: E402
_axis.install(globals())  # axis= for dim= in reductions, as torch's argument parser takes it

# torch names ember deliberately lacks raise NotImplementedError naming them (ember/_legacy.py)
_legacy.install()
__getattr__ = _legacy.absent_getattr(__name__)
