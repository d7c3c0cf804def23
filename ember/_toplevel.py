"""torch's top-level spellings of ops ember defines elsewhere: ``torch.conv2d``, ``torch.batch_norm``,
``torch.abs_`` ... Each is generated from the one definition in ``nn.functional`` or on ``Tensor``; where torch's
top-level form is aten's schema (other argument order, an int ``reduction``, a positional ``train``), a spec line
below states that schema and the adapter binds it, so a wrong call fails as torch's does (TypeError).
"""
from __future__ import annotations

import ast
import inspect
import math
import warnings

from . import _dtype
from ._backend import xp
from ._dtype import bool_
from ._factories import _finish
from ._ops.conversion import strided
from ._tensor import Tensor
from .signal.windows import _i0
from .nn import functional as F
from .nn._functional.basic import _keep, _masked

# ---------------------------------------------------------------------------------------------- same as F.<name>
_SAME = ("conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d bilinear celu_ selu_ prelu "
         "threshold_ hardshrink pixel_shuffle pixel_unshuffle channel_shuffle native_channel_shuffle pdist avg_pool1d "
         "adaptive_avg_pool1d rms_norm relu_").split()

# ---------------------------------------------------------------------------------------------- aten's schemas
def _reduction(value: int) -> str:
    """aten's Reduction enum: 1 averages, 2 sums, any other value leaves the loss unreduced."""
    return {1: "mean", 2: "sum"}.get(value, "none")


def _dropout_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:  # aten's check, a RuntimeError (nn.functional's is a ValueError)
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool = False) -> Tensor:
    """aten's feature_dropout: one draw per (N, C) entry, shared by the trailing dims (any rank >= 2)."""
    if input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if not training or p == 0.0:
        return input
    return _masked(input, tuple(input.shape[:2]) + (1,) * (input.dim() - 2), p, inplace)


def native_dropout(input: Tensor, p: float, train: bool | None) -> tuple[Tensor, Tensor]:
    """aten's dropout: the output and the boolean mask of kept entries (``train=None`` counts as training)."""
    if train is False or p == 0.0:
        return input.clone(), input.new_ones(input.shape, dtype=bool_)
    if not 0.0 <= p <= 1.0:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={1 - p}")
    keep = Tensor._make(_keep(input.shape, p).astype(bool))
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return input * keep * scale, keep


