"""ONNX translations of ember's ops, by Op class name.

``convert(g, out, *args)`` gets the op's result and the positional arguments of its ``apply``
call (tensors, numbers, shapes, dims), the same ones its ``forward`` gets; it adds nodes to the
graph ``g`` and binds the result to the value that holds it.
"""
from __future__ import annotations

from .._backend import ndarray, xp
from .._tensor import Tensor
from ._graph import INT_MAX, onnx_type
from .errors import UnsupportedOperatorError

OPS: dict = {}  # Op class name -> convert(g, out, *args)


def op(*names: str):
    """Register a converter for the ops of these class names."""
    def deco(fn):
        for n in names:
            OPS[n] = fn
        return fn
    return deco


def _same_op(onnx_op: str):
    """A converter for an op that ONNX has under ``onnx_op``, with the same inputs (tensors or numbers) in order."""
    def convert(g, out, *args) -> None:
        g.bind(out, g.node(onnx_op, [g.operand(a, out.dtype) for a in args]))
    return convert


for _name, _onnx in {"Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "Tanh": "Tanh", "Sigmoid": "Sigmoid",
                     "Relu": "Relu", "Erf": "Erf", "Abs": "Abs", "Neg": "Neg", "Reciprocal": "Reciprocal",
                     "Sin": "Sin", "Cos": "Cos", "Floor": "Floor", "Ceil": "Ceil", "Sign": "Sign", "Clone": "Identity",
                     "Mul": "Mul", "MulScalar": "Mul", "AddScalar": "Add", "AddTensors": "Add", "SubTensors": "Sub",
                     "Div": "Div", "Pow": "Pow", "Maximum": "Max", "Minimum": "Min", "Matmul": "MatMul"}.items():
    OPS[_name] = _same_op(_onnx)


@op("Add", "Sub")
def _add(g, out, a, b, alpha) -> None:
    rhs = g.operand(b, out.dtype)
    if alpha != 1:
        rhs = g.node("Mul", [rhs, g.scalar(alpha, out.dtype)])
    g.bind(out, g.node(g.current_op, [g.operand(a, out.dtype), rhs]))


@op("Rsqrt")
def _rsqrt(g, out, x) -> None:
    g.bind(out, g.node("Reciprocal", [g.node("Sqrt", [g.value(x)])]))


@op("Gelu", "NormalCdf")
def _gelu(g, out, x, *_) -> None:
    """``x * Phi(x)`` (GELU) or ``Phi(x)``, with the normal CDF ``Phi(x) = (1 + erf(x / sqrt 2)) / 2``; ONNX's Gelu
    op needs opset 20."""
    half = g.scalar(0.5, out.dtype)
    erf = g.node("Erf", [g.node("Mul", [g.value(x), g.scalar(0.5 ** 0.5, out.dtype)])])
    cdf = g.node("Mul", [g.node("Add", [erf, g.scalar(1.0, out.dtype)]), half])
    g.bind(out, cdf if g.current_op == "NormalCdf" else g.node("Mul", [g.value(x), cdf]))


@op("Hardsigmoid")
def _hardsigmoid(g, out, x) -> None:
    g.bind(out, g.node("HardSigmoid", [g.value(x)], alpha=1 / 6, beta=0.5))


@op("Threshold")
def _threshold(g, out, x, threshold, value) -> None:
    above = g.node("Greater", [g.value(x), g.scalar(threshold, x.dtype)])
    g.bind(out, g.node("Where", [above, g.value(x), g.scalar(value, out.dtype)]))


@op("LeakyRelu")
def _leaky_relu(g, out, x, slope) -> None:
    g.bind(out, g.node("LeakyRelu", [g.value(x)], alpha=float(slope)))


@op("Elu")
def _elu(g, out, x, alpha) -> None:
    g.bind(out, g.node("Elu", [g.value(x)], alpha=float(alpha)))


@op("Hardtanh")
def _hardtanh(g, out, x, lo, hi) -> None:
    g.bind(out, g.node("Clip", [g.value(x), g.scalar(lo, out.dtype), g.scalar(hi, out.dtype)]))


