"""ember.linalg, continued: the ``_ex`` variants (result plus LAPACK's ``info``), tensor inverses and
solves, ``cond``, ``vecdot``, ``vander``, ``diagonal`` and ``torch.pinverse``.

The ``_ex`` ops never raise on a singular (or indefinite) matrix: that matrix's result is what LAPACK
leaves (NaN for an inverse or solve, the partial factor for Cholesky) and ``info`` says where it
failed, unless ``check_errors=True``. Their gradients are those of the plain ops.
"""
from __future__ import annotations

import math
from collections import namedtuple

from .._backend import xp
from .._tensor import Tensor
from ..amp import autocast_mode as _amp
from ..autograd.function import Op
from .common import register, norm_dims
from .linalg import _short
from ..linalg import (LinAlgError, _square, _T, _col, _outputs, _const, _inv_grad, _solve_grad, _cholesky_grad,
                      _cholesky_jvp, _getrf, _lu_info, _solve_operands, LUFactor, inv, solve, pinv, svdvals,
                      matrix_norm)

InvExResult = namedtuple("linalg_inv_ex", ["inverse", "info"])
SolveExResult = namedtuple("linalg_solve_ex", ["result", "info"])
CholeskyExResult = namedtuple("linalg_cholesky_ex", ["L", "info"])
LUFactorExResult = namedtuple("linalg_lu_factor_ex", ["LU", "pivots", "info"])


def _per_matrix(fn, fallback, out_shape, *arrays):
    """``fn`` on a batch of matrices, and LAPACK's info (int32 per matrix). Where LAPACK refuses a
    matrix, ``fallback`` gives that matrix's result and info instead of an error."""
    batch = xp.broadcast_shapes(*(a.shape[:-2] for a in arrays))
    try:
        return fn(*arrays), xp.zeros(batch, xp.int32)
    except xp.linalg.LinAlgError:
        pass
    flat = [xp.broadcast_to(a, batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:]) for a in arrays]
    out = xp.empty((len(flat[0]),) + out_shape[-2:], arrays[0].dtype)
    info = xp.zeros(len(flat[0]), xp.int32)
    for i, mats in enumerate(zip(*flat)):
        try:
            out[i] = fn(*mats)
        except xp.linalg.LinAlgError:
            out[i], info[i] = fallback(*mats)
    return out.reshape(batch + out_shape[-2:]), info.reshape(batch)


def _singular(A, *rest):
    """A singular matrix's inverse or solve: NaN, with getrf's info (its first zero pivot)."""
    out_shape = (rest[0] if rest else A).shape
    return xp.full(out_shape, xp.nan, A.dtype), _lu_info(_getrf(A)[0])


