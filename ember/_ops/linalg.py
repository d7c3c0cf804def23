"""Linear algebra ops: the matmul family, einsum and friends.

Two primitives carry gradients here: ``Matmul`` (batched, NumPy's matmul) and
``Einsum``. Everything else (mm, bmm, mv, dot, outer, addmm, tensordot, kron)
is a checked composition of them, so it needs no backward of its own.
The decompositions of ``ember.linalg`` live in ember/linalg.py.
"""
from __future__ import annotations

import math

from .. import _complex32, _dtype
from .._backend import matmul as _array_matmul, xp
from .._dtype import is_half
from .._tensor import Tensor
from ..amp import autocast_mode as _amp
from ..autograd.function import Op
from ..autograd.forward_ad import total
from .common import register, sum_to, binary_operands, inplace_method
from .complex import cj

# torch's C++ scalar-type names, used in its dtype-mismatch messages
_CNAME = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
          "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
          "bool": "bool"}


def _sparse(x) -> bool:
    """An ember.sparse tensor (COO or CSR), which has its own products."""
    return not isinstance(x, Tensor) and hasattr(x, "to_dense")


def _check_tensor(x, op: str, arg: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not {type(x).__name__}")


def _same_dtype(a: Tensor, b: Tensor) -> None:
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_CNAME[a.dtype.name]} != "
                           f"{_CNAME[b.dtype.name]}")


# ----------------------------------------------------------------------------- primitives
class MT(Op):
    """The last two dims swapped: a view, its own adjoint."""

    batching = "elementwise"

    @staticmethod
    def forward(x):
        return xp.swapaxes(x, -1, -2)

    @staticmethod
    def backward(ctx, g):
        return MT.apply(g)

    @staticmethod
    def jvp(inputs, out, t):
        return MT.apply(t)


def mT(x: Tensor) -> Tensor:
    """``x`` with its last two dims swapped (a view), as torch's ``Tensor.mT``."""
    if x._data.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got {x._data.ndim}-D "
                           "tensor.")
    return MT.apply(x)


class Matmul(Op):
    """Batched matrix product of two tensors of >= 2 dims (batch dims broadcast)."""

    batching = "elementwise"

    @staticmethod
    def forward(a, b):
        return _array_matmul(a, b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b = inputs
        ctx.shapes = (a._data.shape, b._data.shape)
        # each input's gradient needs only the other input
        ctx.save_for_backward(a if b._requires_grad else None, b if a._requires_grad else None)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        sa, sb = ctx.shapes
        ga = None if b is None else sum_to(Matmul.apply(g, MT.apply(cj(b))), sa)
        gb = None
        if a is not None:
            if len(sb) == 2 and len(sa) > 2:
                # a weight shared by every batch: fold the batch into rows, one product, no big sum
                k, m = sb
                rows = math.prod(sa[:-1])  # not -1: with a zero-size dim, -1 is ambiguous
                gb = Matmul.apply(MT.apply(cj(a).reshape(rows, k)), g.reshape(rows, m))
            else:
                gb = sum_to(Matmul.apply(MT.apply(cj(a)), g), sb)
        return ga, gb

    @staticmethod
    def jvp(inputs, out, ta, tb):  # bilinear: the product rule
        a, b = inputs
        return total(None if ta is None else Matmul.apply(ta, b), None if tb is None else Matmul.apply(a, tb))


# ----------------------------------------------------------------------------- matmul family
@register(operators=("__matmul__",), reflected=("__rmatmul__",))
def matmul(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Matrix product with torch's rules for 1-D operands and broadcast batch dims."""
    if _amp.state.on and out is None:
        return _amp.call(matmul, _amp.LOWER, input, other)
    if _sparse(input) or _sparse(other):
        from .. import sparse
        return sparse.mm(input, other)
    _check_tensor(input, "matmul", "input")
    _check_tensor(other, "matmul", "other")
    sa, sb = input._data.shape, other._data.shape
    na, nb = len(sa), len(sb)
    if na == 0 or nb == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D")
    _same_dtype(input, other)
    if is_half(input._data.dtype) or input._data.dtype.kind == "V":
        _complex32.refuse(input, "dot")
        return _opmath(matmul, input, other)
    if na == 2 and nb == 2:
        if sa[1] != sb[0]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({sa[0]}x{sa[1]} and {sb[0]}x{sb[1]})")
        return Matmul.apply(input, other)
    if na == 1 and nb == 1:
        if sa[0] != sb[0]:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{sa[0]}] and src [{sb[0]}] to have the "
                               f"same number of elements, but got {sa[0]} and {sb[0]} elements respectively")
        return Matmul.apply(input.reshape(1, -1), other.reshape(-1, 1)).reshape(())
    if nb == 1:
        if sa[-1] != sb[0]:
            rows = math.prod(sa[:-1])
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{sa[-1]}), vec ({sb[0]})")
        return Matmul.apply(input, other.reshape(-1, 1)).reshape(sa[:-1])
    if na == 1:
        if sa[0] != sb[-2]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied (1x{sa[0]} and {sb[-2]}x{sb[-1]})")
        res = Matmul.apply(input.reshape(1, -1), other)
        return res.reshape(res._data.shape[:-2] + res._data.shape[-1:])
    try:
        batch = xp.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        from .common import broadcast_error
        raise broadcast_error("matmul", sa[:-2], sb[:-2]) from None
    if sa[-1] != sb[-2]:
        n = math.prod(batch)
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{n}, {sa[-1]}] but "
                           f"got: [{n}, {sb[-2]}].")
    return Matmul.apply(input, other)


