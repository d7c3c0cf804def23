"""Specs of the linear-algebra ops (ember/_ops/linalg.py, ember/linalg.py)."""
import numpy as np

from opinfo import OpSpec, Sample, arr

MATMUL_SHAPES = [((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 3)), ((3, 4), (4,)), ((2, 3, 4), (4, 5)),
                 ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((2, 1, 3, 4), (3, 4, 2)), ((3, 4), (2, 4, 2)),
                 ((0, 4), (4, 3))]


def pairs(shapes):
    def samples(rng, dtype):
        return [Sample(tuple(arr(rng, s, dtype) for s in ss), name="x".join(map(str, ss))) for ss in shapes]
    return samples


def spd(rng, n, dtype, batch=()):
    """A well-conditioned symmetric positive-definite matrix (batch)."""
    a = rng.uniform(-1, 1, size=batch + (n, n))
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)


def einsum_samples(rng, dtype):
    cases = [("ij,jk->ik", (3, 4), (4, 2)), ("ij,jk", (3, 4), (4, 2)), ("bij,bjk->bik", (2, 3, 4), (2, 4, 2)),
             ("...ij,...jk->...ik", (2, 3, 4), (4, 2)), ("ii->i", (3, 3)), ("ii", (3, 3)), ("ij->ji", (2, 3)),
             ("i,j->ij", (3,), (4,)), ("ij,ij->", (3, 4), (3, 4)), ("ijk->", (2, 3, 2)),
             ("bn,anm,bm->ba", (2, 3), (2, 3, 4), (2, 4)), ("ij,k->ik", (2, 3), (4,)), ("i...->...", (2, 3, 2)),
             ("iij->j", (3, 3, 2))]
    return [Sample((eq, *(arr(rng, s, dtype) for s in shapes)), name=eq) for eq, *shapes in cases]


SPECS = [
    OpSpec("matmul", lambda lib, a, b: a @ b, pairs(MATMUL_SHAPES)),
    OpSpec("rmatmul_array", lambda lib, a, b: lib.matmul(a, b), pairs([((2, 2, 3), (1, 3, 2))])),
    OpSpec("mm", lambda lib, a, b: lib.mm(a, b), pairs([((3, 4), (4, 5)), ((1, 3), (3, 1))])),
    OpSpec("bmm", lambda lib, a, b: lib.bmm(a, b), pairs([((2, 3, 4), (2, 4, 5))])),
    OpSpec("mv", lambda lib, a, b: lib.mv(a, b), pairs([((3, 4), (4,))])),
    OpSpec("dot", lambda lib, a, b: lib.dot(a, b), pairs([((5,), (5,))])),
    OpSpec("outer", lambda lib, a, b: lib.outer(a, b), pairs([((3,), (4,))])),
    OpSpec("addmm", lambda lib, c, a, b: lib.addmm(c, a, b, beta=0.5, alpha=2.0),
           pairs([((3, 5), (3, 4), (4, 5)), ((5,), (3, 4), (4, 5))])),
    OpSpec("addmm_default", lambda lib, c, a, b: lib.addmm(c, a, b), pairs([((1, 5), (3, 4), (4, 5))])),
    OpSpec("addmv", lambda lib, c, a, b: lib.addmv(c, a, b, alpha=0.5), pairs([((3,), (3, 4), (4,))])),
    OpSpec("addr", lambda lib, c, a, b: lib.addr(c, a, b, beta=2), pairs([((3, 4), (3,), (4,))])),
    OpSpec("baddbmm", lambda lib, c, a, b: lib.baddbmm(c, a, b, beta=0.5, alpha=-1.0),
           pairs([((2, 3, 5), (2, 3, 4), (2, 4, 5)), ((3, 5), (2, 3, 4), (2, 4, 5))])),
    OpSpec("einsum", lambda lib, eq, *ops: lib.einsum(eq, *ops), einsum_samples),
    OpSpec("tensordot", lambda lib, a, b: lib.tensordot(a, b, dims=2), pairs([((2, 3, 4), (3, 4, 2))])),
    OpSpec("tensordot_lists", lambda lib, a, b: lib.tensordot(a, b, dims=([0, 2], [2, 1])),
           pairs([((2, 3, 4), (5, 4, 2))])),
    OpSpec("kron", lambda lib, a, b: lib.kron(a, b), pairs([((2, 3), (2, 2)), ((3,), (2, 2)), ((2, 1, 2), (2, 3))])),
]


