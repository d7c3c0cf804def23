"""ember.linalg: decompositions, solvers and norms, as torch.linalg.

Each decomposition is one ``Op`` whose forward calls NumPy's LAPACK routine and
whose backward is the standard matrix-calculus formula written with ember ops
(matmul, einsum, inv), so double backward works. Helpers that only rearrange
(diagonals, transposes, triangular masks) go through einsum and constant masks.
"""
from __future__ import annotations

import math
from collections import namedtuple

from ._backend import xp
from ._dtype import is_float, is_half
from ._tensor import Tensor
from .autograd.function import Op
from .autograd.forward_ad import total
from . import _dtype
from ._ops.common import _type_name, register, norm_dims, sum_to
from ._ops.compare import pure
from ._ops.linalg import MT, Matmul, matmul, einsum, _short
from ._ops.nn_math import _pointwise, _const
from ._ops.reduction import _kept_shape
from ._ops.complex_linalg import eig, eigvals  # noqa: F401  (complex results: with the complex ops)

__all__ = ["LinAlgError", "inv", "det", "slogdet", "logdet", "solve", "cholesky", "qr", "svd", "svdvals", "eigh",
           "eigvalsh", "pinv", "matrix_rank", "norm", "vector_norm", "matrix_norm", "cross", "matmul", "matrix_power"]


class LinAlgError(RuntimeError):
    """A decomposition or solve failed on its input (singular, not positive-definite)."""


SlogdetResult = namedtuple("slogdet", ["sign", "logabsdet"])
QRResult = namedtuple("qr", ["Q", "R"])
SVDResult = namedtuple("svd", ["U", "S", "Vh"])
EighResult = namedtuple("eigh", ["eigenvalues", "eigenvectors"])


# ----------------------------------------------------------------------------- helpers
def _square(A: Tensor, op: str, square: bool = True) -> Tensor:
    """Check a batch of (square) float matrices, with torch's messages."""
    if not isinstance(A, Tensor):
        raise TypeError(f"{op}(): argument 'A' must be Tensor, not {type(A).__name__}")
    if A._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    _floating(A, op)
    if A._data.dtype.itemsize == 2 and op not in _LOW_PRECISION_OK:  # torch's LAPACK kernels lack half/bfloat16
        got = _short(A)
        if op in ("linalg.inv", "linalg.inv_ex", "linalg.slogdet", "linalg.pinv", "linalg.matrix_rank",
                  "linalg.lstsq") or op.startswith("linalg.cond"):
            raise RuntimeError(f"{op}: Low precision dtypes not supported. Got {got}")
        raise NotImplementedError(f"{op}: not implemented for '{got}' (compute in float32)")
    if square and A._data.shape[-1] != A._data.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {A._data.shape[-2]} by "
                           f"{A._data.shape[-1]} matrices")
    return A


_LOW_PRECISION_OK = ("linalg.matrix_norm", "linalg.matrix_power", "linalg.matrix_exp")


def _floating(x: Tensor, op: str) -> None:
    if not is_float(x._data.dtype):
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {_short(x)}")


def _T(x: Tensor) -> Tensor:
    return MT.apply(x)


def _diag(A: Tensor) -> Tensor:
    """The diagonals of a batch of matrices."""
    return einsum("...ii->...i", A)


def _diag_embed(v: Tensor) -> Tensor:
    """Square matrices with ``v`` on their diagonals."""
    return einsum("...i,ij->...ij", v, _const(xp.eye(v._data.shape[-1], dtype=v._data.dtype)))


def _col(v: Tensor) -> Tensor:
    return v.reshape(v._data.shape + (1,))


def _row(v: Tensor) -> Tensor:
    return v.reshape(v._data.shape[:-1] + (1, v._data.shape[-1]))


def _gap_inverse(w: Tensor) -> Tensor:
    """1 / (w_j - w_i) off the diagonal, 0 on it: the eigen/singular-vector gradient's weights.

    Written with ember ops: these weights depend on the input, which double backward must see.
    """
    n = w._data.shape[-1]
    eye = xp.eye(n, dtype=w._data.dtype)
    return (1 / (_row(w) - _col(w) + _const(eye))) * _const(1 - eye)


def _outputs(ctx) -> list:
    """A multi-output decomposition's results as tensors of its node, for a backward that uses them.

    They are kept as arrays (a node never holds its output tensors); wrapped here they carry
    gradient back into the node, so double backward sees their dependence on the input.
    """
    return [Tensor._make(o, True, ctx, i) for i, o in enumerate(ctx.outs)]


def _lapack(op: str, fn, *arrays):
    try:
        return fn(*arrays)
    except xp.linalg.LinAlgError:
        pass
    from ._ops.linalg_ex import raise_failure  # names the failed matrix and LAPACK's info, as torch
    raise_failure(op, fn, arrays)


# ----------------------------------------------------------------------------- inverse, determinants, solve
class Inv(Op):
    saves_output = True

    @staticmethod
    def forward(A):
        return _lapack("linalg.inv", xp.linalg.inv, A)

    @staticmethod
    def backward(ctx, g):
        return _inv_grad(ctx.output, g)


def _inv_grad(Y: Tensor, g: Tensor) -> Tensor:
    """The gradient of A through its inverse Y: -Y^T g Y^T."""
    Yt = _T(Y)
    return -Matmul.apply(Matmul.apply(Yt, g), Yt)


@register("inverse")
def inv(A: Tensor, *, out=None) -> Tensor:
    """The inverse of a (batch of) square matrices."""
    return Inv.apply(_square(A, "linalg.inv"))


class Det(Op):
    saves_output = True

    @staticmethod
    def forward(A):
        return xp.asarray(xp.linalg.det(A))

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        A, = ctx.saved_tensors
        # d det / dA = det * A^{-T}: fine for invertible A, the case these formulas cover
        return _col(_col(g * ctx.output)) * _T(inv(A))


@register("det")
def det(A: Tensor, *, out=None) -> Tensor:
    """The determinant of a (batch of) square matrices."""
    return Det.apply(_square(A, "linalg.det"))


class Slogdet(Op):
    # the sign requires grad as torch's, with a zero gradient (it is locally constant)

    @staticmethod
    def forward(A):
        sign, logabs = xp.linalg.slogdet(A)
        return xp.asarray(sign), xp.asarray(logabs)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, gsign, glog):
        A, = ctx.saved_tensors
        return _col(_col(glog)) * _T(inv(A))