def _need_dims(x: Tensor, nd: int, op: str, msg: str) -> None:
    if x._data.ndim != nd:
        raise RuntimeError(f"{op}: {msg}" if op else msg)


@register()
def mm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Product of two matrices (no broadcasting)."""
    if _amp.state.on and out is None:
        return _amp.call(mm, _amp.LOWER, input, mat2)
    if _sparse(input) or _sparse(mat2):
        from .. import sparse
        return sparse.mm(input, mat2)
    _check_tensor(input, "mm", "input")
    _check_tensor(mat2, "mm", "mat2")
    _need_dims(input, 2, "", "self must be a matrix")
    _need_dims(mat2, 2, "", "mat2 must be a matrix")
    return matmul(input, mat2)


@register()
def bmm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Product of two batches of matrices with the same batch size."""
    if _amp.state.on and out is None:
        return _amp.call(bmm, _amp.LOWER, input, mat2)
    _check_tensor(input, "bmm", "input")
    _check_tensor(mat2, "bmm", "mat2")
    _need_dims(input, 3, "", "batch1 must be a 3D tensor")
    _need_dims(mat2, 3, "", "batch2 must be a 3D tensor")
    sa, sb = input._data.shape, mat2._data.shape
    if sb[:2] != (sa[0], sa[2]):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{sa[0]}, {sa[2]}] but "
                           f"got: [{sb[0]}, {sb[1]}].")
    _same_dtype(input, mat2)
    if is_half(input._data.dtype):
        return _opmath(bmm, input, mat2)
    return Matmul.apply(input, mat2)


@register()
def mv(input: Tensor, vec: Tensor, *, out=None) -> Tensor:
    """Matrix-vector product."""
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input._data.ndim}, {vec._data.ndim}")
    return matmul(input, vec)


@register()
def dot(input: Tensor, tensor: Tensor, *, out=None) -> Tensor:
    """Dot product of two 1-D tensors."""
    if input._data.ndim != 1 or tensor._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input._data.ndim}D and {tensor._data.ndim}D tensors")
    if input._data.dtype != tensor._data.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{_short(input)} and {_short(tensor)}")
    return matmul(input, tensor)


