"""LAPACK's packed factorisations that NumPy lacks, written in NumPy: Householder QR in geqrf's form
(``geqrf``; ``householder_product`` and ``ormqr`` use it) and the Bunch-Kaufman LDL^T of a symmetric
matrix (``ldl_factor``, ``ldl_solve``).

``householder_product`` and ``ormqr`` apply the reflectors one by one with ember ops, so they are
differentiable (twice) with no backward of their own; the factorisations, as torch's, are not.
"""
from __future__ import annotations

import math
from collections import namedtuple

from .._backend import xp
from .._tensor import Tensor
from .common import register
from .linalg import _short
from ..linalg import _square, _col, _row, _const, matmul

GeqrfResult = namedtuple("geqrf", ["a", "tau"])
LDLFactorResult = namedtuple("linalg_ldl_factor", ["LD", "pivots"])
LDLFactorExResult = namedtuple("linalg_ldl_factor_ex", ["LD", "pivots", "info"])


def _matrices(a):
    """A batch of matrices as one (batch, m, n) copy, and a function putting results back in shape."""
    flat = a.reshape((math.prod(a.shape[:-2]),) + a.shape[-2:]).copy()  # not -1: sizes may be 0
    return flat, lambda r, tail: r.reshape(a.shape[:-2] + tail)


# ----------------------------------------------------------------------------- Householder QR
def _geqr2(a):
    """One matrix, in place: R above the diagonal, each reflector's vector v (v[0] = 1 implied) below it,
    and the scales tau, with LAPACK's choice beta = -sign(alpha) |x| (so H x = beta e1)."""
    m, n = a.shape
    tau = xp.zeros(min(m, n), a.dtype)
    for j in range(min(m, n)):
        alpha, xnorm = a[j, j], xp.linalg.norm(a[j + 1:, j])
        if xnorm == 0:
            continue  # H = I
        beta = -math.copysign(math.hypot(alpha, xnorm), alpha)
        tau[j] = (beta - alpha) / beta
        a[j + 1:, j] /= alpha - beta
        a[j, j] = beta
        v = a[j:, j].copy()
        v[0] = 1
        a[j:, j + 1:] -= tau[j] * xp.outer(v, v @ a[j:, j + 1:])
    return tau


@register("geqrf")
def geqrf(input: Tensor, *, out=None) -> GeqrfResult:
    """QR in LAPACK's packed form: (a, tau), R on and above a's diagonal, the reflectors below it."""
    _square(input, "geqrf", square=False)
    a, back = _matrices(input._data)
    tau = xp.stack([_geqr2(m) for m in a]) if len(a) else xp.zeros((0, min(a.shape[-2:])), a.dtype)
    return GeqrfResult(_const(back(a, a.shape[-2:])), _const(back(tau, tau.shape[-1:])))


def _reflector(V: Tensor, i: int) -> Tensor:
    """The i-th Householder vector stored in V's column i: zeros above row i, 1 at i, V's entries below."""
    m = V._data.shape[-2]
    below = _const((xp.arange(m) > i).astype(V._data.dtype))
    return V[..., :, i] * below + _const((xp.arange(m) == i).astype(V._data.dtype))


def _apply_reflectors(V: Tensor, tau: Tensor, C: Tensor, left: bool, order) -> Tensor:
    """C with H_i = I - tau_i v_i v_i^T applied (from the left or right) for i in ``order``."""
    for i in order:
        v, t = _reflector(V, i), tau[..., i]
        if left:  # H C = C - tau v (v^T C)
            C = C - _col(_col(t)) * matmul(_col(v), matmul(_row(v), C))
        else:  # C H = C - tau (C v) v^T
            C = C - _col(_col(t)) * matmul(matmul(C, _col(v)), _row(v))
    return C


def householder_product(A: Tensor, tau: Tensor, *, out=None) -> Tensor:
    """The first n columns of Q = H_1 ... H_k from Householder vectors (A's columns) and scales tau."""
    op = "torch.linalg.householder_product"
    _square(A, "linalg.householder_product", square=False)
    m, n = A._data.shape[-2:]
    if m < n:
        raise RuntimeError(f"{op}: input.shape[-2] must be greater than or equal to input.shape[-1]")
    if tau._data.shape[-1:] and tau._data.shape[-1] > n:
        raise RuntimeError(f"{op}: input.shape[-1] must be greater than or equal to tau.shape[-1]")
    if tau._data.ndim != A._data.ndim - 1 or tau._data.shape[:-1] != A._data.shape[:-2]:
        raise RuntimeError(f"{op}: Expected batch dimensions of tau to be equal to input.shape[:-2], but got "
                           f"{list(tau._data.shape[:-1])}")
    if tau._data.dtype != A._data.dtype:
        raise RuntimeError(f"{op}: tau dtype {_short(tau)} does not match input dtype {_short(A)}")
    eye = _const(xp.broadcast_to(xp.eye(m, n, dtype=A._data.dtype), A._data.shape).copy())
    return _apply_reflectors(A, tau, eye, True, reversed(range(tau._data.shape[-1])))