@op("Clamp")
def _clamp(g, out, x, lo, hi) -> None:
    bounds = ["" if b is None else g.operand(b, out.dtype) for b in (lo, hi)]
    if any(isinstance(b, Tensor) for b in (lo, hi)):  # Clip takes scalars only
        y = g.value(x)
        for b, fn in zip(bounds, ("Max", "Min")):
            y = y if b == "" else g.node(fn, [y, b])
        g.bind(out, y)
    else:
        g.bind(out, g.node("Clip", [g.value(x), *bounds]))


@op("Softplus")
def _softplus(g, out, x, beta, threshold) -> None:
    # torch returns x itself above the threshold, where softplus differs from x by under 2e-9
    if beta == 1:
        g.bind(out, g.node("Softplus", [g.value(x)]))
        return
    scaled = g.node("Mul", [g.value(x), g.scalar(beta, out.dtype)])
    g.bind(out, g.node("Div", [g.node("Softplus", [scaled]), g.scalar(beta, out.dtype)]))


@op("Softmax", "LogSoftmax")
def _softmax(g, out, x, dim) -> None:
    g.bind(out, g.node(g.current_op, [g.value(x)], axis=int(dim)))


@op("Where")
def _where(g, out, cond, a, b) -> None:
    c = g.value(cond) if isinstance(cond, Tensor) else g.array(cond)
    g.bind(out, g.node("Where", [c, g.operand(a, out.dtype), g.operand(b, out.dtype)]))


@op("Cast")
def _cast(g, out, x, dtype) -> None:
    g.bind(out, g.node("Cast", [g.value(x)], to=onnx_type(dtype)))


@op("_Linear")
def _linear(g, out, x, w, b) -> None:
    if x.dim() == 2:  # torch's addmm
        g.bind(out, g.node("Gemm", [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else []), transB=1))
        return
    y = g.node("MatMul", [g.value(x), g.node("Transpose", [g.value(w)], perm=[1, 0])])
    g.bind(out, y if b is None else g.node("Add", [y, g.value(b)]))


@op("MT")
def _mt(g, out, x) -> None:
    perm = list(range(x.dim()))
    perm[-2:] = perm[-1], perm[-2]
    g.bind(out, g.node("Transpose", [g.value(x)], perm=perm))


@op("_Attention")
def _attention(g, outs, q, k, v, excluded, scale, seq_major=False) -> None:  # (seq_major: a memory layout)
    """Fused ``softmax(q * scale @ k^T, masked) @ v``: the same as MatMul, Softmax, MatMul; ``excluded`` is a
    constant bool mask (True = left out) or float mask (added), or None."""
    out, weights = _attention_nodes(g, g.value(q), g.value(k), g.value(v), k.dim(), q.dtype, excluded, scale)
    g.bind(outs[0], out)
    g.bind(outs[1], weights)


def _attention_nodes(g, q: str, k: str, v: str, rank: int, dtype, excluded, scale: float) -> tuple:
    perm = list(range(rank))
    perm[-2:] = perm[-1], perm[-2]
    scores = g.node("MatMul", [g.node("Mul", [q, g.scalar(scale, dtype)]), g.node("Transpose", [k], perm=perm)])
    if excluded is not None and excluded.dtype == xp.bool_:
        scores = g.node("Where", [g.array(excluded), g.scalar(-xp.inf, dtype), scores])
    elif excluded is not None:
        scores = g.node("Add", [scores, g.node("Cast", [g.array(excluded)], to=onnx_type(dtype))])
    weights = g.node("Softmax", [scores], axis=-1)
    return g.node("MatMul", [weights, v]), weights