def _short(t: Tensor) -> str:
    from .common import _type_name  # (torch's names of every dtype: Float, ComplexFloat, ...)
    return _type_name(t.dtype)


@register(aliases=("ger",))
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two 1-D tensors."""
    for name, v in (("self", input), ("vec2", vec2)):
        if v._data.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v._data.ndim}-D")
    a, b = binary_operands(input, vec2)
    return a.reshape(-1, 1) * b


def _all_half(*tensors) -> bool:
    """Whether the operands are all of one half type (mixed dtypes are left to the usual checks)."""
    return is_half(tensors[0]._data.dtype) and all(getattr(t, "dtype", None) is tensors[0].dtype for t in tensors)


def _opmath(fn, *tensors: Tensor, **kwargs) -> Tensor:
    """``fn`` of half-type tensors computed in float32 and rounded once, as torch's kernels (their opmath)."""
    return fn(*(t.float() for t in tensors), **kwargs).to(tensors[-1].dtype)


def _scaled_sum(input: Tensor, prod: Tensor, beta, alpha) -> Tensor:
    """``beta * input + alpha * prod``; with beta == 0 the input is ignored (nan and inf too), as torch does."""
    if prod._data.dtype.kind in "iub":  # torch takes the scalars in the integer dtype: 0.6 is 0
        beta, alpha = int(beta), int(alpha)
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        xp.broadcast_shapes(input._data.shape, prod._data.shape)
        return prod
    return prod + (input if beta == 1 else input * beta)


@register()
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``."""
    if _amp.state.on and out is None:
        return _amp.call(addmm, _amp.LOWER, input, mat1, mat2, beta=beta, alpha=alpha)
    if _all_half(mat1, mat2, input):
        return _opmath(addmm, input, mat1, mat2, beta=beta, alpha=alpha)
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


@register()
def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``."""
    if _all_half(mat, vec, input):
        return _opmath(addmv, input, mat, vec, beta=beta, alpha=alpha)
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


@register()
def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * outer(vec1, vec2)``."""
    return _scaled_sum(input, outer(vec1, vec2), beta, alpha)


@register()
def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * (batch1 @ batch2)`` over a batch of matrices."""
    if _amp.state.on and out is None:
        return _amp.call(baddbmm, _amp.LOWER, input, batch1, batch2, beta=beta, alpha=alpha)
    if _all_half(batch1, batch2, input):
        return _opmath(baddbmm, input, batch1, batch2, beta=beta, alpha=alpha)
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