def well(rng, shape, dtype):
    """A well-conditioned square matrix (batch): random plus n on the diagonal."""
    n = shape[-1]
    return (rng.uniform(-1, 1, size=shape) + n * np.eye(n)).astype(dtype)


def square_samples(rng, dtype):
    return [Sample((well(rng, s, dtype),), name=str(s)) for s in [(1, 1), (3, 3), (2, 3, 3)]]


def spd_samples(rng, dtype):
    # the spec symmetrises its input (a + a^T), so the solvers see an SPD matrix and gradcheck a smooth function
    return [Sample(((spd(rng, n, dtype, b) / 2).astype(dtype),), name=f"{b}{n}") for b, n in [((), 3), ((2,), 2)]]


def rect_samples(rng, dtype):
    return [Sample((arr(rng, s, dtype),), name=str(s)) for s in [(3, 3), (4, 3), (3, 5), (2, 3, 2)]]


def solve_samples(rng, dtype):
    return [Sample((well(rng, a, dtype), arr(rng, b, dtype)), name=f"{a}x{b}")
            for a, b in [((3, 3), (3, 2)), ((3, 3), (3,)), ((2, 3, 3), (2, 3)), ((2, 3, 3), (3, 1))]]


def away_from_zero(rng, shape, dtype):
    return (rng.uniform(0.2, 2, size=shape) * rng.choice([-1, 1], size=shape)).astype(dtype)


def norm_samples(rng, dtype):
    return [Sample((away_from_zero(rng, s, dtype),), name=str(s)) for s in [(3, 4), (2, 3, 2)]]


def with_zero(rng, dtype):
    """A zero entry and an all-zero row: the 2-norm's gradient there is 0, as torch defines it."""
    x = arr(rng, (3, 4), dtype)
    x[0, 0] = 0.0
    x[2] = 0.0
    return [Sample((x,), name="zeros")]


def sym(lib, a):
    return a + lib.einsum("...ij->...ji", a)


def gauge_free_svd(lib, U, S, Vh):
    """What the SVD determines: S, each rank-one term u_k v_k^T, and the projectors u_k u_k^T, v_k v_k^T."""
    return (S, lib.einsum("...ik,...kj->...kij", U, Vh), lib.einsum("...ik,...jk->...kij", U, U),
            lib.einsum("...ki,...kj->...kij", Vh, Vh))