@register("slogdet")
def slogdet(A: Tensor, *, out=None) -> SlogdetResult:
    """(sign, log|det|) of a (batch of) square matrices."""
    return SlogdetResult(*Slogdet.apply(_square(A, "linalg.slogdet")))


@register("logdet")
def logdet(A: Tensor) -> Tensor:
    """log(det(A)): nan where the determinant is negative."""
    sign, logabs = slogdet(A)
    with xp.errstate(invalid="ignore", divide="ignore"):
        return logabs + _const(xp.log(sign._data))


class Solve(Op):
    saves_output = True

    @staticmethod
    def forward(A, B):
        return _lapack("linalg.solve", xp.linalg.solve, A, B)

    @staticmethod
    def setup_context(ctx, inputs, output):
        A, B = inputs
        ctx.shapes = (A._data.shape, B._data.shape)
        ctx.save_for_backward(A)

    @staticmethod
    def backward(ctx, g):
        A, = ctx.saved_tensors
        return _solve_grad(A, ctx.output, g, ctx.shapes)


def _solve_grad(A: Tensor, X: Tensor, g: Tensor, shapes) -> tuple:
    """The gradients of A and B through X = A^{-1} B."""
    gB = Solve.apply(_T(A), g)
    gA = -Matmul.apply(gB, _T(X))
    return sum_to(gA, shapes[0]), sum_to(gB, shapes[1])


def solve(A: Tensor, B: Tensor, *, left: bool = True, out=None) -> Tensor:
    """X with ``A @ X = B`` (or ``X @ A = B`` with left=False); B may be a (batch of) vector(s)."""
    if not left:
        _square(A, "linalg.solve")
        return _T(solve(_T(A), _T(B)))
    Bm, vector = _solve_operands(A, B, "linalg.solve")
    X = Solve.apply(A, Bm)
    return X.reshape(X._data.shape[:-1]) if vector else X


def _solve_operands(A: Tensor, B: Tensor, op: str) -> tuple:
    """torch's checks of A X = B; B as a (batch of) matrices, and whether it was given as vector(s)."""
    _square(A, op)
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"{op}: Expected A and B to have the same dtype, but found A of type "
                           f"{_short(A)} and B of type {_short(B)} instead")
    n = A._data.shape[-1]
    vector = B._data.ndim == 1 or (B._data.ndim == A._data.ndim - 1 and B._data.shape == A._data.shape[:-1])
    Bm = _col(B) if vector else B
    if Bm._data.shape[-2] != n:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation AX = B "
                           f"({n}x{n} and {Bm._data.shape[-2]}x{Bm._data.shape[-1]})")
    return Bm, vector


# ----------------------------------------------------------------------------- cholesky, qr
class Cholesky(Op):
    saves_output = True

    @staticmethod
    def forward(A):
        return _lapack("linalg.cholesky", xp.linalg.cholesky, A)

    @staticmethod
    def jvp(inputs, L, dA):
        return _cholesky_jvp(L, dA)

    @staticmethod
    def backward(ctx, g):
        return _cholesky_grad(ctx.output, g)


def _cholesky_jvp(L: Tensor, dA: Tensor) -> Tensor:
    """dL = L Phi(L^-1 dA L^-T), Phi: the lower triangle with its diagonal halved; dA taken as given (not
    symmetrised), as torch's forward AD does."""
    n = L._data.shape[-1]
    phi = _const(xp.tril(xp.ones((n, n), dtype=L._data.dtype)) - 0.5 * xp.eye(n, dtype=L._data.dtype))
    Linv = inv(L)
    return Matmul.apply(L, Matmul.apply(Matmul.apply(Linv, dA), _T(Linv)) * phi)


def _cholesky_grad(L: Tensor, g: Tensor) -> Tensor:
    """The gradient of A through its Cholesky factor L (A = L L^T), symmetrised as torch's."""
    n = L._data.shape[-1]
    lower = xp.tril(xp.ones((n, n), dtype=L._data.dtype))
    phi = _const(lower - 0.5 * xp.eye(n, dtype=L._data.dtype))  # lower triangle, halved diagonal
    P = Matmul.apply(_T(L), g * _const(lower)) * phi
    Linv = inv(L)
    S = Matmul.apply(Matmul.apply(_T(Linv), P), Linv)
    return (S + _T(S)) * 0.5


def cholesky(A: Tensor, *, upper: bool = False, out=None) -> Tensor:
    """The Cholesky factor L (A = L L^T) of a symmetric positive-definite matrix; U = L^T with upper=True."""
    L = Cholesky.apply(_square(A, "linalg.cholesky"))
    return _T(L) if upper else L


