"""torch's ``out=`` keyword, given in one place to every op ``ember.X`` publishes: the result is computed as
without it, then written into ``out`` (resized when misshapen, cast where torch allows) and ``out`` returned.

Which ops take ``out=`` and how they treat its dtype is torch's choice per op, so it is stated here as data
(read from torch 2.13's Python bindings): tests/conformance/test_op_db_out.py checks every entry of torch's
op_db against it.
"""
from __future__ import annotations

import functools
import gc
import inspect
import operator
import warnings

from .. import _dtype
from .._backend import xp
from .._tensor import Tensor
from ..autograd.function import _root
from ..autograd.grad_mode import state

# ember.X functions whose torch counterpart takes no ``out=`` (views, queries, Python-level compositions)
NO_OUT = frozenset("""
allclose argwhere as_strided as_tensor asarray atleast_1d atleast_2d atleast_3d bincount block_diag broadcast_shapes
broadcast_tensors broadcast_to cartesian_prod cdist chunk clone combinations conj corrcoef cosine_similarity
count_nonzero cov cumulative_trapezoid diag_embed diagflat diagonal dsplit einsum empty_like empty_strided equal
fftshift fill flatten fliplr flipud from_numpy full_like gradient grid_sampler histogramdd hsplit ifftshift imag
index_fill is_conj is_neg is_nonzero is_same_size isclose isfinite isinf isnan isreal logdet masked_fill matrix_exp
meshgrid moveaxis movedim narrow ones_like pairwise_distance pca_lowrank permute pinverse positive ravel real relu
repeat_interleave reshape resize_as_ resolve_conj resolve_neg rot90 rsub select slice split split_with_sizes squeeze
std_mean svd_lowrank swapaxes swapdims t tensor tensor_split tile trace transpose trapezoid trapz tril_indices
triu_indices unbind unflatten unique unique_consecutive unravel_index unsafe_chunk unsqueeze vander var_mean
view_as_complex view_as_real vsplit zero_ zeros_like
""".split())

# ops whose result torch casts into an ``out`` of another dtype when its casting rule allows (TensorIterator's
# elementwise kernels and a few composites); every other op wants ``out`` in the result's dtype
CASTS = frozenset("""
acos acosh addcdiv addcmul addr angle asin asinh atan atan2 atanh bitwise_and bitwise_left_shift bitwise_or
bitwise_right_shift bitwise_xor cholesky cholesky_inverse cholesky_solve clamp clamp_max clamp_min column_stack cond
copysign cos cosh deg2rad digamma dstack entr erf erfc erfcx erfinv exp exp2 expm1 fft fft2 fftn fmax fmin fmod gcd
geqrf hfft hfft2 hfftn householder_product hstack hypot i0 i0e i1 i1e ifft ifft2 ifftn igamma igammac ihfft ihfft2
ihfftn irfft irfft2 irfftn kron lcm ldexp lerp lgamma log log10 log1p log2 log_ndtr logaddexp logaddexp2 logical_and
logical_not logical_or logical_xor logit logsumexp lstsq matrix_power matrix_rank max maximum min minimum mvlgamma
ndtr ndtri nextafter normalize outer pinv polygamma pow rad2deg reciprocal remainder rfft rfft2 rfftn row_stack
rsqrt sigmoid sin sinc sinh sqrt square stack std tan tanh tensorinv tensorsolve var vstack xlog1py xlogy zeta
""".split())

# the same name elsewhere casts (torch.cholesky does, torch.linalg.cholesky does not)
STRICT = frozenset({"linalg.cholesky"})
# joins that refuse a cast as torch.cat does, with a TypeError
JOINS = frozenset("stack hstack vstack dstack column_stack row_stack".split())
# inverse real FFTs: their out must be real
REAL_OUT = frozenset("hfft hfft2 hfftn irfft irfft2 irfftn".split())
# reductions that run in ``out``'s dtype (their ``dtype=`` defaults to it), as torch's do
OUT_DTYPE = frozenset("sum mean nansum nanmean prod cumsum cumprod".split())


def with_out(fn, name: str):
    """``fn`` (published as ``<namespace>.<name>``) taking torch's keyword-only ``out=``, where torch's takes one.
    A function that takes ``out`` itself keeps doing so; where it returns a new tensor instead, that is written."""
    bare = name.rsplit(".", 1)[-1]
    if bare in NO_OUT or bare.startswith("_") or inspect.isclass(fn) or not callable(fn):
        return fn
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return fn
    key = getattr(fn, "__name__", bare)  # an alias (arccos) is treated as the op it names (acos)
    cast = name not in STRICT and (key in CASTS or bare in CASTS)
    from_out = key in OUT_DTYPE and "dtype" in sig.parameters
    own = "out" in sig.parameters
    if (fn, cast) in _MADE:  # one function under two names (special.gammainc, igamma) stays one object
        return _MADE[fn, cast]

    @functools.wraps(fn)
    def op(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        from .common import check_no_partial_overlap  # (common imports this module)
        for o in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(o, Tensor):
                check_no_partial_overlap(o._data, args)
        if own:
            result = fn(*args, out=out, **kwargs)
            if result is out or isinstance(out, (tuple, list)) and all(map(operator.is_, result, out)):
                return result
        else:
            if from_out and kwargs.get("dtype") is None and isinstance(out, Tensor):
                kwargs["dtype"] = out.dtype
            result = fn(*args, **kwargs)
        return write_out(name, result, out, cast)

    if not own:
        params = list(sig.parameters.values())
        at = next((i for i, p in enumerate(params) if p.kind == p.VAR_KEYWORD), len(params))
        params.insert(at, inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None))
        op.__signature__ = sig.replace(parameters=params)
    # pickled by reference where it is published (ember.add, ember.nn.functional.gelu), as torch's functions are,
    # not under the module that defines the wrapped function (which holds the unwrapped one)
    op.__module__, _, op.__qualname__ = ("ember." + name).rpartition(".")
    _MADE[fn, cast] = op
    return op