LINALG_SPECS = [
    OpSpec("linalg.inv", lambda lib, a: lib.linalg.inv(a), square_samples),
    OpSpec("inverse", lambda lib, a: a.inverse(), square_samples),
    OpSpec("linalg.det", lambda lib, a: lib.linalg.det(a), square_samples),
    OpSpec("det_neg", lambda lib, a: lib.det(-a), square_samples),
    OpSpec("linalg.slogdet", lambda lib, a: tuple(lib.linalg.slogdet(-a)), square_samples),
    OpSpec("logdet", lambda lib, a: lib.logdet(a), square_samples),
    OpSpec("linalg.solve", lambda lib, a, b: lib.linalg.solve(a, b), solve_samples),
    OpSpec("linalg.solve_right", lambda lib, a, b: lib.linalg.solve(a, b, left=False),
           lambda rng, dt: [Sample((well(rng, (3, 3), dt), arr(rng, (2, 3), dt)))]),
    OpSpec("linalg.cholesky", lambda lib, a: lib.linalg.cholesky(sym(lib, a)), spd_samples),
    OpSpec("cholesky_upper", lambda lib, a: lib.linalg.cholesky(sym(lib, a), upper=True), spd_samples),
    OpSpec("linalg.qr", lambda lib, a: tuple(lib.linalg.qr(a)),
           lambda rng, dt: [s for s in rect_samples(rng, dt) if s.args[0].shape[-2] >= s.args[0].shape[-1]]),
    OpSpec("linalg.svd", lambda lib, a: gauge_free_svd(lib, *lib.linalg.svd(a, full_matrices=False)), rect_samples,
           atol=1e-4, rtol=1e-4),
    OpSpec("linalg.svd_full", lambda lib, a: lib.linalg.svd(a)[1], rect_samples),
    OpSpec("linalg.svdvals", lambda lib, a: lib.linalg.svdvals(a), rect_samples),
    OpSpec("linalg.eigh", lambda lib, a: (lambda w, v: (w, lib.einsum("...ik,...jk->...kij", v, v)))(
        *lib.linalg.eigh(sym(lib, a))), rect_samples_sq := (lambda rng, dt: [
            Sample((arr(rng, s, dt),), name=str(s)) for s in [(3, 3), (2, 2, 2)]]), atol=1e-4, rtol=1e-4),
    OpSpec("linalg.eigvalsh", lambda lib, a: lib.linalg.eigvalsh(sym(lib, a)), rect_samples_sq),
    OpSpec("linalg.pinv", lambda lib, a: lib.linalg.pinv(a), rect_samples, atol=1e-4, rtol=1e-4),
    OpSpec("linalg.matrix_rank", lambda lib, a: lib.linalg.matrix_rank(a), lambda rng, dt: [
        Sample((np.array([[1.0, 2.0], [2.0, 4.0]], dt),)), Sample((arr(rng, (2, 3, 4), dt),))], differentiable=False),
    OpSpec("linalg.vector_norm", lambda lib, x: lib.linalg.vector_norm(x), norm_samples),
    *[OpSpec(f"linalg.vector_norm_{o}", lambda lib, x, o=o: lib.linalg.vector_norm(x, o, dim=-1, keepdim=True),
             norm_samples) for o in (1, 3, 0.5, float("inf"), -float("inf"), 0)],
    OpSpec("linalg.vector_norm_at_zero", lambda lib, x: lib.linalg.vector_norm(x, dim=1), with_zero,
           gradcheck=False, double_backward=False, note="torch's second derivative at a zero norm is nan"),
    OpSpec("linalg.vector_norm_dims", lambda lib, x: lib.linalg.vector_norm(x, 2, dim=(0, -1)), norm_samples),
    *[OpSpec(f"linalg.matrix_norm_{o}", lambda lib, x, o=o: lib.linalg.matrix_norm(x, o), rect_samples,
             atol=1e-4, rtol=1e-4) for o in ("fro", "nuc", 2, -2, 1, -1, float("inf"), -float("inf"))],
    OpSpec("linalg.matrix_norm_dims", lambda lib, x: lib.linalg.matrix_norm(x, 1, dim=(0, 2), keepdim=True),
           lambda rng, dt: [Sample((arr(rng, (2, 3, 4), dt),))]),
    OpSpec("linalg.norm", lambda lib, x: lib.linalg.norm(x), norm_samples),
    OpSpec("linalg.norm_ord", lambda lib, x: lib.linalg.norm(x, 2), lambda rng, dt: norm_samples(rng, dt)[:1]),
    OpSpec("Tensor.norm", lambda lib, x: x.norm(), norm_samples),
    OpSpec("norm_p_dim", lambda lib, x: lib.norm(x, p=3, dim=1, keepdim=True), norm_samples),
    OpSpec("linalg.cross", lambda lib, a, b: lib.linalg.cross(a, b), pairs([((3,), (3,)), ((2, 3), (1, 3))])),
    OpSpec("cross_dim", lambda lib, a, b: lib.cross(a, b, dim=0), pairs([((3, 2), (3, 2))])),
]
SPECS += LINALG_SPECS