@register("orgqr")
def orgqr(input: Tensor, input2: Tensor) -> Tensor:
    """torch.orgqr: householder_product (input2 is tau; torch's names)."""
    return householder_product(input, input2)


@register("ormqr")
def ormqr(input: Tensor, input2: Tensor, input3: Tensor, left: bool = True, transpose: bool = False, *,
          out=None) -> Tensor:
    """``input3`` multiplied by Q (or Q^T), from the left or right, Q given by geqrf's reflectors
    (``input``) and scales (``input2``); torch's argument names."""
    tau, other = input2, input3
    if input._data.ndim < 2:
        raise RuntimeError("torch.ormqr: input must have at least 2 dimensions.")
    if other._data.ndim < 2:
        raise RuntimeError("torch.ormqr: other must have at least 2 dimensions.")
    k = tau._data.shape[-1] if tau._data.ndim else 0
    size = other._data.shape[-2 if left else -1]
    if k > input._data.shape[-1] or k > size:
        raise RuntimeError(f"torch.ormqr: tau.shape[-1] must be less than or equal to min(other.shape"
                           f"[{-2 if left else -1}], input.shape[-1])")
    if input._data.shape[-2] != size:
        raise RuntimeError(f"torch.ormqr: input.shape[-2] must be equal to other.shape[{-2 if left else -1}]")
    if len({input._data.dtype, tau._data.dtype, other._data.dtype}) > 1:
        raise RuntimeError(f"torch.ormqr: Expected input, tau and other to have the same dtype, got {_short(input)}, "
                           f"{_short(tau)} and {_short(other)}")
    # Q = H_1 ... H_k: Q C applies H_k first, Q^T C applies H_1 first; from the right the other way round
    first_to_last = left == transpose
    return _apply_reflectors(input, tau, other, left, range(k) if first_to_last else reversed(range(k)))


# ----------------------------------------------------------------------------- Bunch-Kaufman LDL^T
_ALPHA = (1 + math.sqrt(17)) / 8  # the pivot threshold that bounds element growth


def _sytf2(a):
    """LAPACK's unblocked sytf2 (lower) on one symmetric matrix (its lower triangle read): the packed
    L and D, the pivots (negative for a 2x2 block) and info (1-based index of a zero pivot, or 0)."""
    n = a.shape[-1]
    S = xp.tril(a) + xp.tril(a, -1).T  # the trailing block S[k:, k:] stays the whole symmetric matrix
    LD = xp.zeros_like(a)
    piv = xp.zeros(n, xp.int32)
    info, k = 0, 0
    while k < n:
        absakk = abs(S[k, k])
        imax = k + 1 + int(xp.argmax(xp.abs(S[k + 1:, k]))) if k < n - 1 else k
        colmax = abs(S[imax, k]) if k < n - 1 else 0.0
        kstep, kp = 1, k
        if not max(absakk, colmax) > 0:  # a zero column: D has a zero, nothing to eliminate
            info = info or k + 1
            LD[k:, k] = S[k:, k]
            piv[k] = k + 1
            k += 1
            continue
        if absakk < _ALPHA * colmax:
            row = xp.abs(S[imax, k:])
            row[imax - k] = 0
            rowmax = row.max()
            if absakk < _ALPHA * colmax * (colmax / rowmax):  # else the diagonal pivot is good enough
                kp = imax  # a 1x1 pivot at imax, or the 2x2 block (k, imax) when that is weak too
                kstep = 1 if abs(S[imax, imax]) >= _ALPHA * rowmax else 2
        kk = k + kstep - 1
        if kp != kk:  # swap rows and columns kk, kp of the trailing block (earlier columns of L stay)
            S[[kk, kp], k:] = S[[kp, kk], k:]
            S[k:, [kk, kp]] = S[k:, [kp, kk]]
        if kstep == 1:
            d = S[k, k]
            col = S[k + 1:, k] / d
            S[k + 1:, k + 1:] -= xp.outer(S[k + 1:, k], col)
            LD[k, k], LD[k + 1:, k] = d, col
            piv[k] = kp + 1
        else:
            # W D^{-1} for the 2x2 block D, in LAPACK's scaling (divides by the off-diagonal first)
            d21 = S[k + 1, k]
            d11, d22 = S[k + 1, k + 1] / d21, S[k, k] / d21
            t = 1 / (d11 * d22 - 1)
            d21 = t / d21
            W = S[k + 2:, k:k + 2].copy()
            L = xp.stack([d21 * (d11 * W[:, 0] - W[:, 1]), d21 * (d22 * W[:, 1] - W[:, 0])], -1)
            S[k + 2:, k + 2:] -= W @ L.T
            LD[k, k], LD[k + 1, k], LD[k + 1, k + 1] = S[k, k], S[k + 1, k], S[k + 1, k + 1]
            LD[k + 2:, k:k + 2] = L
            piv[k] = piv[k + 1] = -(kp + 1)
        k += kstep
    return LD, piv, info


