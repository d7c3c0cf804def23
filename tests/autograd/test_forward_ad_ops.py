"""Forward-mode tangents of ops with formulas of their own, against torch.autograd.forward_ad in float64:
complex tangents (elementwise, fft: complex inputs carry complex tangents, C->R transforms give real ones),
linalg.eig/eigh (torch's eigenvector convention), triangular_solve and max_unpool."""
import numpy as np
import pytest
import torch
import torch.autograd.forward_ad as tfw

import ember
import ember.autograd.forward_ad as efw

FW = {ember: efw, torch: tfw}


def _np(t):
    if t is None:
        return None
    return t.detach().resolve_conj().numpy().copy() if isinstance(t, torch.Tensor) else t.detach().numpy().copy()


def _arrays(shapes, seed):
    """Random float64 arrays, complex128 for a shape given as ("c", shape)."""
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        if isinstance(s, tuple) and s and s[0] == "c":
            out.append(rng.standard_normal(s[1]) + 1j * rng.standard_normal(s[1]))
        else:
            out.append(rng.standard_normal(s))
    return out


def _jvp(lib, fn, primals, tangents):
    """(primal, tangent) arrays of each output of ``fn(lib, *duals)``."""
    fw = FW[lib]
    with fw.dual_level():
        duals = [fw.make_dual(lib.tensor(p), lib.tensor(t)) for p, t in zip(primals, tangents)]
        out = fn(lib, *duals)
        outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
        return [(_np(o), _np(fw.unpack_dual(o).tangent)) for o in outs]


def _same(fn, shapes, canon=None, primals=None):
    """ember's tangents equal torch's, output by output (``canon`` maps both results to a comparable form)."""
    primals = _arrays(shapes, 0) if primals is None else primals
    tangents = _arrays(shapes, 1)
    mine, theirs = _jvp(ember, fn, primals, tangents), _jvp(torch, fn, primals, tangents)
    if canon is not None:
        mine, theirs = canon(mine), canon(theirs)
    assert len(mine) == len(theirs)
    for i, ((pe, te), (pt, tt)) in enumerate(zip(mine, theirs)):
        np.testing.assert_allclose(pe, pt, rtol=1e-10, atol=1e-10, err_msg=f"output {i}")
        assert te is not None, f"output {i} has no tangent"
        assert te.dtype == tt.dtype, f"output {i}: tangent dtype {te.dtype}, torch's {tt.dtype}"
        np.testing.assert_allclose(te, tt, rtol=1e-9, atol=1e-10, err_msg=f"output {i} tangent")


C = ("c", (3, 4))
COMPLEX = {
    "holomorphic": (lambda L, z, w: z * w + z.exp() * w.sin() / (w + 3) - z.sqrt() ** 2.5, [C, C]),
    "abs": (lambda L, z: z.abs(), [C]),
    "real_imag_angle": (lambda L, z: (z.real * z.imag + z.angle(), z.conj() * 2), [C]),
    "view_as_real": (lambda L, z: L.view_as_real(z * 2) + 1, [C]),
    "complex_polar": (lambda L, x, y: (L.complex(x, y), L.polar(x.abs(), y)), [(3, 4), (3, 4)]),
    "real_to_complex": (lambda L, x: (x.to(L.complex128) * (1 + 2j)).abs(), [(3, 4)]),
    "reductions": (lambda L, z: (z.sum(0) * z.mean(), z.abs().sum()), [C]),
    "matmul": (lambda L, z, w: z @ w.mT, [C, C]),
    "mixed": (lambda L, z, x: z / x + z.abs() * x, [C, (3, 4)]),
    "products": (lambda L, z: (z.prod(1), z.prod(), z.cumprod(1)), [C]),
    "conj_transposes": (lambda L, z: (z.mH, z.H, L.vdot(z[0], z[1])), [C]),
}


@pytest.mark.parametrize("name", sorted(COMPLEX))
def test_complex_tangents(name):
    fn, shapes = COMPLEX[name]
    _same(fn, shapes)


@pytest.mark.parametrize("fn", ["prod", "cumprod"])
def test_complex_product_gradients_as_torch(fn):
    """torch's convention (the conjugate of each partial derivative), also where an element is zero."""
    z, g = _arrays([C, C], 4)
    z[1, 2] = 0
    results = []
    for L in (ember, torch):
        x = L.tensor(z, requires_grad=True)
        grad, = L.autograd.grad(getattr(x, fn)(1), x, L.tensor(g[:, 0] if fn == "prod" else g))
        results.append(_np(grad))
    np.testing.assert_allclose(*results, rtol=1e-12, atol=1e-12)


def test_complex_tangent_matches_finite_differences():
    """The tangent of a real function of z (|z|^2 e^Re z) along a complex direction, by central differences."""
    z, t = _arrays([C, C], 3)

    def f(v):
        return (v.abs() ** 2 * v.real.exp()).sum()
    with efw.dual_level():
        got = efw.unpack_dual(f(efw.make_dual(ember.tensor(z), ember.tensor(t)))).tangent.item()
    eps = 1e-6
    fd = (f(ember.tensor(z + eps * t)).item() - f(ember.tensor(z - eps * t)).item()) / (2 * eps)
    assert got == pytest.approx(fd, rel=1e-6)


