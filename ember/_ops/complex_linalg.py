"""Linear algebra whose results are complex even for real input: ``linalg.eig`` and ``linalg.eigvals``
(published by ``ember.linalg``), with torch's gradient."""
from __future__ import annotations

from collections import namedtuple

from .. import _dtype
from .._backend import xp
from .._tensor import Tensor
from ..autograd.function import Op
from .complex import cj, real
from .linalg import MT, Matmul

EigResult = namedtuple("linalg_eig", ["eigenvalues", "eigenvectors"])


def _mH(x: Tensor) -> Tensor:
    """The conjugate transpose of a batch of matrices."""
    return MT.apply(cj(x))


class _Inv(Op):
    """The inverse of a batch of (complex) matrices; its gradient is -Y^H g Y^H."""

    saves_output = True
    forward = staticmethod(xp.linalg.inv)

    @staticmethod
    def backward(ctx, g):
        Yh = _mH(ctx.output)
        return -Matmul.apply(Matmul.apply(Yh, g), Yh)


class Eig(Op):
    @staticmethod
    def forward(A):
        w, V = xp.linalg.eig(A)  # NumPy returns real arrays when every eigenvalue is real: torch never does
        dt = _dtype.from_np(A.dtype).to_complex().np
        return w.astype(dt), V.astype(dt)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.outs, ctx.real_input = output, not inputs[0].is_complex()

    @staticmethod
    def jvp(inputs, out, dA):
        # torch's: dP = V^-1 dA V, dL = diag(dP), and dV = dX - V Re(diag(V^H dX)) with dX = V (dP / E) off the
        # diagonal, E_ij = L_j - L_i: the eigenvectors turn, and keep their unit length to first order
        L, V = out
        eye = Tensor._make(xp.eye(L._data.shape[-1], dtype=L._data.real.dtype))
        dP = Matmul.apply(_Inv.apply(V), Matmul.apply(dA if dA.is_complex() else dA.to(V.dtype), V))
        dX = Matmul.apply(V, dP * (1 - eye) / (L.unsqueeze(-2) - L.unsqueeze(-1) + eye))
        dV = dX - V * real((Matmul.apply(_mH(V), dX) * eye).sum(-1)).unsqueeze(-2)
        return (dP * eye).sum(-1), dV

    @staticmethod
    def backward(ctx, gL, gV):
        # torch's formula: with E_ij = conj(L_j - L_i), gA = V^-H (diag(gL) + P(V^H gV) / E) V^H, where P keeps
        # what of V^H gV a change of each eigenvector's length (not fixed by the eigenproblem) cannot absorb
        L, V = (Tensor._make(o, True, ctx, i) for i, o in enumerate(ctx.outs))
        n = L._data.shape[-1]
        eye = Tensor._make(xp.eye(n, dtype=L._data.real.dtype))
        if gV is not None:
            VhgV = Matmul.apply(_mH(V), gV)
            lengths = real(VhgV * eye).sum(-1).unsqueeze(-2)
            VhgV = VhgV - Matmul.apply(_mH(V), V * lengths)
            Lc = cj(L)
            inner = VhgV / (Lc.unsqueeze(-2) - Lc.unsqueeze(-1) + eye)
            if gL is not None:
                inner = inner * (1 - eye) + gL.unsqueeze(-1) * eye
        else:
            inner = gL.unsqueeze(-1) * eye
        gA = Matmul.apply(Matmul.apply(_mH(_Inv.apply(V)), inner), _mH(V))
        return real(gA) if ctx.real_input else gA


def _check(A: Tensor, op: str) -> None:
    if A._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if A._data.dtype.kind not in "fc":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {A.dtype}")
    if A._data.shape[-1] != A._data.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {A._data.shape[-2]} by "
                           f"{A._data.shape[-1]} matrices")


def eig(A: Tensor, *, out=None) -> EigResult:
    """Eigenvalues and unit-length eigenvectors of a square matrix (complex, as LAPACK's geev gives them)."""
    _check(A, "linalg.eig")
    return EigResult(*Eig.apply(A))


def eigvals(A: Tensor, *, out=None) -> Tensor:
    """The eigenvalues of a square matrix (complex)."""
    _check(A, "linalg.eigvals")
    return Eig.apply(A)[0]