def _potf2(A):
    """Unblocked Cholesky (lower) up to the first non-positive pivot, which it leaves in place, as LAPACK."""
    L = xp.tril(A)
    for j in range(A.shape[-1]):
        ajj = L[j, j] - L[j, :j] @ L[j, :j]
        if not ajj > 0:
            L[j, j] = ajj
            return L, j + 1
        L[j, j] = ajj = math.sqrt(ajj)
        L[j + 1:, j] = (L[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / ajj
    return L, 0


def _raise_on(info, op: str, msg: str, cls=LinAlgError) -> None:
    """check_errors: torch's error naming the first failed matrix (and its batch element)."""
    bad = xp.flatnonzero(info.reshape(-1))
    if bad.size:
        where = f"(Batch element {bad[0]}): " if info.ndim else ""
        raise cls(f"{op}: {where}{msg.format(info.reshape(-1)[bad[0]])}")


_FAILURES = {  # op: (what LAPACK leaves for a failed matrix, the name torch's message uses, the message)
    "linalg.inv": (_singular, "linalg.inv", "The diagonal element {} is zero, the inversion could not be "
                   "completed because the input matrix is singular."),
    "linalg.solve": (_singular, "torch.linalg.solve", "The solver failed because the input matrix is singular."),
    "linalg.cholesky": (_potf2, "linalg.cholesky", "The factorization could not be completed because the input is "
                        "not positive-definite (the leading minor of order {} is not positive-definite)."),
}


def raise_failure(op: str, fn, arrays) -> None:
    """torch's LinAlgError for a LAPACK call that refused its input: the first failed batch element and
    LAPACK's info (which pivot, which minor)."""
    if op not in _FAILURES:
        raise LinAlgError(f"{op}: The input matrix is singular.")
    fallback, name, msg = _FAILURES[op]
    _raise_on(_per_matrix(fn, fallback, arrays[-1].shape, *arrays)[1], name, msg)


class _WithInfo(Op):
    """An op returning (result, info): only the result carries gradient, read back from the node."""

    differentiable_outputs = (0,)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.outs = output


class InvEx(_WithInfo):
    @staticmethod
    def forward(A):
        return _per_matrix(xp.linalg.inv, _singular, A.shape, A)

    @staticmethod
    def backward(ctx, g, _):
        return _inv_grad(_outputs(ctx)[0], g)


def inv_ex(A: Tensor, *, check_errors: bool = False, out=None) -> InvExResult:
    """The inverse and LAPACK's info (0, or the first zero pivot of a singular matrix, whose inverse is NaN)."""
    Y, info = InvEx.apply(_square(A, "linalg.inv_ex"))
    if check_errors:
        _raise_on(info._data, "linalg.inv_ex", _FAILURES["linalg.inv"][2])
    return InvExResult(Y, info)


class SolveEx(_WithInfo):
    @staticmethod
    def forward(A, B):
        batch = xp.broadcast_shapes(A.shape[:-2], B.shape[:-2])
        return _per_matrix(xp.linalg.solve, _singular, batch + B.shape[-2:], A, B)

    @staticmethod
    def setup_context(ctx, inputs, output):
        A, B = inputs
        ctx.shapes = (A._data.shape, B._data.shape)
        ctx.outs = output
        ctx.save_for_backward(A)

    @staticmethod
    def backward(ctx, g, _):
        A, = ctx.saved_tensors
        return _solve_grad(A, _outputs(ctx)[0], g, ctx.shapes)


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False, out=None) -> SolveExResult:
    """``linalg.solve``'s X and LAPACK's info (0, or the first zero pivot of a singular A, whose X is NaN)."""
    if not left:
        _square(A, "linalg.solve")
        X, info = solve_ex(_T(A), _T(B), check_errors=check_errors)
        return SolveExResult(_T(X), info)
    Bm, vector = _solve_operands(A, B, "linalg.solve")  # torch names linalg.solve here too
    X, info = SolveEx.apply(A, Bm)
    if check_errors:
        _raise_on(info._data, "torch.linalg.solve_ex", _FAILURES["linalg.solve"][2])
    return SolveExResult(X.reshape(X._data.shape[:-1]) if vector else X, info)


class CholeskyEx(_WithInfo):
    @staticmethod
    def forward(A):
        return _per_matrix(xp.linalg.cholesky, _potf2, A.shape, A)

    @staticmethod
    def jvp(inputs, out, dA):
        return _cholesky_jvp(out[0], dA), None

    @staticmethod
    def backward(ctx, g, _):
        return _cholesky_grad(_outputs(ctx)[0], g)


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False, out=None) -> CholeskyExResult:
    """The Cholesky factor and LAPACK's info (0, or the order of the first leading minor that is not
    positive-definite; the factor is then partial)."""
    L, info = CholeskyEx.apply(_square(A, "linalg.cholesky_ex"))
    if check_errors:
        _raise_on(info._data, "linalg.cholesky_ex", _FAILURES["linalg.cholesky"][2])
    return CholeskyExResult(_T(L) if upper else L, info)


def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False, out=None) -> LUFactorExResult:
    """``lu_factor``'s (LU, pivots) and LAPACK's info (the first zero on U's diagonal, 1-based, or 0)."""
    _square(A, "linalg.lu_factor_ex", square=False)
    if not pivot:
        raise RuntimeError("linalg.lu_factor_ex: LU without pivoting is not implemented on the CPU")
    LU, piv, info = LUFactor.apply(A)
    if check_errors:
        _lu_raise(info._data, "torch.linalg.lu_factor_ex")
    return LUFactorExResult(LU, piv, info)


def _lu_raise(info, op: str) -> None:
    _raise_on(info, op, "U[{0},{0}] is zero and using it on lu_solve would result in a division by zero. If you "
              "still want to perform the factorization, consider calling linalg.lu(A, pivot) or "
              "linalg.lu_factor_ex(A, pivot)", RuntimeError)