@register("cholesky")
def _torch_cholesky(input: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """torch.cholesky (deprecated alias of linalg.cholesky)."""
    return cholesky(input, upper=upper)


class QR(Op):
    @staticmethod
    def forward(A, mode):
        return tuple(xp.linalg.qr(A, mode=mode))

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.mode = inputs[1]
        ctx.outs = output

    @staticmethod
    def backward(ctx, gQ, gR):
        Q, R = _outputs(ctx)
        m, n = Q._data.shape[-2], R._data.shape[-1]
        if ctx.mode != "reduced" and m > n:
            raise NotImplementedError("The derivative of linalg.qr is implemented for mode='reduced' (or square "
                                      "or wide inputs)")
        if m < n:
            # A = Q [R1 R2]: X = Q R1 is square; Y = Q R2 reaches Q too, so its gradient joins gQ
            from ._ops.shape import cat
            R2, gR1, gR2 = R[..., :, m:], gR[..., :, :m], gR[..., :, m:]
            gQ = gQ + Matmul.apply(Matmul.apply(Q, R2), _T(gR2))
            return cat([_qr_grad(Q, R[..., :, :m], gQ, gR1), Matmul.apply(Q, gR2)], -1), None
        return _qr_grad(Q, R, gQ, gR), None


def _qr_grad(Q: Tensor, R: Tensor, gQ: Tensor, gR: Tensor) -> Tensor:
    """The gradient of A = Q R with R square: (gQ + Q copyltu(M)) R^{-T}, M = R gR^T - gQ^T Q,
    copyltu mirroring the lower triangle upwards."""
    M = Matmul.apply(R, _T(gR)) - Matmul.apply(_T(gQ), Q)
    k = M._data.shape[-1]
    below = _const(xp.tril(xp.ones((k, k), dtype=M._data.dtype), -1))
    low = M * below
    M = low + _T(low) + _diag_embed(_diag(M))
    return Matmul.apply(gQ + Matmul.apply(Q, M), _T(inv(R)))


def qr(A: Tensor, mode: str = "reduced", *, out=None) -> QRResult:
    """A = Q R with Q orthonormal columns, R upper triangular (mode 'reduced', 'complete' or 'r')."""
    _square(A, "linalg.qr", square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           "'r', or 'complete'")
    Q, R = QR.apply(A, "complete" if mode == "complete" else "reduced")
    if mode == "r":
        return QRResult(Tensor._make(xp.empty((0,), dtype=A._data.dtype)), R)
    return QRResult(Q, R)


@register("qr")
def _torch_qr(input: Tensor, some: bool = True, *, out=None) -> QRResult:
    """torch.qr: the reduced (some=True) or complete factorisation."""
    return qr(input, "reduced" if some else "complete")


# ----------------------------------------------------------------------------- svd, eigh
class SVD(Op):
    @staticmethod
    def forward(A, full):
        U, S, Vh = xp.linalg.svd(A, full_matrices=full)
        return U, S, Vh

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.full = inputs[1]
        ctx.outs = output

    @staticmethod
    def jvp(inputs, out, dA, _=None):
        # A = U S V^T, dP = U^T dA V: dS = diag(dP); U and V turn by F o (dP S + S dP^T) and
        # F o (S dP + dP^T S), F_ij = 1 / (s_j^2 - s_i^2); a tall U (wide V) also moves off its span
        A, full = inputs
        U, S, Vh = out
        m, n, k = U._data.shape[-2], Vh._data.shape[-1], S._data.shape[-1]
        Uk = U if U._data.shape[-1] == k else U[..., :, :k]
        V = _T(Vh if Vh._data.shape[-2] == k else Vh[..., :k, :])
        dAV = Matmul.apply(dA, V)
        dP = Matmul.apply(_T(Uk), dAV)
        F = _gap_inverse(S * S)
        dPS, SdP = dP * _row(S), _col(S) * dP
        dU = Matmul.apply(Uk, F * (dPS + _T(dPS)))
        dV = Matmul.apply(V, F * (SdP + _T(SdP)))
        if m > k:
            dU = dU + (dAV - Matmul.apply(Uk, dP)) / _row(S)
        if n > k:
            dV = dV + (Matmul.apply(_T(dA), Uk) - Matmul.apply(V, _T(dP))) / _row(S)
        dS = dP.diagonal(0, -2, -1)
        if full and m != n:  # the completion: keep U (or V) orthogonal, no turn within the complement
            from ._ops.shape import cat as ember_cat
            if m > k:
                rest = U[..., :, k:]
                dU = ember_cat((dU, -Matmul.apply(Uk, Matmul.apply(_T(dU), rest))), -1)
            else:
                rest = _T(Vh[..., k:, :])
                dV = ember_cat((dV, -Matmul.apply(V, Matmul.apply(_T(dV), rest))), -1)
        return dU, dS, _T(dV)

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = _outputs(ctx)
        m, n = U._data.shape[-2], Vh._data.shape[-1]
        gU, gVh = (None if g is None or not g._data.any() else g for g in (gU, gVh))  # zeros: output unused
        k = S._data.shape[-1]
        if ctx.full and m != n:
            # only the k leading columns of U (rows of Vh) depend on A; the rest is an arbitrary completion
            cols, rows = _const(xp.eye(m, k, dtype=U._data.dtype)), _const(xp.eye(k, n, dtype=U._data.dtype))
            U, Vh = Matmul.apply(U, cols), Matmul.apply(rows, Vh)
            gU = None if gU is None else Matmul.apply(gU, cols)
            gVh = None if gVh is None else Matmul.apply(rows, gVh)
        if gU is None and gVh is None:
            return Matmul.apply(U * _row(gS), Vh) if gS is not None else None, None
        V = _T(Vh)
        gU = gU if gU is not None else _const(xp.zeros(U._data.shape, U._data.dtype))
        gV = _T(gVh) if gVh is not None else _const(xp.zeros(V._data.shape, V._data.dtype))
        # F_ij = 1 / (s_j^2 - s_i^2): distinct singular values assumed, as in torch
        F = _gap_inverse(S * S)
        UtgU = Matmul.apply(_T(U), gU)
        VtgV = Matmul.apply(_T(V), gV)
        inner = (F * (UtgU - _T(UtgU))) * _row(S) + _col(S) * (F * (VtgV - _T(VtgV)))
        if gS is not None:
            inner = inner + _diag_embed(gS)
        gA = Matmul.apply(Matmul.apply(U, inner), Vh)
        if m > k:  # the part of gU outside U's column space
            gUs = gU / _row(S)
            gA = gA + Matmul.apply(gUs - Matmul.apply(U, Matmul.apply(_T(U), gUs)), Vh)
        if n > k:
            gVs = gV / _row(S)
            gA = gA + Matmul.apply(U, _T(gVs - Matmul.apply(V, Matmul.apply(Vh, gVs))))
        return gA, None


def svd(A: Tensor, full_matrices: bool = True, *, driver=None, out=None) -> SVDResult:
    """A = U diag(S) Vh, singular values in descending order."""
    return SVDResult(*SVD.apply(_square(A, "linalg.svd", square=False), bool(full_matrices)))


def svdvals(A: Tensor, *, driver=None, out=None) -> Tensor:
    """The singular values, in descending order."""
    return svd(A, full_matrices=False).S


@register("svd")
def _torch_svd(input: Tensor, some: bool = True, compute_uv: bool = True, *, out=None):
    """torch.svd: (U, S, V) with V (not Vh)."""
    U, S, Vh = svd(input, full_matrices=not some)
    return namedtuple("svd", ["U", "S", "V"])(U, S, _T(Vh))


class Eigh(Op):
    @staticmethod
    def forward(A, uplo):
        w, V = xp.linalg.eigh(A, UPLO=uplo)
        return w, V

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.outs = output

    @staticmethod
    def jvp(inputs, out, dA, _=None):
        # torch's, with dA as given (neither symmetrised nor cut to the triangle read): dP = V^T dA V,
        # dw = diag(dP), dV = V (dP o F) with F_ij = 1 / (w_j - w_i) off the diagonal
        w, V = out
        dP = Matmul.apply(Matmul.apply(_T(V), dA), V)
        return _diag(dP), Matmul.apply(V, dP * _gap_inverse(w))

    @staticmethod
    def backward(ctx, gw, gV):
        w, V = _outputs(ctx)
        inner = _diag_embed(gw) if gw is not None else None
        if gV is not None:
            # only the skew part of V^T gV moves V on the orthogonal group; weights 1/(w_j - w_i)
            VtgV = Matmul.apply(_T(V), gV)
            off = _gap_inverse(w) * ((VtgV - _T(VtgV)) * 0.5)
            inner = off if inner is None else inner + off
        return Matmul.apply(Matmul.apply(V, inner), _T(V)), None


def eigh(A: Tensor, UPLO: str = "L", *, out=None) -> EighResult:
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix (one triangle read)."""
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return EighResult(*Eigh.apply(_square(A, "linalg.eigh"), UPLO))


def eigvalsh(A: Tensor, UPLO: str = "L", *, out=None) -> Tensor:
    """Eigenvalues (ascending) of a symmetric matrix."""
    return eigh(A, UPLO).eigenvalues


class Pinv(Op):
    """The Moore-Penrose pseudo-inverse B of A. Its gradient is the closed form of dB (Golub and
    Pereyra), which stays finite where A loses rank; a gradient through the SVD would not."""

    saves_output = True

    @staticmethod
    def forward(A, atol, rtol, hermitian):
        if A.size == 0:
            return xp.zeros(A.shape[:-2] + A.shape[:-3:-1], A.dtype)
        if hermitian:  # torch reads the lower triangle only
            w, V = xp.linalg.eigh(A, UPLO="L")
            order = xp.argsort(-xp.abs(w), axis=-1)
            S, V = xp.take_along_axis(w, order, -1), xp.take_along_axis(V, order[..., None, :], -1)
            U, Vh = V, xp.swapaxes(V, -1, -2)
        else:
            U, S, Vh = xp.linalg.svd(A, full_matrices=False)
        keep = xp.abs(S) > _tolerance(A.shape, xp.abs(S), atol, rtol)[..., None]
        with xp.errstate(divide="ignore"):
            Sinv = xp.where(keep, 1 / xp.where(keep, S, 1), 0).astype(A.dtype)
        return (xp.swapaxes(Vh, -1, -2) * Sinv[..., None, :]) @ xp.swapaxes(U, -1, -2)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        A, = ctx.saved_tensors
        B = ctx.output
        Bt, gt = _T(B), _T(g)
        mm = Matmul.apply
        # gA = -B^T g B^T + (I - A B) g^T B B^T + B^T B g^T (I - B A)
        gA = (-mm(mm(Bt, g), Bt) + mm(gt - mm(A, mm(B, gt)), mm(B, Bt))
              + mm(mm(Bt, B), gt - mm(mm(gt, B), A)))
        return gA, None, None, None


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False, out=None) -> Tensor:
    """The Moore-Penrose pseudo-inverse (singular values, or eigenvalues if ``hermitian``, under the tolerance dropped)."""
    _square(A, "linalg.pinv", square=hermitian)
    atol, rtol = (v._data if isinstance(v, Tensor) else v for v in (atol, rtol))
    return Pinv.apply(A, atol, rtol, hermitian)


def _tolerance(shape, S, atol, rtol):
    """max(atol, rtol * largest singular value) per matrix, with torch's default rtol = eps * max(m, n)."""
    shape = shape._data.shape if isinstance(shape, Tensor) else shape
    smax = S.max(-1) if S.shape[-1] else xp.zeros(S.shape[:-1], S.dtype)
    if rtol is None:
        rtol = 0.0 if atol is not None and xp.any(xp.asarray(atol) > 0) else xp.finfo(S.dtype).eps * max(shape[-2:])
    return xp.maximum(0.0 if atol is None else atol, rtol * smax)


def matrix_rank(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False, out=None) -> Tensor:
    """The number of singular values above the tolerance (int64)."""
    _square(A, "linalg.matrix_rank", square=False)
    S = xp.linalg.svd(A._data, compute_uv=False)
    return _const((S > _tolerance(A, S, atol, rtol)[..., None]).sum(-1).astype(xp.int64))


# ----------------------------------------------------------------------------- norms
def _pow_deriv(x, y, e):
    return _pow(x, e - 1) * e


_pow = _pointwise("PowConst", lambda x, e: xp.power(x, e), _pow_deriv)
_abs = _pointwise("Abs", lambda x: xp.abs(x), lambda x, y: _const(xp.sign(x._data)))


class VectorNorm(Op):
    saves_output = True

    @staticmethod
    def forward(x, ord, dims, keepdim):
        a = xp.abs(x)
        if ord == math.inf:
            return a.max(axis=dims, keepdims=keepdim)
        if ord == -math.inf:
            return a.min(axis=dims, keepdims=keepdim)
        if ord == 0:
            return (x != 0).sum(axis=dims, keepdims=keepdim).astype(x.dtype)
        if ord == 1:
            return a.sum(axis=dims, keepdims=keepdim)
        if ord == 2:
            return xp.sqrt((x * x).sum(axis=dims, keepdims=keepdim))
        return xp.power(xp.power(a, ord).sum(axis=dims, keepdims=keepdim), 1.0 / ord)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.ord, ctx.dims, ctx.keepdim = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        p, n = ctx.ord, ctx.output
        if not ctx.keepdim:
            shape = _kept_shape(x._data.shape, ctx.dims)
            g, n = g.reshape(shape), n.reshape(shape)
        sign = _const(xp.sign(x._data))
        if p == 0:
            return x * 0.0, None, None, None
        if p == 1:
            return g * sign, None, None, None
        if p in (math.inf, -math.inf):
            # the gradient is shared evenly between the entries that attain the extreme
            hit = xp.abs(x._data) == n._data
            share = hit / hit.sum(axis=ctx.dims, keepdims=True)
            return g * _const((xp.sign(x._data) * share).astype(x._data.dtype)), None, None, None
        # torch's formulas, masks included: where the norm (or, for p < 1, an entry) is 0 the gradient is
        # masked to 0, and the second derivative there is nan, as torch's (0 times an infinite slope)
        with xp.errstate(divide="ignore", invalid="ignore"):
            at_zero = _const(n._data == 0)
            if p == 2:
                return g * (x / n).masked_fill(at_zero, 0), None, None, None
            if p < 1:
                scaled = (sign * _pow(_abs(x), p - 1)).masked_fill(_const(x._data == 0), 0)
                return scaled * g * _pow(n, 1 - p), None, None, None
            scaled = sign * _pow(_abs(x), p - 1) if p < 2 else x * _pow(_abs(x), p - 2)
            return scaled * (g / _pow(n, p - 1)).masked_fill(at_zero, 0), None, None, None


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    """The ``ord``-norm of ``x`` seen as a vector (over ``dim`` or all elements)."""
    if dtype is not None:
        if x.is_complex() and not _dtype.as_dtype(dtype).is_complex:
            raise RuntimeError(f"linalg.vector_norm: dtype should be complex for complex inputs, but got "
                               f"{_type_name(_dtype.as_dtype(dtype))}")
        x = x.to(dtype)
    if x.is_complex():  # the norm of the moduli, real (abs's backward gives the complex gradient x / |x|)
        return vector_norm(x.abs(), ord, dim, keepdim)
    _floating(x, "linalg.vector_norm")
    if is_half(x._data.dtype):  # accumulated in float32 and rounded once, as torch's kernel
        return vector_norm(x.float(), ord, dim, keepdim).to(x.dtype)
    dims = norm_dims(dim, x._data.ndim, "linalg.vector_norm")
    ord = float(ord)
    if x._data.size == 0 and ord < 0 or (ord == math.inf and any(x._data.shape[d] == 0 for d in dims)):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord:g} norm on an empty tensor because the "
                           "operation does not have an identity")
    return VectorNorm.apply(x, ord, dims, keepdim)