@op("_SelfAttention")
def _self_attention(g, outs, qkv, excluded, scale, heads) -> None:
    """Packed self-attention: the (N, L, 3 E) projection split into q, k, v by heads (Reshape, Transpose,
    Split), ``_Attention``'s nodes, and the heads joined again into (N, L, E)."""
    e = qkv.shape[-1] // 3
    parts = g.node("Transpose", [g.node("Reshape", [g.value(qkv), g.ints([0, 0, 3, heads, e // heads])])],
                   perm=[2, 0, 3, 1, 4])
    q, k, v = (g.node("Squeeze", [t, g.ints([0])]) for t in g.node("Split", [parts, g.ints([1, 1, 1])], outputs=3,
                                                                    axis=0))
    out, weights = _attention_nodes(g, q, k, v, 4, qkv.dtype, excluded, scale)
    g.bind(outs[0], g.node("Reshape", [g.node("Transpose", [out], perm=[0, 2, 1, 3]), g.ints([0, 0, e])]))
    g.bind(outs[1], weights)


# ----------------------------------------------------------------------------- shape
@op("Reshape")
def _reshape(g, out, x, shape) -> None:
    g.bind(out, g.reshape(x, out))


@op("Expand")
def _expand(g, out, x, shape) -> None:
    # a size of 1 in Expand's target keeps the input's own size: that is how a varying size passes through
    lead = out.dim() - x.dim()
    target = list(out.shape)
    dx = g.dynamic(x)
    for d, varies in enumerate(g.dynamic(out)):
        if varies:
            target[d] = 1 if d >= lead and dx[d - lead] else g.size(out, d)
            if target[d] is None:
                raise UnsupportedOperatorError("expand", g.opset, f"expanding {list(x.shape)} to {list(out.shape)} "
                                               "makes a size that varies with the dynamic axes")
    g.bind(out, g.node("Expand", [g.value(x), g.shape(target)]))


@op("Permute")
def _permute(g, out, x, dims) -> None:
    g.bind(out, g.node("Transpose", [g.value(x)], perm=[int(d) for d in dims]))


@op("Cat")
def _cat(g, out, dim, *xs) -> None:
    g.bind(out, g.node("Concat", [g.operand(x, out.dtype) for x in xs], axis=int(dim)))


@op("Split")
def _split(g, outs, x, sizes, dim) -> None:
    names = g.node("Split", [g.value(x), g.ints(sizes)], outputs=len(sizes), axis=int(dim))
    for o, name in zip(outs, [names] if len(sizes) == 1 else names):
        g.bind(o, name)


@op("Unbind")
def _unbind(g, outs, x, dim) -> None:
    n = len(outs)
    names = g.node("Split", [g.value(x), g.ints([1] * n)], outputs=n, axis=int(dim))
    for o, name in zip(outs, [names] if n == 1 else names):
        g.bind(o, g.node("Squeeze", [name, g.ints([dim])]))


@op("_ConstantPad")
def _constant_pad(g, out, x, pads, value) -> None:
    widths = [lo for lo, _ in pads] + [hi for _, hi in pads]  # ONNX lists every dim's start, then every end
    g.bind(out, g.node("Pad", [g.value(x), g.ints(widths), g.scalar(value, out.dtype)], mode="constant"))


@op("Index")
def _index(g, out, x, idx) -> None:
    """``x[idx]`` for ints, slices, None, ``...`` and one integer index array: a Slice (ints become slices of
    one, squeezed after), a Gather for the array, an Unsqueeze for the Nones."""
    arrays = [i for i in idx if isinstance(i, ndarray)]
    if len(arrays) > 1 or any(a.dtype.kind == "b" for a in arrays):
        raise UnsupportedOperatorError("index", g.opset, "indexing with a bool mask or several index arrays")
    used = sum(1 for i in idx if i is not None and i is not Ellipsis)
    items = []
    for i in idx:
        items.extend([slice(None)] * (x.dim() - used) if i is Ellipsis else [i])
    starts, ends, axes, steps, squeeze, unsqueeze, gather = [], [], [], [], [], [], None
    dim = pos = 0  # dim of x, dim of the result
    for i in items:
        if i is None:
            unsqueeze.append(pos)
            pos += 1
            continue
        if isinstance(i, int):
            starts.append(i), ends.append(INT_MAX if i == -1 else i + 1), axes.append(dim), steps.append(1)
            squeeze.append(dim)
        elif isinstance(i, slice):
            if i != slice(None):
                starts.append(0 if i.start is None else i.start), axes.append(dim)
                ends.append(INT_MAX if i.stop is None else i.stop), steps.append(1 if i.step is None else i.step)
            pos += 1
        else:
            if unsqueeze or squeeze:
                raise UnsupportedOperatorError("index", g.opset, "an index array together with None or ints")
            gather = (dim, i)
            pos += i.ndim
        dim += 1
    y = src = g.value(x)
    if axes:
        y = g.node("Slice", [y, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if gather is not None:
        y = g.node("Gather", [y, g.array(gather[1])], axis=gather[0])
    if squeeze:
        y = g.node("Squeeze", [y, g.ints(squeeze)])
    if unsqueeze:
        y = g.node("Unsqueeze", [y, g.ints(unsqueeze)])
    g.bind(out, y if y is not src else g.node("Identity", [y]))


@op("IndexPut")
def _index_put(g, out, x, value, idx, accumulate) -> None:
    """``masked_fill``: a value put where a bool mask of ``x``'s shape holds is a Where."""
    if accumulate or len(idx) != 1 or not isinstance(idx[0], ndarray) or idx[0].dtype.kind != "b" or \
            idx[0].shape != tuple(x.shape) or (isinstance(value, Tensor) and value.dim()):
        raise UnsupportedOperatorError("index_put", g.opset, "only masked_fill with a number is supported")
    g.bind(out, g.node("Where", [g.array(idx[0]), g.operand(value, out.dtype), g.value(x)]))


# ----------------------------------------------------------------------------- reductions
@op("Standardize")
def _standardize(g, outs, x, dims, eps, center) -> None:
    """``(x - mean) / sqrt(var + eps)`` over ``dims`` (``x / sqrt(mean(x^2) + eps)`` without ``center``), with the
    mean, the variance (mean square) and the reciprocal deviation it also returns: layer, group, instance and RMS
    norm reached through their functions."""
    xhat, mean, var, rstd = outs
    centered = g.value(x)
    if center:
        g.bind(mean, g.reduce("ReduceMean", centered, dims, True))
        centered = g.node("Sub", [centered, g.value(mean)])
    g.bind(var, g.reduce("ReduceMean", g.node("Mul", [centered, centered]), dims, True))
    g.bind(rstd, g.node("Reciprocal", [g.node("Sqrt", [g.node("Add", [g.value(var), g.scalar(eps, x.dtype)])])]))
    g.bind(xhat, g.node("Mul", [centered, g.value(rstd)]))



@op("Sum")
def _sum(g, out, x, dims, keepdim, dt) -> None:
    y = g.value(x) if dt is None or x.dtype == out.dtype else g.node("Cast", [g.value(x)], to=onnx_type(out.dtype))
    g.bind(out, g.reduce("ReduceSum", y, _axes(dims, x), keepdim))


@op("Mean")
def _mean(g, out, x, dims, keepdim) -> None:
    g.bind(out, g.reduce("ReduceMean", g.value(x), _axes(dims, x), keepdim))


def _axes(dims, x) -> list:
    if dims is None:
        return list(range(x.dim()))
    return [int(d) for d in (dims if isinstance(dims, (tuple, list)) else (dims,))]


@op("Amax", "Amin", "Max", "Min")
def _extreme(g, out, x, dims, keepdim, *rest) -> None:
    """amax/amin, max/min of all elements, and the values of max/min along a dim (there ``dims`` is the
    index tensor picked from the data, and the dim comes next): ReduceMax/ReduceMin."""
    reduce = "ReduceMax" if g.current_op in ("Amax", "Max") else "ReduceMin"
    if isinstance(dims, Tensor):
        dims, keepdim = keepdim, rest[0]
    g.bind(out, g.reduce(reduce, g.value(x), _axes(dims, x), keepdim))


@op("Var", "Std")
def _var(g, out, x, dims, correction, keepdim) -> None:
    """Mean of squared deviations, over ``n - correction``."""
    axes = _axes(dims, x)
    if any(g.dynamic(x)[d] for d in axes):
        raise UnsupportedOperatorError(g.current_op.lower(), g.opset, "over a dim that varies with the dynamic axes")
    deviation = g.node("Sub", [g.value(x), g.reduce("ReduceMean", g.value(x), axes, True)])
    squares = g.reduce("ReduceSum", g.node("Mul", [deviation, deviation]), axes, keepdim)
    n = 1
    for d in axes:
        n *= x.shape[d]
    var = g.node("Div", [squares, g.scalar(max(n - correction, 0), out.dtype)])
    g.bind(out, var if g.current_op == "Var" else g.node("Sqrt", [var]))


@op("VectorNorm")
def _vector_norm(g, out, x, ord, dims, keepdim) -> None:
    axes = _axes(dims, x)
    if ord in (1, 2):
        g.bind(out, g.reduce(f"ReduceL{int(ord)}", g.value(x), axes, keepdim))
    elif ord == float("inf"):
        g.bind(out, g.reduce("ReduceMax", g.node("Abs", [g.value(x)]), axes, keepdim))
    else:
        raise UnsupportedOperatorError("vector_norm", g.opset, f"ord={ord}")