# ----------------------------------------------------------------------------- tensor inverse and solve
def tensorinv(A: Tensor, ind: int = 2, *, out=None) -> Tensor:
    """The inverse of ``A`` seen as a map from its last dims (from ``ind`` on) to its first ``ind``."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    shape = A._data.shape
    rows, cols = math.prod(shape[:ind]), math.prod(shape[ind:])
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows}")
    return inv(A.reshape(rows, cols)).reshape(shape[ind:] + shape[:ind])


def tensorsolve(A: Tensor, B: Tensor, dims=None, *, out=None) -> Tensor:
    """X with ``tensordot(A, X, X.ndim) = B``; ``dims`` of A are moved to the end first."""
    if dims is not None:
        dims = norm_dims(dims, A._data.ndim, "linalg.tensorsolve")
        A = A.permute(*[d for d in range(A._data.ndim) if d not in dims], *dims)
    result_shape = A._data.shape[B._data.ndim:]
    rows, cols = B._data.size, math.prod(result_shape)
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {cols} != {rows}")
    return solve(A.reshape(rows, cols), B.reshape(rows)).reshape(result_shape)


# ----------------------------------------------------------------------------- condition number, products
def cond(A: Tensor, p=None, *, out=None) -> Tensor:
    """The condition number of A in the ``p`` norm (2 by default: the ratio of extreme singular values)."""
    if p not in (None, 2, -2, 1, -1, math.inf, -math.inf, "fro", "nuc"):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    if p in (None, 2, -2):
        _square(A, "linalg.cond", square=False)
        S = svdvals(A)
        if S._data.shape[-1] == 0:
            return S.sum(-1)
        big, small = S[..., 0], S[..., -1]
        return big / small if p != -2 else small / big
    _square(A, f"linalg.cond(ord={p})")
    Ainv, info = inv_ex(A)
    r = matrix_norm(A, p) * matrix_norm(Ainv, p)
    singular = info._data > 0
    # a singular matrix's condition number is infinite, as torch's (its inverse is NaN)
    return r.masked_fill(_const(singular), math.inf) if singular.any() else r


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """The dot product of x and y along ``dim`` (batch dims broadcast)."""
    if _amp.state.on and out is None:
        return _amp.call(vecdot, _amp.LOWER, x, y, dim=dim)
    if x._data.dtype != y._data.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                           f"{_short(x)} and y of type {_short(y)} instead")
    return (x * y).sum(dim)


def vander(x: Tensor, *, N: int | None = None) -> Tensor:
    """The Vandermonde matrix of x along a new last dim: powers 0 .. N-1 (increasing), batch dims kept."""
    x = x.reshape(1) if x._data.ndim == 0 else x
    n = N if N is not None else x._data.shape[-1]
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    from .shape import cat
    col = x.unsqueeze(-1)
    # running products of [1, x, x, ...]: exact gradients at x = 0 (a power would give 0 * inf)
    return cat([col * 0 + 1, col.expand(*x._data.shape, n - 1)], -1).cumprod(-1)  # ints promote as torch's


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """A view of the diagonals of A along dims ``dim1``, ``dim2`` (last two by default)."""
    return A.diagonal(offset, dim1, dim2)


@register("pinverse")
def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """torch.pinverse: ``linalg.pinv`` with singular values under ``rcond`` times the largest dropped."""
    return pinv(input, rtol=rcond)



# ----------------------------------------------------------------------------- randomized low-rank SVD
def _range_basis(A: Tensor, q: int, niter: int, generator=None) -> Tensor:
    """An orthonormal basis (m x q) of A's dominant column space: A times a Gaussian sketch, sharpened by
    ``niter`` power iterations (Halko, Martinsson and Tropp 2011, algorithm 4.4)."""
    from ..random import randn
    from ..linalg import qr
    R = randn(A._data.shape[-1], q, dtype=A.dtype, generator=generator)  # one sketch for the batch, as torch's
    Q = qr(A @ R).Q
    for _ in range(niter):
        Q = qr(A @ qr(A.mT @ Q).Q).Q
    return Q


@register("svd_lowrank", method=False)
def svd_lowrank(A: Tensor, q: int | None = 6, niter: int | None = 2, M: Tensor | None = None):
    """An approximate rank-``q`` SVD (U, S, V) of A - M by random projection: exact when A - M has rank
    <= q; differentiable through the QR and SVD it uses (the sketch itself is a constant)."""
    from ..linalg import svd
    q = 6 if q is None else q
    X = A if M is None else A - M
    m, n = X._data.shape[-2:]
    if m < n:  # sketch the transpose, so the small SVD is of a q x m matrix
        U, S, V = svd_lowrank(X.mT, q, niter)
        return V, S, U
    Q = _range_basis(X, q, 2 if niter is None else niter)
    Ub, S, Vh = svd(Q.mT @ X, full_matrices=False)
    return Q @ Ub, S, Vh.mT


@register("pca_lowrank", method=False)
def pca_lowrank(A: Tensor, q: int | None = None, center: bool = True, niter: int = 2):
    """Principal components of A's rows (columns centred unless ``center=False``) by svd_lowrank."""
    m, n = A._data.shape[-2:]
    q = min(6, m, n) if q is None else q
    if not 0 <= q <= min(m, n):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}")
    return svd_lowrank(A - A.mean(-2, keepdim=True) if center else A, q, niter)