def _to_end(A: Tensor, d0: int, d1: int) -> Tensor:
    """``A`` with dims d0, d1 moved to the end (in that order), through einsum."""
    letters = "abcdefghijklmnopqrstuvwxyz"[:A._data.ndim]
    rest = "".join(c for i, c in enumerate(letters) if i not in (d0, d1))
    return einsum(f"{letters}->{rest}{letters[d0]}{letters[d1]}", A)


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    """A matrix norm over the two dims ``dim``: 'fro', 'nuc', 2, -2, 1, -1, inf, -inf."""
    if dtype is not None:
        A = A.to(dtype)
    _square(A, "linalg.matrix_norm", square=False)
    d0, d1 = (d % A._data.ndim for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        S = svdvals(_to_end(A, d0, d1))
        r = S.sum(-1) if ord == "nuc" else vector_norm(S, math.inf if ord == 2 else -math.inf, -1)
    elif ord in (1, -1, math.inf, -math.inf):
        inner, outer = (d0, d1) if ord in (1, -1) else (d1, d0)
        r = vector_norm(vector_norm(A, 1, inner, keepdim=True), math.inf if ord > 0 else -math.inf, outer, True)
        shape = tuple(s for i, s in enumerate(r._data.shape) if i not in (d0, d1))
        return r if keepdim else r.reshape(shape)
    else:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if keepdim:
        shape = list(A._data.shape)
        shape[d0] = shape[d1] = 1
        r = r.reshape(tuple(shape))
    return r


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    """A vector norm (one dim, or a flattened input) or a matrix norm (two dims), as torch.linalg.norm."""
    if dim is not None and not isinstance(dim, int):
        dim = tuple(dim)
    if ord is None:
        if dim is None or isinstance(dim, int) or len(dim) == 1:
            return vector_norm(A, 2, dim, keepdim, dtype=dtype)
        return matrix_norm(A, "fro", dim, keepdim, dtype=dtype)
    if dim is None:
        if A._data.ndim not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                               f"{A._data.ndim}D.")
        dim = (0,) if A._data.ndim == 1 else (-2, -1)
    if isinstance(dim, int) or len(dim) == 1:
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    return matrix_norm(A, ord, dim, keepdim, dtype=dtype)