_MADE: dict = {}


def publish(namespace: dict, names) -> None:
    """Give the functions ``names`` of a module's ``namespace`` (``ember.linalg``, ``ember.fft``) torch's ``out=``."""
    prefix = namespace["__name__"].split(".", 1)[-1] + "."  # linalg., fft., special., nn.functional.
    for n in names:
        namespace[n] = with_out(namespace[n], prefix + n)


def write_out(op: str, result, out, cast: bool = True):
    """torch's ``out=``: ``result`` (a tensor, or a tuple of them for a tuple ``out``) written into ``out``, which is
    returned (None for a plain sequence of tensors, as torch). A result that requires grad (grad mode on) and a
    dtype torch would not write raise RuntimeError."""
    if isinstance(result, (tuple, list)):
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"{op}(): argument 'out' must be tuple of {len(result)} Tensors, not "
                            f"{type(out).__name__}")
        _no_grad(op, result)
        cast = cast and op not in ("max", "min")  # (with a dim, as sort and topk, they cast nothing)
        written = [write_out(op, r, o, cast) for r, o in zip(result, out)]
        # a named tuple (values, indices) comes back; torch's list-of-tensors outs (unbind_copy) give None
        return type(result)(*written) if hasattr(result, "_fields") else None
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}(): argument 'out' must be Tensor, not {type(out).__name__}")
    _no_grad(op, (result,))
    if not isinstance(result, Tensor):
        result = Tensor._make(xp.asarray(result))
    if op.rsplit(".", 1)[-1] in REAL_OUT and out.is_complex():
        raise RuntimeError(f"{op} expects a floating point output tensor, but got {_name(out.dtype)}")
    if cast and not _dtype.can_cast(result.dtype, out.dtype):
        if op in JOINS:
            raise TypeError(f"torch.cat(): input types can't be cast to the desired output type {_name(out.dtype)}")
        raise RuntimeError(f"{op}: result type {_name(result.dtype)} can't be cast to the desired output type "
                           f"{_name(out.dtype)}")
    if not cast and result.dtype != out.dtype:
        raise RuntimeError(f"{op}: Expected out tensor to have dtype {_name(result.dtype)}, but got "
                           f"{_name(out.dtype)} instead")
    resize_out(out, result._data.shape)
    return out.copy_(result)


def _no_grad(op: str, results) -> None:
    if state.enabled and any(isinstance(r, Tensor) and r._requires_grad for r in results):
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic differentiation, but "
                           "one of the arguments requires grad.")


def _name(d) -> str:
    from .common import _type_name  # (common imports this module)
    return _type_name(d)


def resize_out(out: Tensor, shape: tuple, warn: bool = True) -> None:
    """Give a misshapen ``out`` ``shape``, as torch's resize of an output: with its deprecation warning when it held
    elements, contiguous from where ``out`` starts in its memory, which grows when too small (so the tensors that
    share that memory, ``out``'s base and views made before, see the result)."""
    shape = tuple(shape)
    old = out._data
    if old.shape == shape:
        return
    if old.size and warn:  # (factories resize without it)
        warnings.warn(f"An output with one or more elements was resized since it had shape {list(old.shape)}, "
                      f"which does not match the required output shape {list(shape)}. This behavior is "
                      "deprecated, and in a future PyTorch release outputs will not be resized unless they have "
                      "zero elements. You can explicitly reuse an out tensor t by resizing it, inplace, to zero "
                      "elements with t.resize_(0).", UserWarning, stacklevel=4)
    root = _root(old)
    # (numpy forgets where an empty view starts: that out moves alone, where torch's would write into its base)
    start = _address(old) - _address(root) if old.size or old is root else -1
    nbytes = int(xp.prod(shape, dtype=xp.int64)) * old.itemsize
    if not (root.flags.c_contiguous and root.flags.writeable and 0 <= start <= root.nbytes):
        out._data = xp.zeros(shape, old.dtype)  # memory ember cannot address bytewise: out alone moves
        return
    if start + nbytes > root.nbytes:
        root = _grow(out, root, start + nbytes)
    out._data = xp.ndarray(shape, old.dtype, buffer=root.reshape(-1).view(xp.uint8), offset=start)


def _address(a) -> int:
    return a.__array_interface__["data"][0]


def _grow(out: Tensor, root, nbytes: int):
    """torch's storage too small for a resize is reallocated in place, its bytes kept: every tensor on it (views,
    detach()es, the base) then sees the new memory. A numpy buffer cannot grow, so its bytes are copied into a larger
    one and each tensor that shares ``out``'s version counter (as all of those do) is re-pointed into it."""
    grown = xp.zeros(nbytes, xp.uint8)
    grown[:root.nbytes] = root.reshape(-1).view(xp.uint8)
    # a scan of the heap, once per growth of memory that held bytes (rare: torch deprecates resizing an out that
    # held elements; an empty out, the common case, has nothing another tensor could see)
    for t in gc.get_referrers(out._vc) if root.nbytes else ():
        a = t._data if isinstance(t, Tensor) and t is not out else None
        if a is None or _root(a) is not root:
            continue
        start = _address(a) - _address(root)
        if 0 <= start <= root.nbytes:
            t._data = xp.ndarray(a.shape, a.dtype, buffer=grown, offset=start, strides=a.strides)
            t._data.flags.writeable = a.flags.writeable
    return grown