# ----------------------------------------------------------------------------- einsum
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(equation: str, shapes) -> tuple:
    """The equation made explicit: one subscript string per operand and the output's, '...' spelled out."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation"
                           if len(subs) < len(shapes) else
                           "einsum(): fewer operands were provided than specified in the equation")
    free = [c for c in _LETTERS[::-1] if c not in eq]
    ell_nd = 0
    for i, (s, shp) in enumerate(zip(subs, shapes)):
        named = len(s.replace("...", ""))
        if "..." in s:
            ell_nd = max(ell_nd, len(shp) - named)
        if len(shp) < named or ("..." not in s and len(shp) != named):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) does not match the "
                               f"number of dimensions ({len(shp)}) for operand {i}"
                               + ("" if "..." in s else " and no ellipsis was given"))
    ell = "".join(free[:ell_nd][::-1])
    subs = [s.replace("...", ell[ell_nd - (len(shp) - len(s) + 3):] if "..." in s else "")
            for s, shp in zip(subs, shapes)]
    if not arrow:
        counts = {}
        for s in subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    for c in out:
        if not any(c in s for s in subs):
            raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input "
                               "operand")
    return subs, out


class Einsum(Op):
    @staticmethod
    def forward(eq, *arrays):
        if is_half(arrays[0].dtype):  # summed in float32 and rounded once, as torch (NumPy refuses bfloat16)
            return Einsum.forward(eq, *(a.astype(xp.float32) for a in arrays)).astype(arrays[0].dtype)
        # optimize lets NumPy contract pairs with BLAS (tensordot) instead of its C loops
        return xp.asarray(xp.einsum(eq, *arrays, optimize=len(arrays) > 1))

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.eq = inputs[0]
        ctx.save_for_backward(*inputs[1:])

    @staticmethod
    def backward(ctx, g):
        ops = ctx.saved_tensors
        lhs, out = ctx.eq.split("->")
        subs = lhs.split(",")
        sizes = {}
        for s, t in zip(subs, ops):
            for c, n in zip(s, t._data.shape):
                sizes[c] = max(sizes.get(c, 1), n)
        grads = [None]
        for i, (s, t) in enumerate(zip(subs, ops)):
            if not t._requires_grad:
                grads.append(None)
                continue
            others = [(subs[j], ops[j]) for j in range(len(ops)) if j != i]
            seen = set(out).union(*[set(sj) for sj, _ in others])
            spare = [c for c in _LETTERS if c not in ctx.eq]
            target, extra = "", []
            for c in s:
                if c in target:  # a repeated subscript reads a diagonal: its gradient lands on one
                    d = spare.pop()
                    extra.append((c + d, _const(xp.eye(sizes[c], dtype=g._data.dtype))))
                    target += d
                    continue
                if c not in seen:  # summed in this operand alone: its gradient is broadcast along it
                    extra.append((c, _const(xp.ones(sizes[c], dtype=g._data.dtype))))
                    seen.add(c)
                target += c
            terms = [(out, g)] + others + extra
            eq = ",".join(sj for sj, _ in terms) + "->" + target
            gi = Einsum.apply(eq, *[tj for _, tj in terms])
            grads.append(_fit(gi, t._data.shape))
        return tuple(grads)


def _fit(g: Tensor, shape) -> Tensor:
    """A gradient brought to an operand's shape: summed where the operand broadcast (size 1), expanded
    where the others did."""
    dims = tuple(k for k, (n, m) in enumerate(zip(g._data.shape, shape)) if m == 1 and n != 1)
    if dims:
        g = g.sum(dims, keepdim=True)
    return g if g._data.shape == tuple(shape) else g.expand(shape)


def _const(a) -> Tensor:
    return Tensor._make(a)


@register(method=False)
def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation over the operands, as torch.einsum (implicit output and '...' supported)."""
    if _amp.state.on:  # torch's einsum is made of bmm, which CPU autocast runs in its lower precision
        return _amp.call(einsum, _amp.LOWER, equation, *operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for i, o in enumerate(operands):
        _check_tensor(o, "einsum", f"operands[{i}]")
    if len({o._data.dtype for o in operands}) > 1:
        a, b = operands[0], next(o for o in operands if o._data.dtype != operands[0]._data.dtype)
        raise RuntimeError(f"expected scalar type {_short(a)} but found {_short(b)}")
    subs, out = _parse_einsum(equation, [o._data.shape for o in operands])
    for c in set("".join(subs)):
        dims = {n for s, o in zip(subs, operands) for k, n in zip(s, o._data.shape) if k == c}
        if len(dims - {1}) > 1:
            raise RuntimeError(f"einsum(): operands do not broadcast with remapped shapes (original->remapped) for "
                               f"subscript {c}: sizes {sorted(dims)}")
    if operands[0]._data.dtype.kind in "iub" and all(
            any(c not in out and not any(c in t for j, t in enumerate(subs) if j != i) for c in s)
            for i, s in enumerate(subs)):
        # torch sums an operand's own dims first, with sum's promotion: integers become int64
        operands = [o.to(_dtype.int64) for o in operands]
    return Einsum.apply(",".join(subs) + "->" + out, *operands)


@register()
def tensordot(a: Tensor, b: Tensor, dims=2, out=None) -> Tensor:
    """Contract ``dims`` (a count, or two lists of dims) of ``a`` with those of ``b``."""
    na, nb = a._data.ndim, b._data.ndim
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(na - dims, na)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    da = [d % na if na else d for d in da]
    db = [d % nb if nb else d for d in db]
    sa = list(_LETTERS[:na])
    sb = list(_LETTERS[na:na + nb])
    for i, j in zip(da, db):
        if a._data.shape[i] != b._data.shape[j] and 1 not in (a._data.shape[i], b._data.shape[j]):
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a._data.shape[i]} in dim "
                               f"{i} and second has size {b._data.shape[j]} in dim {j}")
        sb[j] = sa[i]
    out_s = [c for k, c in enumerate(sa) if k not in da] + [c for k, c in enumerate(sb) if k not in db]
    return einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out_s)}", a, b)