@register("norm")
def _tensor_norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """torch.norm: a p-norm over ``dim`` (all elements by default), 'fro' or 'nuc'."""
    if isinstance(dim, int):
        dim = (dim,)
    if p == "nuc":
        return matrix_norm(input, "nuc", dim if dim is not None else (-2, -1), keepdim, dtype=dtype)
    return vector_norm(input, 2 if p == "fro" or p is None else p, dim, keepdim, dtype=dtype)


# ----------------------------------------------------------------------------- cross
def _levi_civita(dtype) -> Tensor:
    e = xp.zeros((3, 3, 3), dtype=xp.int64)
    for i, j, k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        e[i, j, k], e[i, k, j] = 1, -1
    return _const(e.astype(dtype))  # -1 wraps in unsigned dtypes, and so does the product, as torch's


def cross(input: Tensor, other: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (batch dims broadcast)."""
    nd = max(input._data.ndim, other._data.ndim)
    sa, sb = input._data.shape, other._data.shape
    if input._data.ndim != other._data.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if sa[dim] != 3 or sb[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {sa[dim]} and {sb[dim]}")
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"expected scalar type {_short(input)} but found {_short(other)}")
    d = dim % nd
    letters = "abcdefghijklmnopqrstuvw"[:nd]
    a, b, r = (letters[:d] + c + letters[d + 1:] for c in "yzx")
    return einsum(f"xyz,{a},{b}->{r}", _levi_civita(input._data.dtype), input, other)


@register("cross")
def _torch_cross(input: Tensor, other: Tensor, dim: int | None = None, *, out=None) -> Tensor:
    """torch.cross: by default along the first dim of size 3."""
    if dim is None:
        dim = next((i for i, s in enumerate(xp.broadcast_shapes(input._data.shape, other._data.shape)) if s == 3), -1)
    return cross(input, other, dim=dim)


@register("matrix_power")
def matrix_power(A: Tensor, n: int, *, out=None) -> Tensor:
    """``A`` multiplied by itself ``n`` times (the inverse's power for negative ``n``), by repeated squaring."""
    _square(A, "linalg.matrix_power")
    if n == 0:  # the identity, still attached to A's graph (zero gradient) as torch's
        eye = xp.broadcast_to(xp.eye(A._data.shape[-1], dtype=A._data.dtype), A._data.shape)
        return A.clone().copy_(_const(eye.copy()))
    base = inv(A) if n < 0 else A
    n = abs(int(n))
    result = None
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


# ----------------------------------------------------------------------------- products of many matrices
def multi_dot(tensors, *, out=None) -> Tensor:
    """The product of a chain of matrices (the first and last may be vectors), multiplied in the cheapest order."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first_vec, last_vec = tensors[0]._data.ndim == 1, tensors[-1]._data.ndim == 1
    mats = [t.reshape(1, -1) if i == 0 and first_vec else t.reshape(-1, 1) if i == len(tensors) - 1 and last_vec
            else t for i, t in enumerate(tensors)]
    for i, m in enumerate(mats):
        if m._data.ndim != 2:
            where = "first and last tensors" if i in (0, len(mats) - 1) else f"tensor {i}"
            raise RuntimeError(f"multi_dot(): {where} must be 2D but got {tensors[i]._data.ndim}D"
                               if i not in (0, len(mats) - 1) else
                               f"multi_dot(): the first and last tensors must be 1D or 2D but got "
                               f"{tensors[i]._data.ndim}D")
    dims = [mats[0]._data.shape[0]] + [m._data.shape[1] for m in mats]
    for i in range(1, len(mats)):
        if mats[i - 1]._data.shape[1] != mats[i]._data.shape[0]:
            a, b = mats[i - 1]._data.shape, mats[i]._data.shape
            raise RuntimeError(f"multi_dot(): tensors {i - 1} and {i} with shapes {list(a)} and {list(b)} cannot "
                               "be multiplied")
    # the classic dynamic programme over split points: cost[i][j] = cheapest flops for mats[i..j]
    n = len(mats)
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j], split[i][j] = min((cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1], k)
                                          for k in range(i, j))

    def product(i: int, j: int) -> Tensor:
        if i == j:
            return mats[i]
        k = split[i][j]
        return matmul(product(i, k), product(k + 1, j))

    result = product(0, n - 1)
    shape = result._data.shape
    return result.reshape(tuple(s for s, drop in zip(shape, (first_vec, last_vec)) if not drop))


# ----------------------------------------------------------------------------- matrix exponential
def _expm(A):
    """exp(A) for a batch of matrices: scale to norm <= 1/2, Taylor of degree 18 by Horner, square back."""
    a = A.astype(xp.float64)
    n = a.shape[-1]
    eye = xp.eye(n)
    norm = xp.abs(a).sum(-2).max(-1) if n else xp.zeros(a.shape[:-2])
    with xp.errstate(divide="ignore"):
        s = xp.maximum(0, xp.ceil(xp.log2(xp.maximum(norm, 1e-300) / 0.5))).astype(xp.int64)
    x = a / (2.0 ** s)[..., None, None]
    p = xp.broadcast_to(eye, a.shape).copy()
    for k in range(18, 0, -1):
        p = eye + (x @ p) / k
    for step in range(int(s.max()) if s.size else 0):
        p = xp.where((step < s)[..., None, None], p @ p, p)
    return p.astype(A.dtype)


class MatrixExp(Op):
    @staticmethod
    def forward(A):
        return _expm(A)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        # the gradient is the Frechet derivative at A^T applied to g: the upper-right block of
        # exp([[A^T, g], [0, A^T]]); written with MatrixExp itself, so double backward works
        A, = ctx.saved_tensors
        n = A._data.shape[-1]
        At = _T(A)
        from ._ops.common import FUNCTIONS
        cat = FUNCTIONS["cat"]
        zero = _const(xp.zeros(A._data.shape, dtype=A._data.dtype))
        block = cat([cat([At, g], -1), cat([zero, At], -1)], -2)
        return MatrixExp.apply(block).narrow(-2, 0, n).narrow(-1, n, n)


@register("matrix_exp")
def matrix_exp(A: Tensor) -> Tensor:
    """The matrix exponential of a (batch of) square matrices."""
    return MatrixExp.apply(_square(A, "linalg.matrix_exp"))


# ----------------------------------------------------------------------------- triangular and Cholesky solves
def _kept(A, upper: bool, unitriangular: bool):
    """The mask of what a triangular solver reads of ``A`` (an array): its triangle, less the diagonal if
    unitriangular."""
    n = A.shape[-1]
    keep = xp.triu(xp.ones((n, n), bool), 1 if unitriangular else 0)
    return (keep if upper else keep.T).astype(A.dtype)


def _triangle(A: Tensor, upper: bool, unitriangular: bool) -> Tensor:
    """The triangle of ``A`` a triangular solver reads (ones on the diagonal if unitriangular)."""
    tri = A * _const(_kept(A._data, upper, unitriangular))
    return tri + _const(xp.eye(A._data.shape[-1], dtype=A._data.dtype)) if unitriangular else tri


def _matrix_rhs(op: str, A: Tensor, B: Tensor) -> None:
    if B._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"{op}: Expected A and B to have the same dtype, but found A of type {_short(A)} and B "
                           f"of type {_short(B)} instead")


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False,
                     out=None) -> Tensor:
    """X with ``A @ X = B`` (``X @ A = B`` if not left) for triangular A; only A's triangle is read."""
    _square(A, "linalg.solve_triangular")
    _matrix_rhs("linalg.solve_triangular", A, B)
    if not left:
        return _T(solve_triangular(_T(A), _T(B), upper=not upper, unitriangular=unitriangular))
    _check_rows(A, B)
    # a solve of the masked triangle: its gradient through the mask lands on the triangle only, as torch's
    return Solve.apply(_triangle(A, upper, unitriangular), B)


def _check_rows(A: Tensor, B: Tensor) -> None:
    n = A._data.shape[-1]
    if B._data.shape[-2] != n:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the equation AX = B "
                           f"({n}x{n} and {B._data.shape[-2]}x{B._data.shape[-1]})")


TriangularSolveResult = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])