def _embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1, scale_grad_by_freq: bool = False,
               sparse: bool = False) -> Tensor:
    # aten's -1 (any negative) means "no padding row": F.embedding has already mapped a user's negative index
    return F.embedding(indices, weight, None if padding_idx < 0 else padding_idx,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def _rrelu(input: Tensor, lower: float, upper: float, training: bool, generator=None, inplace: bool = False):
    if generator is None:
        return F.rrelu(input, lower, upper, training, inplace)
    # draw from ``generator``: lend its state to the default generator for the call, then hand it back
    from .random import default_generator
    saved = default_generator.get_state()
    default_generator.set_state(generator.get_state())
    try:
        return F.rrelu(input, lower, upper, training, inplace)
    finally:
        generator.set_state(default_generator.get_state())
        default_generator.set_state(saved)


def embedding_bag(weight: Tensor, indices: Tensor, offsets: Tensor, scale_grad_by_freq: bool = False, mode: int = 0,
                  sparse: bool = False, per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """aten's embedding_bag over a 1-D ``indices`` (mode 0 sum, 1 mean, 2 max): the bags, and the bookkeeping
    torch returns beside them: each index's bag (none in sum mode without padding), each bag's size (not counting
    padding; zeros in sum mode), and per mode zeros, the sizes again, or each column's winning row."""
    pad = None if padding_idx is None or padding_idx < 0 else padding_idx
    out = F.embedding_bag(indices, weight, offsets, scale_grad_by_freq=scale_grad_by_freq,
                          mode=("sum", "mean", "max")[mode], sparse=sparse, per_sample_weights=per_sample_weights,
                          include_last_offset=include_last_offset, padding_idx=pad)
    idx, offs = indices._data.reshape(-1), offsets._data.astype(xp.int64)
    bags = len(offs) - 1 if include_last_offset else len(offs)
    starts = offs[:bags]
    ends = xp.append(starts[1:], len(idx))  # the last bag runs to the end
    which = xp.repeat(xp.arange(bags), ends - starts)
    counted = which if pad is None else which[idx != pad]
    # sum mode keeps no sizes: zeros, one per offset (include_last_offset's extra one too), as torch's kernel
    sizes = xp.bincount(counted, minlength=bags) if mode else xp.zeros(len(offs), dtype=xp.int64)
    if mode == 2:
        rows = xp.zeros((bags, weight.shape[1]), dtype=xp.int64)
        for bag in range(bags):
            members = idx[starts[bag]:ends[bag]]
            members = members if pad is None else members[members != pad]
            if len(members):
                rows[bag] = members[weight._data[members].argmax(axis=0)]
    else:
        rows = sizes if mode == 1 else xp.zeros(len(offs), dtype=xp.int64)
    offset2bag = which[:0] if mode == 0 and pad is None else which
    dt = idx.dtype
    return out, *(Tensor._make(a.astype(dt)) for a in (offset2bag, sizes, rows))


def _adaptive_max_pool1d(input: Tensor, output_size) -> tuple[Tensor, Tensor]:
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


# torch name: (definition, aten's arguments). ``name=default`` is optional, ``*`` starts keyword-only ones;
# ``train`` is passed on as ``training``, an int ``reduction`` as its name, an empty ``stride`` (aten's "same as
# the kernel") as None, and ``cudnn_enable(d)`` is dropped. An omitted ``reduction`` is 0 (none): aten's schemas
# say Mean, but torch's Python binding cannot read that default and passes 0, so ``torch.kl_div(x, t)`` is unreduced.
_SCHEMAS = {
    "batch_norm": (F.batch_norm, "input weight bias running_mean running_var training momentum eps cudnn_enabled"),
    "instance_norm": (F.instance_norm,
                      "input weight bias running_mean running_var use_input_stats momentum eps cudnn_enabled"),
    "layer_norm": (F.layer_norm, "input normalized_shape weight=None bias=None eps=1e-05 cudnn_enable=True"),
    "group_norm": (F.group_norm, "input num_groups weight=None bias=None eps=1e-05 cudnn_enabled=True"),
    "embedding": (_embedding, "weight indices padding_idx=-1 scale_grad_by_freq=False sparse=False"),
    "celu": (F.celu, "input alpha=1.0"),
    "selu": (F.selu, "input"),
    "threshold": (F.threshold, "input threshold value"),
    "rrelu": (_rrelu, "input lower=0.125 upper=0.3333333333333333 training=False generator=None"),
    **{name: (getattr(F, name), "input kernel_size stride=() padding=0 dilation=1 ceil_mode=False")
       for name in ("max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices")},
    **{name: (fn, "input p train") for name, fn in (("dropout", F.dropout), ("alpha_dropout", F.alpha_dropout),
                                                    ("feature_dropout", _feature_dropout),
                                                    ("feature_alpha_dropout", F.feature_alpha_dropout),
                                                    ("native_dropout", native_dropout))},
    "adaptive_max_pool1d": (_adaptive_max_pool1d, "input output_size"),
    "kl_div": (F.kl_div, "input target reduction=0 * log_target=False"),
    "cosine_embedding_loss": (F.cosine_embedding_loss, "input1 input2 target margin=0.0 reduction=0"),
    "hinge_embedding_loss": (F.hinge_embedding_loss, "input target margin=1.0 reduction=0"),
    "margin_ranking_loss": (F.margin_ranking_loss, "input1 input2 target margin=0.0 reduction=0"),
    "triplet_margin_loss": (F.triplet_margin_loss,
                            "anchor positive negative margin=1.0 p=2.0 eps=1e-06 swap=False reduction=0"),
    "poisson_nll_loss": (F.poisson_nll_loss, "input target log_input full eps reduction"),
    "binary_cross_entropy_with_logits": (F.binary_cross_entropy_with_logits,
                                         "input target weight=None pos_weight=None reduction=0"),
    "ctc_loss": (F.ctc_loss, "log_probs targets input_lengths target_lengths blank=0 reduction=0 zero_infinity=False"),
}
_INPLACE = ("dropout", "alpha_dropout", "feature_dropout", "feature_alpha_dropout", "rrelu")  # torch.dropout_ ...


def _signature(spec: str) -> inspect.Signature:
    params, kind = [], inspect.Parameter.POSITIONAL_OR_KEYWORD
    for word in spec.split():
        if word == "*":
            kind = inspect.Parameter.KEYWORD_ONLY
            continue
        name, _, default = word.partition("=")
        params.append(inspect.Parameter(name, kind, default=ast.literal_eval(default) if default
                                        else inspect.Parameter.empty))
    return inspect.Signature(params)


def _aten_form(name: str, fn, spec: str, **fixed):
    """``fn`` called through aten's argument list ``spec`` (``fixed``: keyword arguments always passed)."""
    sig = _signature(spec)

    def form(*args, **kwargs):
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as err:
            raise TypeError(f"{name}(): {err}") from None
        bound.apply_defaults()
        kw = dict(bound.arguments)
        for unused in ("cudnn_enabled", "cudnn_enable"):
            kw.pop(unused, None)
        if "train" in kw and fn is not native_dropout:
            _dropout_p(kw["p"])
            kw["training"] = kw.pop("train")
        if kw.get("stride") in ((), []):
            kw["stride"] = None
        if "reduction" in kw:
            kw["reduction"] = _reduction(kw["reduction"])
        return fn(**kw, **fixed)
    form.__name__ = form.__qualname__ = name
    form.__signature__ = sig
    form.__doc__ = f"torch.{name}{sig}: aten's form of ``{getattr(fn, '__name__', name)}``."
    return form


# ---------------------------------------------------------------------------------------------- Tensor methods
# torch's in-place functions (``torch.exp_(x)`` is ``x.exp_()``) and the Tensor queries it also exposes
_METHODS = ("abs_ acos_ acosh_ addmv_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ as_strided_ asin_ asinh_ "
            "atan_ atanh_ ceil_ clamp_ clamp_max_ clamp_min_ clip_ conj_physical_ cos_ cosh_ deg2rad_ detach_ erf_ "
            "erfc_ exp2_ exp_ expm1_ fill_ fix_ floor_ frac_ gcd_ i0_ index_put_ lcm_ ldexp_ log10_ log1p_ log2_ log_ "
            "logit_ nan_to_num_ neg_ negative_ rad2deg_ reciprocal_ round_ rsqrt_ sigmoid_ sin_ sinc_ sinh_ sqrt_ "
            "square_ tan_ tanh_ trunc_ xlogy_ zero_ resize_as_ "
            "is_complex is_signed is_inference detach get_device").split()


def _method_form(name: str):
    """``torch.<name>(input, ...)`` as ``input.<name>(...)``."""
    def form(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)
    form.__name__ = form.__qualname__ = name
    form.__doc__ = f"``input.{name}(...)``, as torch.{name}."
    return form


# ---------------------------------------------------------------------------------------------- deprecated norms
def frobenius_norm(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """aten's deprecated Frobenius norm over ``dim``: ``linalg.vector_norm(input, 2, dim, keepdim)``."""
    from . import linalg
    warnings.warn("at::frobenius_norm is deprecated and it is just left for JIT compatibility. It will be removed "
                  "in a future PyTorch release. Please use `linalg.vector_norm(A, 2., dim, keepdim)` instead")
    return linalg.vector_norm(input, 2, dim, keepdim)


def nuclear_norm(input: Tensor, dim=(-2, -1), keepdim: bool = False) -> Tensor:
    """aten's deprecated nuclear norm: ``linalg.matrix_norm(input, 'nuc', dim, keepdim)``."""
    from . import linalg
    warnings.warn("at::nuclear_norm is deprecated and it is just left for JIT compatibility. It will be removed in "
                  "a future PyTorch release. Please use `linalg.matrix_norm(A, 'nuc', dim, keepdim)` instead")
    if isinstance(dim, bool):  # torch.nuclear_norm(input, keepdim)
        dim, keepdim = (-2, -1), dim
    return linalg.matrix_norm(input, "nuc", dim, keepdim)


def native_norm(input: Tensor, p=2, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Has no CPU kernel in torch: raises its NotImplementedError."""
    raise NotImplementedError("Could not run 'aten::native_norm' with arguments from the 'CPU' backend.")


def matrix_rank(input: Tensor, *args, **kwargs) -> Tensor:
    """Removed from torch: raises its RuntimeError, which names ``linalg.matrix_rank``."""
    raise RuntimeError("This function was deprecated since version 1.9 and is now removed.\nPlease use the "
                       "`torch.linalg.matrix_rank` function instead. The parameter 'symmetric' was renamed in "
                       "`torch.linalg.matrix_rank()` to 'hermitian'.")


# ---------------------------------------------------------------------------------------------- windows
# torch computes these in the tensor's dtype, one rounding per step, its scalars rounded to that dtype too (its
# CPU kernels carry 16-bit floats in float32 between roundings): the same steps here give torch's values, not the
# float64 ones of signal.windows
def _window(name: str, window_length: int, periodic: bool, dtype, layout, device, requires_grad: bool, steps):
    if not isinstance(window_length, int) or isinstance(window_length, bool):
        raise TypeError(f"{name}(): argument 'window_length' (position 1) must be int, not "
                        f"{type(window_length).__name__}")
    dtype = _dtype.get_default_dtype() if dtype is None else _dtype.as_dtype(dtype)
    if layout is not strided:
        raise RuntimeError(f"{name} is not implemented for sparse types, got: {layout}")
    if not (dtype.is_floating_point or dtype.is_complex):
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}")
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={window_length}")
    if dtype.is_complex:
        raise NotImplementedError(f'"arange_cpu" not implemented for {dtype}')
    dt = dtype.np
    op = xp.float32 if dt.itemsize < 4 else dt.type  # the type each step is computed in

    def rnd(values):
        return xp.asarray(values).astype(dt).astype(op)
    if window_length <= 1:
        w = xp.ones(window_length)
    else:
        n = window_length + 1 if periodic else window_length
        w = steps(xp.arange(n, dtype=dt).astype(op), n, rnd, op)[:window_length]
    return _finish(xp.asarray(w).astype(dt), requires_grad, device)


def _cos(x):
    """cos rounded once from float64 (torch's vectorised cos is within an ulp of that)."""
    return xp.cos(x.astype(xp.float64)).astype(x.dtype)


def _window_args(fn):
    """The factory keywords torch's windows take, after their own arguments."""
    def window(window_length: int, *args, dtype=None, layout=strided, device=None, pin_memory: bool = False,
               requires_grad: bool = False) -> Tensor:
        return fn(window_length, *args, dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)
    window.__name__ = window.__qualname__ = fn.__name__
    window.__doc__ = fn.__doc__
    return window


def _cosine(alpha: float, beta: float):
    """The steps of ``alpha - beta cos(2 pi n / (N - 1))``."""
    def steps(w, n, rnd, op):
        w = rnd(_cos(rnd(w * rnd(2 * math.pi / (n - 1)))))
        return rnd(rnd(w * rnd(-beta)) + rnd(alpha))
    return steps


@_window_args
def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54, beta: float = 0.46,
                   **factory) -> Tensor:
    """``alpha - beta cos(2 pi n / (N - 1))``, periodic (N = window_length + 1) by default."""
    return _window("hamming_window", window_length, periodic, steps=_cosine(alpha, beta), **factory)


@_window_args
def hann_window(window_length: int, periodic: bool = True, **factory) -> Tensor:
    """``0.5 - 0.5 cos(2 pi n / (N - 1))`` (torch computes it as the Hamming window of alpha = beta = 0.5)."""
    return _window("hann_window", window_length, periodic, steps=_cosine(0.5, 0.5), **factory)


@_window_args
def bartlett_window(window_length: int, periodic: bool = True, **factory) -> Tensor:
    """The triangular window ``1 - |2n / (N - 1) - 1|``."""
    def steps(w, n, rnd, op):
        w = rnd(w * rnd(2.0 / (n - 1)))
        half = ((n - 1) >> 1) + 1
        w[half:] = rnd(rnd(-w[half:]) + op(2))
        return w
    return _window("bartlett_window", window_length, periodic, steps=steps, **factory)


@_window_args
def blackman_window(window_length: int, periodic: bool = True, **factory) -> Tensor:
    """``0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))``."""
    def steps(w, n, rnd, op):
        w = rnd(w * rnd(math.pi / (n - 1)))
        far = rnd(rnd(_cos(rnd(w * 4))) * rnd(0.08))
        near = rnd(rnd(_cos(rnd(w * 2))) * rnd(0.5))
        return rnd(rnd(far - near) + rnd(0.42))
    return _window("blackman_window", window_length, periodic, steps=steps, **factory)


@_window_args
def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, **factory) -> Tensor:
    """``I0(beta sqrt(1 - ((n - a) / a)^2)) / I0(beta)`` with ``a = (N - 1) / 2``."""
    def steps(w, n, rnd, op):
        a = op((n - 1) / 2.0)
        x = op(beta) * xp.sqrt(xp.abs(op(1) - ((w - a) / a) ** op(2)))
        return rnd(_i0(x, op) / _i0(xp.asarray(beta, dtype=op), op))
    return _window("kaiser_window", window_length, periodic, steps=steps, **factory)


def names() -> dict:
    """Every top-level form above, by torch's name."""
    out = {name: getattr(F, name) for name in _SAME}
    for name, (fn, spec) in _SCHEMAS.items():
        out[name] = _aten_form(name, fn, spec)
        if name in _INPLACE:
            out[name + "_"] = _aten_form(name + "_", fn, spec, inplace=True)
    out.update((name, _method_form(name)) for name in _METHODS if hasattr(Tensor, name))
    out.update(frobenius_norm=frobenius_norm, nuclear_norm=nuclear_norm, native_norm=native_norm,
               matrix_rank=matrix_rank, embedding_bag=embedding_bag, hamming_window=hamming_window, hann_window=hann_window,
               bartlett_window=bartlett_window, blackman_window=blackman_window, kaiser_window=kaiser_window)
    return out