@register()
def kron(input: Tensor, other: Tensor) -> Tensor:
    """Kronecker product: every element of ``input`` scales a block equal to ``other``."""
    input, other = binary_operands(input, other)
    nd = max(input._data.ndim, other._data.ndim)
    sa = (1,) * (nd - input._data.ndim) + input._data.shape
    sb = (1,) * (nd - other._data.ndim) + other._data.shape
    la, lb = _LETTERS[:nd], _LETTERS[nd:2 * nd]
    eq = f"{la},{lb}->{''.join(x + y for x, y in zip(la, lb))}"
    prod = einsum(eq, input.reshape(sa), other.reshape(sb))
    return prod.reshape(tuple(x * y for x, y in zip(sa, sb)))


# ----------------------------------------------------------------------------- small products and statistics
@register()
@_amp.fp32
def trace(input: Tensor) -> Tensor:
    """The sum of a matrix's main diagonal."""
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    return input.diagonal().sum()


@register()
def inner(input: Tensor, other: Tensor) -> Tensor:
    """The sum of products over the last dims of both (a product when one is 0-d)."""
    if input._data.ndim == 0 or other._data.ndim == 0:
        return input * other
    if input._data.shape[-1] != other._data.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input.shape)} and {list(other.shape)}.")
    return tensordot(input, other, dims=([-1], [-1]))


@register()
def vdot(input: Tensor, other: Tensor) -> Tensor:
    """The dot product of two 1-D tensors (conjugating the first, a no-op for real ones)."""
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input._data.ndim}D and {other._data.ndim}D tensors")
    return dot(cj(input), other)


@register()
def dist(input: Tensor, other: Tensor, p=2) -> Tensor:
    """The ``p``-norm of ``input - other``."""
    from ..linalg import vector_norm
    return vector_norm(input - other, p)


@register()
def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,
        aweights: Tensor | None = None) -> Tensor:
    """The covariance matrix of the variables in ``input``'s rows (observations in columns)."""
    if input._data.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input._data.ndim} dimensions")
    x = input.reshape(1, -1) if input._data.ndim < 2 else input
    for name, w in (("fweights", fweights), ("aweights", aweights)):
        if w is not None:
            _check_cov_weights(name, w, x._data.shape[1])
    if not _dtype.is_float(x._data.dtype):
        x = x.to(_dtype.get_default_dtype())
    n = x._data.shape[1]
    w = None
    if fweights is not None:
        w = fweights
    if aweights is not None:
        w = aweights if w is None else w * aweights
    if w is None:
        avg = x.mean(1, keepdim=True)
        fact = n - correction
        xw = x - avg
    else:
        w_sum = w.sum()
        avg = (x * w).sum(1, keepdim=True) / w_sum
        if correction == 0:
            fact = w_sum
        elif aweights is None:
            fact = w_sum - correction
        else:
            fact = w_sum - correction * (w * aweights).sum() / w_sum
        xw = (x - avg) * w
    fact = fact.clamp(min=0) if isinstance(fact, Tensor) else float(fact if fact > 0 else 0)
    c = matmul(xw, (x - avg).mT) / fact
    return c.reshape(()) if x._data.shape[0] == 1 else c  # one variable: a 0-d variance, as torch's