def ldl_factor_ex(A: Tensor, *, hermitian: bool = False, check_errors: bool = False, out=None) -> LDLFactorExResult:
    """The Bunch-Kaufman factorisation A = P L D L^T P^T of a symmetric matrix (lower triangle read), in
    LAPACK's packed form: (LD, pivots, info)."""
    _square(A, "torch.linalg.ldl_factor_ex")
    a, back = _matrices(A._data)
    n = a.shape[-1]
    res = [_sytf2(m) for m in a]
    LD = xp.stack([r[0] for r in res]) if res else a
    piv = xp.stack([r[1] for r in res]) if res else xp.zeros((0, n), xp.int32)
    info = xp.array([r[2] for r in res], xp.int32)
    if check_errors and info.any():
        raise RuntimeError(f"torch.linalg.ldl_factor_ex: the block diagonal D is singular (info = "
                           f"{int(info[info != 0][0])})")
    return LDLFactorExResult(_const(back(LD, (n, n))), _const(back(piv, (n,))), _const(back(info, ())))


def ldl_factor(A: Tensor, *, hermitian: bool = False, out=None) -> LDLFactorResult:
    """The Bunch-Kaufman factorisation of a symmetric matrix: (LD, pivots), as LAPACK's sytrf."""
    LD, piv, info = ldl_factor_ex(A, hermitian=hermitian)
    if info._data.any():  # torch raises RuntimeError here too
        raise RuntimeError(f"torch.linalg.ldl_factor: the block diagonal D is singular (info = "
                           f"{int(info._data[info._data != 0].reshape(-1)[0])})")
    return LDLFactorResult(LD, piv)


def _sytrs(LD, piv, B):
    """LAPACK's sytrs (lower): X with A X = B from sytf2's LD and pivots, on one matrix (B copied)."""
    n = LD.shape[-1]
    X = B.copy()
    k = 0
    while k < n:  # L D Y = P^T B, applying each P_k and L_k in turn, then D's blocks
        if piv[k] > 0:
            kp = piv[k] - 1
            X[[k, kp]] = X[[kp, k]]
            X[k + 1:] -= xp.outer(LD[k + 1:, k], X[k])
            X[k] /= LD[k, k]
            k += 1
        else:
            kp = -piv[k] - 1
            X[[k + 1, kp]] = X[[kp, k + 1]]
            X[k + 2:] -= xp.outer(LD[k + 2:, k], X[k]) + xp.outer(LD[k + 2:, k + 1], X[k + 1])
            D = xp.array([[LD[k, k], LD[k + 1, k]], [LD[k + 1, k], LD[k + 1, k + 1]]])
            X[k:k + 2] = xp.linalg.solve(D, X[k:k + 2])
            k += 2
    k = n - 1
    while k >= 0:  # L^T, then the permutations, in reverse
        if piv[k] > 0:
            X[k] -= LD[k + 1:, k] @ X[k + 1:]
            kp = piv[k] - 1
            X[[k, kp]] = X[[kp, k]]
            k -= 1
        else:
            X[k] -= LD[k + 1:, k] @ X[k + 1:]
            X[k - 1] -= LD[k + 1:, k - 1] @ X[k + 1:]
            kp = -piv[k] - 1
            X[[k, kp]] = X[[kp, k]]
            k -= 2
    return X


def ldl_solve(LD: Tensor, pivots: Tensor, B: Tensor, *, hermitian: bool = False, out=None) -> Tensor:
    """X with A X = B, from A's LDL^T factorisation (ldl_factor's LD and pivots)."""
    op = "torch.linalg.ldl_solve"
    _square(LD, op)
    if B._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    if B._data.shape[-2] != LD._data.shape[-1]:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation AX = B "
                           f"({LD._data.shape[-2]}x{LD._data.shape[-1]} and {B._data.shape[-2]}x{B._data.shape[-1]})")
    if LD._data.dtype != B._data.dtype:
        raise RuntimeError(f"{op}: Expected LD and B to have the same dtype, but found LD of type {_short(LD)} "
                           f"and B of type {_short(B)} instead")
    batch = xp.broadcast_shapes(LD._data.shape[:-2], B._data.shape[:-2], pivots._data.shape[:-1])
    n = LD._data.shape[-1]
    lds = xp.broadcast_to(LD._data, batch + (n, n)).reshape(-1, n, n)
    pivs = xp.broadcast_to(pivots._data, batch + (n,)).reshape(-1, n)
    bs = xp.broadcast_to(B._data, batch + B._data.shape[-2:]).reshape((-1,) + B._data.shape[-2:])
    X = xp.stack([_sytrs(*args) for args in zip(lds, pivs, bs)]) if len(bs) else bs.copy()
    return _const(X.reshape(batch + B._data.shape[-2:]))