# ----------------------------------------------------------------------------- fft
FFT = [(name, dtype) for name in ("fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "irfft", "irfft2", "irfftn",
                                  "hfft", "hfft2", "hfftn") for dtype in ("real", "complex")]
FFT += [(name, "real") for name in ("rfft", "rfft2", "rfftn", "ihfft", "ihfft2", "ihfftn")]


@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
@pytest.mark.parametrize("name,kind", FFT)
def test_fft_tangents(name, kind, norm):
    shape = ("c", (3, 5)) if kind == "complex" else (3, 5)
    _same(lambda L, x: getattr(L.fft, name)(x, norm=norm), [shape])


@pytest.mark.parametrize("name", ["irfft", "hfft"])
def test_c2r_tangents_with_odd_length(name):
    _same(lambda L, z: getattr(L.fft, name)(z, n=7, dim=0), [("c", (4, 3))])
    _same(lambda L, z: (getattr(L.fft, name + "n")(z, s=(5, 3), dim=(1, 0)),), [("c", (4, 3, 2))])


def test_fft_round_trip_tangent():
    _same(lambda L, x: L.fft.irfft(L.fft.rfft(x) * L.fft.rfft(x), n=6), [(2, 6)])


# ----------------------------------------------------------------------------- linalg
def _unit_columns(result, basis: int = 1):
    """Each eigenvector (column of output ``basis``) and its tangent turned by the same unit factor, the one
    that makes the column's product with a fixed positive vector real and positive: eigenvectors are only
    unique up to such a factor, and torch's tangent follows the factor of the eigenvector it is given."""
    v, dv = result[basis]
    c = (v * np.linspace(1, 2, v.shape[-2])[:, None]).sum(-2, keepdims=True)
    unit = np.conj(c / np.abs(c)) if np.iscomplexobj(c) else np.sign(c)
    return [(p * unit, t * unit) if i == basis else (p, t) for i, (p, t) in enumerate(result)]


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), ("c", (3, 3))])
def test_eig_tangents(shape):
    _same(lambda L, A: tuple(L.linalg.eig(A)), [shape], canon=_unit_columns)
    _same(lambda L, A: L.linalg.eigvals(A), [shape])


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_tangents_take_the_tangent_whole(uplo):
    a = _arrays([(2, 4, 4)], 0)[0]
    # a symmetric primal; the tangent is not symmetric, and torch uses it as given
    _same(lambda L, A: tuple(L.linalg.eigh(A, UPLO=uplo)), [(2, 4, 4)], canon=_unit_columns,
          primals=[a + np.swapaxes(a, -1, -2)])
    _same(lambda L, A: L.linalg.eigvalsh(A, UPLO=uplo), [(4, 4)], primals=[a[0] + a[0].T])


FLAGS = [(u, t, d) for u in (True, False) for t in (False, True) for d in (False, True)]


def _triangular_primals():
    b, A = _arrays([(2, 4, 3), (2, 4, 4)], 0)
    return [b, A + 4 * np.eye(4)]


@pytest.mark.parametrize("upper,transpose,unitriangular", FLAGS)
def test_triangular_solve_tangent_uses_the_whole_tangent_of_A(upper, transpose, unitriangular):
    _same(lambda L, b, A: tuple(L.triangular_solve(b, A, upper, transpose, unitriangular)), [(2, 4, 3), (2, 4, 4)],
          primals=_triangular_primals())


@pytest.mark.parametrize("upper,transpose,unitriangular", FLAGS)
def test_triangular_solve_gradients_reach_the_triangle_only(upper, transpose, unitriangular):
    b, A = _triangular_primals()
    b = b[:1, :, :2]  # broadcast against A's batch
    g = _arrays([(2, 4, 2)], 2)[0]
    results = []
    for L in (ember, torch):
        tb, tA = L.tensor(b, requires_grad=True), L.tensor(A, requires_grad=True)
        X = L.triangular_solve(tb, tA, upper, transpose, unitriangular)[0]
        gb, gA = L.autograd.grad(X, (tb, tA), L.tensor(g), create_graph=True)
        second = L.autograd.grad((gA * gA).sum() + (gb ** 3).sum(), (tb, tA))
        results.append([_np(v) for v in (X, gb, gA, *second)])
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------------------- max_unpool
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_unpool_tangent_keeps_the_primal_winner(dims):
    """Overlapping windows (stride 1) on a small-integer input share maxima: several values point at one
    position, and the tangent written there must be the same entry's as the value's, not a sum."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (2, 2) + (5,) * dims).astype(np.float64)
    pool, unpool = f"max_pool{dims}d", f"max_unpool{dims}d"
    _, idx = getattr(torch.nn.functional, pool)(torch.tensor(x), 2, stride=1, return_indices=True)
    idx = idx.numpy()
    assert any(len(np.unique(r)) < r.size for r in idx.reshape(4, -1))  # the sample does repeat indices
    vals = rng.standard_normal(idx.shape)

    def fn(L, v):
        return getattr(L.nn.functional, unpool)(v, L.tensor(idx), 2, stride=1)
    _same(fn, [idx.shape], primals=[vals])