class TriangularSolve(Op):
    """torch.triangular_solve's X with M X = b, M the triangle of A read (transposed if ``transpose``).

    An op of its own for torch's tangent, which is not the transpose of its gradient: the gradient lands on
    the triangle read, while the tangent M^-1 (db - dA X) takes dA whole and untransposed.
    """

    saves_output = True

    @staticmethod
    def forward(b, A, upper, transpose, unitriangular):
        M = A * _kept(A, upper, unitriangular) + (xp.eye(A.shape[-1], dtype=A.dtype) if unitriangular else 0)
        return Solve.forward(xp.swapaxes(M, -1, -2) if transpose else M, b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        b, A, *ctx.flags = inputs
        ctx.shapes = (A._data.shape, b._data.shape)
        ctx.save_for_backward(A)

    @staticmethod
    def backward(ctx, g):
        A, = ctx.saved_tensors
        upper, transpose, unitriangular = ctx.flags
        M = _triangle(A, upper, unitriangular)
        gM, gb = _solve_grad(_T(M) if transpose else M, ctx.output, g, ctx.shapes)
        return gb, (_T(gM) if transpose else gM) * _const(_kept(A._data, upper, unitriangular))

    @staticmethod
    def jvp(inputs, X, db, dA, *_):
        rhs = total(db, None if dA is None else -Matmul.apply(dA, X))
        return TriangularSolve.apply(rhs, *inputs[1:])


@register("triangular_solve")
def triangular_solve(b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False) -> TriangularSolveResult:
    """torch.triangular_solve: (X with ``A X = b`` or ``A^T X = b``, a copy of A)."""
    _square(A, "linalg.solve_triangular")
    _matrix_rhs("linalg.solve_triangular", A, b)
    _check_rows(A, b)
    return TriangularSolveResult(TriangularSolve.apply(b, A, upper, transpose, unitriangular), A.clone())


def _cholesky_solve_array(B, L, upper: bool):
    tri = xp.triu(L) if upper else xp.tril(L)
    first, second = (xp.swapaxes(tri, -1, -2), tri) if upper else (tri, xp.swapaxes(tri, -1, -2))
    return _lapack("cholesky_solve", xp.linalg.solve, second, _lapack("cholesky_solve", xp.linalg.solve, first, B))


class CholeskySolve(Op):
    saves_output = True

    @staticmethod
    def forward(B, L, upper):
        return _cholesky_solve_array(B, L, upper)

    @staticmethod
    def setup_context(ctx, inputs, output):
        B, L, ctx.upper = inputs
        ctx.shapes = (B._data.shape, L._data.shape)
        ctx.save_for_backward(L)

    @staticmethod
    def backward(ctx, g):
        # X = (L L^T)^{-1} B: gB = (L L^T)^{-1} g, and L's gradient is that of the dense product L L^T
        L, = ctx.saved_tensors
        gB = CholeskySolve.apply(g, L, ctx.upper)
        C = Matmul.apply(gB, _T(ctx.output))
        C = C + _T(C)
        gL = -(Matmul.apply(L, C) if ctx.upper else Matmul.apply(C, L))
        return sum_to(gB, ctx.shapes[0]), sum_to(gL, ctx.shapes[1]), None


@register("cholesky_solve")
def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False) -> Tensor:
    """X with ``(L L^T) X = B`` from the Cholesky factor L (``U^T U`` with upper=True)."""
    _square(L, "cholesky_solve")
    if B._data.ndim < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {B._data.ndim} dimensions instead")
    if B._data.dtype != L._data.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type {_short(B)} and A of "
                           f"type {_short(L)} instead.")
    if B._data.shape[-2] != L._data.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for cholesky_solve: each A matrix is {L._data.shape[-1]} by "
                           f"{L._data.shape[-1]} but each b matrix is {B._data.shape[-2]} by {B._data.shape[-1]}")
    return CholeskySolve.apply(B, L, bool(upper))