def _pairs(*shape_pairs):
    def samples(rng, dt):
        return [Sample((arr(rng, a, dt), arr(rng, b, dt)), name=f"{a},{b}") for a, b in shape_pairs]
    return samples


def _one(*shapes):
    def samples(rng, dt):
        return [Sample((arr(rng, s, dt),), name=f"{s}") for s in shapes]
    return samples


SPECS += [
    OpSpec("trace", lambda lib, x: lib.trace(x), _one((3, 3), (2, 4), (4, 2))),
    OpSpec("inner", lambda lib, a, b: lib.inner(a, b), _pairs(((3, 4), (2, 4)), ((4,), (4,)), ((), (2, 3)),
                                                              ((2, 3, 4), (4,)))),
    OpSpec("vdot", lambda lib, a, b: lib.vdot(a, b), _pairs(((4,), (4,)), ((0,), (0,)))),
    OpSpec("dist", lambda lib, a, b: lib.dist(a, b), _pairs(((3, 4), (3, 4)), ((2, 3), (3,)))),
    OpSpec("dist_p", lambda lib, a, b: a.dist(b, 3), _pairs(((3, 4), (3, 4)), ((5,), (5,)))),
    OpSpec("cov", lambda lib, x: lib.cov(x), _one((3, 5), (6,), (1, 4))),
    OpSpec("cov_weights", lambda lib, x, w: lib.cov(x, correction=2, aweights=w,
                                                    fweights=lib.tensor([1, 2, 1, 3, 1])),
           lambda rng, dt: [Sample((arr(rng, (3, 5), dt), arr(rng, (5,), dt, 0.5, 2.0)))]),
    OpSpec("corrcoef", lambda lib, x: lib.corrcoef(x), _one((3, 5), (2, 7))),
    OpSpec("matrix_power", lambda lib, x: lib.linalg.matrix_power(x, 3), _one((3, 3), (2, 2, 2), (0, 2, 2))),
    OpSpec("matrix_power_neg", lambda lib, x: lib.matrix_power(x + 3 * lib.eye(3, dtype=x.dtype), -2),
           _one((3, 3), (2, 3, 3)), atol=1e-4),
    OpSpec("matrix_power_0", lambda lib, x: x.matrix_power(0) + x, _one((3, 3))),
]


# ----------------------------------------------------------------------------- round 2: solvers, exponential, distances
def _tri_samples(rng, dt):
    out = []
    for a, b, kw in [((3, 3), (3, 2), {"upper": True}), ((3, 3), (3, 4), {"upper": False}),
                     ((2, 3, 3), (2, 3, 2), {"upper": True, "unitriangular": True}),
                     ((3, 3), (2, 3), {"upper": False, "left": False}), ((2, 3, 3), (3, 1), {"upper": False})]:
        out.append(Sample((well(rng, a, dt), arr(rng, b, dt)), kw, name=f"{a}x{b} {kw}"))
    return out


def _spd_rhs(rng, dt):
    return [Sample(((spd(rng, n, dt, b) / 2).astype(dt), arr(rng, b + (n, k), dt)), name=f"{b}{n}x{k}")
            for b, n, k in [((), 3, 2), ((2,), 3, 1)]]


def _lu_rhs(rng, dt):
    """A packed LU factorisation (torch's, as the reference computes it), its pivots and a right-hand side."""
    import torch

    def packed(shape):
        LU, piv = torch.linalg.lu_factor(torch.from_numpy(well(rng, shape, dt)))
        return LU.numpy(), piv.numpy()
    return [Sample((*packed(a), arr(rng, b, dt)), kw, name=f"{a}x{b} {kw}")
            for a, b, kw in [((3, 3), (3, 2), {}), ((2, 4, 4), (2, 4, 1), {"adjoint": True}),
                             ((3, 3), (2, 3), {"left": False}), ((3, 3), (1, 3), {"left": False, "adjoint": True})]]