def _check_cov_weights(name: str, w: Tensor, n: int) -> None:
    """torch's checks of cov's frequency (integral) and analytic (floating) weights."""
    if w._data.ndim > 1:
        raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got {name} with "
                           f"{w._data.ndim} dimensions")
    kind = w._data.dtype.kind
    if name == "fweights" and kind not in "iub":
        raise RuntimeError(f"cov(): expected fweights to have integral dtype but got fweights with {_short(w)} dtype")
    if name == "aweights" and not _dtype.is_float(w._data.dtype):
        raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got aweights with "
                           f"{_short(w)} dtype")
    if w._data.size != n:
        raise RuntimeError(f"cov(): expected {name} to have the same numel as there are observations in the input "
                           f"but got {w._data.size} != {n}")
    if (w._data < 0).any():
        raise RuntimeError(f"cov(): {name} cannot be negative")


@register()
def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the variables in ``input``'s rows."""
    c = cov(input)
    if c._data.ndim == 0:
        return c / c
    std = c.diagonal().sqrt()
    return (c / std.reshape(-1, 1) / std.reshape(1, -1)).clamp(-1, 1)


# ----------------------------------------------------------------------------- round 2: more products and distances
@register()
def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``."""
    if _amp.state.on and out is None:
        return _amp.call(addbmm, _amp.LOWER, input, batch1, batch2, beta=beta, alpha=alpha)
    prod = bmm(batch1, batch2)
    return _scaled_sum(input, prod.sum(0, dtype=None if prod.is_floating_point() else prod.dtype), beta,
                       alpha)  # integers keep their dtype


# the in-place forms write into ``input``, through the registry's one in-place wrapper
for _fn in (addmm, addmv, addr, baddbmm, addbmm):
    setattr(Tensor, _fn.__name__ + "_", inplace_method(_fn, _fn.__name__ + "_"))


@register(method=False)
def chain_matmul(*matrices) -> Tensor:
    """The product of 2-D matrices, in the cheapest order (deprecated in torch for linalg.multi_dot)."""
    from ..linalg import multi_dot
    for i, m in enumerate(matrices):
        if m._data.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m._data.ndim}, expected 2 instead.")
    if len(matrices) == 1:
        return matrices[0].clone()
    return multi_dot(matrices)


@register(method=False)
@_amp.fp32
def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode=None) -> Tensor:
    """The ``p``-norm distance between each row of ``x1`` and each row of ``x2`` (batch dims broadcast)."""
    from ..linalg import vector_norm
    for name, x in (("X1", x1), ("X2", x2)):
        if x._data.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x._data.ndim}D")
        if is_half(x._data.dtype):
            from .common import _type_name
            raise NotImplementedError(f"\"cdist\" not implemented for '{_type_name(x.dtype)}'")
        if x._data.dtype.kind != "f":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: {_short(x)}")
    if x1._data.shape[-1] != x2._data.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1._data.shape[-1]} "
                           f"X2: {x2._data.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    return vector_norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, -1)


@register(inplace="renorm_")
def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """``input`` with each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled down to it."""
    from ..linalg import vector_norm
    from .common import wrap_dim
    if input._data.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input._data.ndim} dimensions")
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    axis = wrap_dim(int(dim), input._data.ndim, "renorm")
    if is_half(input._data.dtype):  # norms, factors and products in float32, rounded once, as torch's kernel
        return renorm(input.float(), p, dim, maxnorm).to(input.dtype)
    norms = vector_norm(input, p, tuple(d for d in range(input._data.ndim) if d != axis), keepdim=True)
    factor = (maxnorm / (norms + 1e-7)).where(Tensor._make(norms._data > maxnorm), 1.0)
    return input * factor