@register("cholesky_inverse")
def cholesky_inverse(L: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """The inverse of ``L L^T`` (``U^T U`` with upper=True) from its Cholesky factor."""
    _square(L, "cholesky_inverse")
    eye = xp.broadcast_to(xp.eye(L._data.shape[-1], dtype=L._data.dtype), L._data.shape)
    return CholeskySolve.apply(_const(eye.copy()), L, bool(upper))


# ----------------------------------------------------------------------------- least squares
LstsqResult = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


def lstsq(A: Tensor, B: Tensor, rcond=None, *, driver=None) -> LstsqResult:
    """The least-squares solution of ``A X = B`` (minimum norm if underdetermined), with rank and extras as torch."""
    _square(A, "linalg.lstsq", square=False)
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"torch.linalg.lstsq: Expected input and other to have the same dtype, but got "
                           f"input's dtype {_short(A)} and other's dtype {_short(B)}")
    vector = B._data.ndim == A._data.ndim - 1
    Bm = _col(B) if vector else B
    m, n = A._data.shape[-2:]
    if Bm._data.shape[-2] != m:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    driver = driver or "gelsy"
    tol = rcond if rcond is not None and rcond > 0 else xp.finfo(A._data.dtype).eps * max(m, n)
    X = matmul(pinv(A, rtol=tol), Bm)  # pinv's gradient gives torch's least-squares gradient
    empty = _const(xp.empty((0,), dtype=A._data.dtype))
    rank = matrix_rank(A, rtol=tol) if driver != "gels" else _const(xp.empty((0,), dtype=xp.int64))
    svals = svdvals(A).detach() if driver in ("gelsd", "gelss") else empty
    residuals = X.reshape(-1)[:0]  # empty, but attached to the graph as torch's
    if driver != "gelsy" and m > n and (driver == "gels" or bool((rank._data == n).all())):
        residuals = ((matmul(A, X) - Bm) ** 2).sum(-2)
    return LstsqResult(X.reshape(X._data.shape[:-1]) if vector else X, residuals, rank, svals)


# ----------------------------------------------------------------------------- LU
LUFactorResult = namedtuple("linalg_lu_factor", ["LU", "pivots"])
LUResult = namedtuple("linalg_lu", ["P", "L", "U"])


def _getrf(A):
    """LU with partial pivoting on a batch of (m, n) matrices: packed LU and 1-based int32 pivots, as LAPACK."""
    batch, (m, n) = A.shape[:-2], A.shape[-2:]
    a = A.reshape((-1, m, n)).copy()
    k = min(m, n)
    piv = xp.zeros((a.shape[0], k), xp.int32)
    b = xp.arange(a.shape[0])
    for j in range(k):
        p = j + xp.argmax(xp.abs(a[:, j:, j]), axis=1) if m > j else xp.full(a.shape[0], j)
        piv[:, j] = p + 1
        rows_j, rows_p = a[b, j].copy(), a[b, p].copy()
        a[b, j], a[b, p] = rows_p, rows_j
        d = a[:, j, j]
        safe = xp.where(d == 0, 1, d)  # a zero pivot leaves its column as is (LAPACK reports it in info)
        a[:, j + 1:, j] = xp.where((d != 0)[:, None], a[:, j + 1:, j] / safe[:, None], a[:, j + 1:, j])
        a[:, j + 1:, j + 1:] -= a[:, j + 1:, j, None] * a[:, j, None, j + 1:]
    return a.reshape(A.shape), piv.reshape(batch + (k,))


def _lu_info(LU):
    """LAPACK's info per matrix: the 1-based index of the first zero on U's diagonal, 0 if none."""
    zero = xp.diagonal(LU, 0, -2, -1) == 0
    return xp.where(zero.any(-1), zero.argmax(-1) + 1, 0).astype(xp.int32)


def _permutation(piv, m: int, dtype):
    """The matrix P with ``A = P L U`` from LAPACK's sequence of row swaps."""
    flat = piv.reshape(-1, piv.shape[-1]) if piv.ndim else piv.reshape(1, -1)
    P = xp.zeros((flat.shape[0], m, m), dtype)
    for r, swaps in enumerate(flat):
        perm = xp.arange(m)
        for j, s in enumerate(swaps):
            perm[[j, s - 1]] = perm[[s - 1, j]]
        P[r, perm, xp.arange(m)] = 1
    return P.reshape(piv.shape[:-1] + (m, m))