def _lstsq_samples(rng, dt):
    return [Sample((arr(rng, a, dt), arr(rng, b, dt)), name=f"{a}x{b}")
            for a, b in [((5, 3), (5, 2)), ((3, 3), (3, 1)), ((2, 4, 2), (2, 4, 3)), ((3, 5), (3, 2)), ((4, 3), (4,))]]


def _exp_samples(rng, dt):
    return [Sample((arr(rng, s, dt, -scale, scale),), name=f"{s} scale {scale}")
            for s, scale in [((1, 1), 1.0), ((3, 3), 1.0), ((2, 4, 4), 0.5), ((3, 3), 3.0), ((0, 2, 2), 1.0)]]


SPECS += [
    OpSpec("addbmm", lambda lib, c, a, b: lib.addbmm(c, a, b, beta=0.5, alpha=2.0),
           pairs([((3, 5), (2, 3, 4), (2, 4, 5)), ((5,), (4, 3, 2), (4, 2, 5))])),
    OpSpec("addbmm_", lambda lib, c, a, b: c.clone().addbmm_(a, b), pairs([((3, 5), (2, 3, 4), (2, 4, 5))])),
    OpSpec("addmm_", lambda lib, c, a, b: c.clone().addmm_(a, b, beta=2), pairs([((3, 5), (3, 4), (4, 5))])),
    OpSpec("addmv_", lambda lib, c, a, b: c.clone().addmv_(a, b, alpha=-1), pairs([((3,), (3, 4), (4,))])),
    OpSpec("addr_", lambda lib, c, a, b: c.clone().addr_(a, b), pairs([((3, 4), (3,), (4,))])),
    OpSpec("baddbmm_", lambda lib, c, a, b: c.clone().baddbmm_(a, b, alpha=0.5), pairs([((2, 3, 5), (2, 3, 4), (2, 4, 5))])),
    OpSpec("chain_matmul", lambda lib, *ms: lib.chain_matmul(*ms), pairs([((3, 4), (4, 5), (5, 2)), ((2, 3), (3, 2)),
                                                                         ((5, 1), (1, 6), (6, 2), (2, 3))])),
    OpSpec("linalg.multi_dot", lambda lib, *ms: lib.linalg.multi_dot(list(ms)),
           pairs([((3, 4), (4, 5), (5, 2)), ((4,), (4, 5), (5, 2), (2,)), ((4,), (4, 3)), ((6, 2), (2, 6), (6, 2))])),
    OpSpec("cdist", lambda lib, a, b, p=2.0: lib.cdist(a, b, p),
           lambda rng, dt: [Sample((arr(rng, a, dt), arr(rng, b, dt), p), name=f"{a},{b} p={p}")
                            for a, b, p in [((4, 3), (5, 3), 2.0), ((2, 4, 3), (1, 5, 3), 2.0), ((4, 2), (3, 2), 1.0),
                                            ((3, 3), (2, 3), 3.0), ((3, 2), (4, 2), float("inf")),
                                            ((3, 2), (2, 2), 0.5)]],
           double_backward=False, note="torch's cdist backward is not twice differentiable"),
    OpSpec("renorm", lambda lib, x, **kw: lib.renorm(x, **kw),
           lambda rng, dt: [Sample((arr(rng, s, dt),), kw, name=f"{s} {kw}")
                            for s, kw in [((3, 4), {"p": 2, "dim": 0, "maxnorm": 2.0}),
                                          ((3, 4), {"p": 1, "dim": 1, "maxnorm": 2.5}),
                                          ((2, 3, 4), {"p": 3, "dim": -1, "maxnorm": 1.5})]]),
    OpSpec("renorm_", lambda lib, x: x.clone().renorm_(2, 1, 1.5), _one((3, 4))),
    OpSpec("matrix_exp", lambda lib, x: lib.matrix_exp(x), _exp_samples, atol=1e-4, rtol=1e-5),
    OpSpec("linalg.matrix_exp", lambda lib, x: lib.linalg.matrix_exp(x), _one((3, 3)), atol=1e-4, rtol=1e-5),
    OpSpec("linalg.solve_triangular", lambda lib, a, b, **kw: lib.linalg.solve_triangular(a, b, **kw), _tri_samples,
           atol=1e-4, rtol=1e-5),
    OpSpec("triangular_solve", lambda lib, b, a, *flags: tuple(lib.triangular_solve(b, a, *flags)),
           lambda rng, dt: [Sample((arr(rng, b, dt), well(rng, a, dt), *flags), name=f"{a} {flags}")
                            for a, b, flags in [((3, 3), (3, 2), ()), ((3, 3), (3, 2), (False,)),
                                                ((2, 3, 3), (2, 3, 1), (True, True)),
                                                ((3, 3), (3, 2), (False, False, True))]], atol=1e-4, rtol=1e-5),
    OpSpec("cholesky_solve", lambda lib, m, b: lib.cholesky_solve(b, lib.linalg.cholesky(m + m.mT)), _spd_rhs,
           atol=1e-4, rtol=1e-5),
    OpSpec("cholesky_solve_upper", lambda lib, m, b: b.cholesky_solve(lib.linalg.cholesky(m + m.mT, upper=True), True),
           _spd_rhs, atol=1e-4, rtol=1e-5),
    OpSpec("cholesky_inverse", lambda lib, m: lib.cholesky_inverse(lib.linalg.cholesky(m + m.mT)), spd_samples,
           atol=1e-4, rtol=1e-5),
    OpSpec("cholesky_inverse_upper", lambda lib, m: lib.linalg.cholesky(m + m.mT, upper=True).cholesky_inverse(True),
           spd_samples, atol=1e-4, rtol=1e-5),
    OpSpec("linalg.lstsq", lambda lib, a, b: lib.linalg.lstsq(a, b).solution, _lstsq_samples, atol=1e-4, rtol=1e-4),
    OpSpec("linalg.lstsq_all", lambda lib, a, b, driver: tuple(lib.linalg.lstsq(a, b, driver=driver)),
           lambda rng, dt: [Sample((arr(rng, (5, 3), dt), arr(rng, (5, 2), dt), d), name=d)
                            for d in ("gelsy", "gelsd", "gelss", "gels")], atol=1e-4, rtol=1e-4, differentiable=False),
    OpSpec("linalg.lu_factor", lambda lib, a: tuple(lib.linalg.lu_factor(a)), _one((3, 3), (2, 4, 4), (3, 5), (5, 2)),
           atol=1e-4, rtol=1e-4, differentiable=False),
    OpSpec("linalg.lu", lambda lib, a: tuple(lib.linalg.lu(a)), _one((3, 3), (2, 4, 4), (3, 5), (5, 2)),
           atol=1e-4, rtol=1e-4, differentiable=False),
    OpSpec("lu_unpack", lambda lib, a: tuple(lib.lu_unpack(*lib.linalg.lu_factor(a))), _one((3, 3), (2, 4, 4), (3, 5)),
           atol=1e-4, rtol=1e-4, differentiable=False),
    OpSpec("torch.lu", lambda lib, a: tuple(a.lu(get_infos=True)), _one((3, 3), (2, 4, 4)), atol=1e-4, rtol=1e-4,
           differentiable=False),
    OpSpec("linalg.lu_solve", lambda lib, lu, piv, b, **kw: lib.linalg.lu_solve(lu, piv, b, **kw), _lu_rhs,
           atol=1e-4, rtol=1e-4),
    OpSpec("lu_solve", lambda lib, lu, piv, b: b.lu_solve(lu, piv), lambda rng, dt: _lu_rhs(rng, dt)[:1],
           atol=1e-4, rtol=1e-4),
]