def _permutation_of(pivots: Tensor, A: Tensor) -> Tensor:
    """_permutation as a tensor (an op under vmap, which batches it over the pivots' leading dims)."""
    m, dtype = A._data.shape[-2], A._data.dtype
    return pure(lambda piv: _permutation(piv, m, dtype), pivots)


class LUFactor(Op):
    """Packed LU with partial pivoting; differentiable in the packed factor for square matrices."""

    differentiable_outputs = (0,)

    @staticmethod
    def forward(A):
        LU, piv = _getrf(A)
        return LU, piv, _lu_info(LU)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.outs = output

    @staticmethod
    def backward(ctx, gLU, *_):
        LU = _outputs(ctx)[0]
        m, n = LU._data.shape[-2:]
        k = min(m, n)
        P = _const(_permutation(ctx.outs[1], m, LU._data.dtype))
        L, U = _unpack_tensors(LU)
        gL, gU = gLU[..., :, :k].tril(-1), gLU[..., :k, :].triu()
        mm = Matmul.apply
        # A = P L U; with dL = L dl (dl strictly lower) and dU = du U (du upper) on the square k x k
        # blocks L1, U1, the extra columns U2 (wide) or rows L2 (tall) take the rest of the gradient
        if m <= n:
            U1, gU1 = U[..., :, :k], gU[..., :, :k]
            M = (mm(_T(L), gL) - mm(gU, _T(U))).tril(-1)
            gX = mm(M, _T(inv(U1))) + gU1
            if n > k:
                from ._ops.shape import cat
                gX = cat([gX, gU[..., :, k:]], -1)
            return mm(P, mm(_T(inv(L)), gX))
        L1, gL1 = L[..., :k, :], gL[..., :k, :]
        N = (mm(gU, _T(U)) - mm(_T(L), gL)).triu()
        from ._ops.shape import cat
        gY = cat([gL1 + mm(_T(inv(L1)), N), gL[..., k:, :]], -2)
        return mm(P, mm(gY, _T(inv(U))))


def lu_factor(A: Tensor, *, pivot: bool = True, out=None) -> LUFactorResult:
    """The packed LU factorisation with partial pivoting: (LU, pivots), pivots 1-based int32 as LAPACK's."""
    _square(A, "linalg.lu_factor", square=False)
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    from ._ops.linalg_ex import _lu_raise
    LU, piv, info = LUFactor.apply(A)
    _lu_raise(info._data, "torch.linalg.lu_factor")
    return LUFactorResult(LU, piv)


def _unpack_tensors(LU: Tensor):
    """L (unit lower, m x k) and U (upper, k x n) from a packed factor, with ember ops (differentiable)."""
    m, n = LU._data.shape[-2:]
    k = min(m, n)
    L = LU[..., :, :k].tril(-1) + _const(xp.eye(m, k, dtype=LU._data.dtype))
    return L, LU[..., :k, :].triu()


def lu(A: Tensor, *, pivot: bool = True, out=None) -> LUResult:
    """``A = P L U``: permutation P, unit lower-triangular L (m x k), upper-triangular U (k x n)."""
    _square(A, "linalg.lu", square=False)
    if not pivot:
        raise RuntimeError("linalg.lu: LU without pivoting is not implemented on the CPU")
    LU, piv, _ = LUFactor.apply(A)
    L, U = _unpack_tensors(LU)
    return LUResult(_permutation_of(piv, A), L, U)


@register("lu_unpack", method=False)
def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True, unpack_pivots: bool = True):
    """(P, L, U) from a packed LU factorisation and its pivots."""
    L, U = _unpack_tensors(LU_data)
    return namedtuple("lu_unpack", ["P", "L", "U"])(_permutation_of(LU_pivots, LU_data), L, U)


def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True, adjoint: bool = False, out=None) -> Tensor:
    """X with ``A X = B`` (``A^T``, or X on the right, as asked) from A's packed LU factorisation."""
    _square(LU, "linalg.lu_solve")
    _matrix_rhs("linalg.lu_solve", LU, B)
    if not left:  # X A = B is A^T X^T = B^T
        return _T(lu_solve(LU, pivots, _T(B), adjoint=not adjoint))
    n = LU._data.shape[-1]
    if B._data.shape[-2] != n:
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({n}x{n} and {B._data.shape[-2]}x{B._data.shape[-1]})")
    P = _const(_permutation(pivots._data, n, LU._data.dtype))
    if not adjoint:  # A = P L U
        Y = solve_triangular(LU, matmul(_T(P), B), upper=False, unitriangular=True)
        return solve_triangular(LU, Y, upper=True)
    Y = solve_triangular(_T(LU), B, upper=False)  # A^T = U^T L^T P^T
    return matmul(P, solve_triangular(_T(LU), Y, upper=True, unitriangular=True))


@register("lu_solve")
def _torch_lu_solve(b: Tensor, LU_data: Tensor, LU_pivots: Tensor, *, out=None) -> Tensor:
    """torch.lu_solve (deprecated): linalg.lu_solve with the right-hand side first."""
    return lu_solve(LU_data, LU_pivots, b)


@register("lu")
def _torch_lu(A: Tensor, pivot: bool = True, get_infos: bool = False, out=None):
    """torch.lu (deprecated): (LU, pivots), and LAPACK's infos if asked."""
    from ._ops.linalg_ex import lu_factor_ex
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    return (LU, piv, info) if get_infos else (LU, piv)


__all__ += ["multi_dot", "matrix_exp", "solve_triangular", "lstsq", "lu_factor", "lu", "lu_solve"]

# the rest of torch.linalg, in ember/_ops/linalg_ex.py (it builds on the ops above)
from ._ops.linalg_ex import (inv_ex, solve_ex, cholesky_ex, lu_factor_ex, tensorinv, tensorsolve, cond,  # noqa: E402
                             vecdot, vander, diagonal)
__all__ += ["inv_ex", "solve_ex", "cholesky_ex", "lu_factor_ex", "tensorinv", "tensorsolve", "cond", "vecdot",
            "vander", "diagonal"]
from ._ops.linalg_lapack import householder_product, ldl_factor, ldl_factor_ex, ldl_solve  # noqa: E402
__all__ += ["householder_product", "ldl_factor", "ldl_factor_ex", "ldl_solve"]

from ._ops.out import publish as _publish  # noqa: E402

_publish(globals(), __all__ + ["eig", "eigvals"])  # torch's out= on each
