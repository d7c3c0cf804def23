"""Linear algebra and nn math beyond the spec table: errors, named results, one_hot, normalize, in-place flags."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as F
from conftest import assert_close, to_torch


def t(a, requires_grad=False):
    return ember.tensor(np.asarray(a, dtype=np.float32), requires_grad=requires_grad)


@pytest.mark.parametrize("fn,shapes,match", [
    (lambda lib, a, b: a @ b, [(2, 3), (4, 5)], r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    (lambda lib, a, b: lib.mm(a, b), [(2, 3), (4, 5)], r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    (lambda lib, a, b: a @ b, [(3,), (4,)], "inconsistent tensor size"),
    (lambda lib, a, b: a @ b, [(2, 3), (4,)], r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"),
    (lambda lib, a, b: a @ b, [(2, 2, 3), (2, 4, 5)], r"Expected size for first two dimensions of batch2 tensor"),
    (lambda lib, a, b: a @ b, [(2, 2, 3), (3, 3, 5)], "must match the size"),
    (lambda lib, a, b: lib.matmul(a, b), [(), (3,)], "both arguments to matmul need to be at least 1D"),
    (lambda lib, a, b: lib.mm(a, b), [(3,), (3, 3)], "self must be a matrix"),
    (lambda lib, a, b: lib.bmm(a, b), [(3, 3), (3, 3)], "batch1 must be a 3D tensor"),
    (lambda lib, a, b: lib.bmm(a, b), [(2, 3, 3), (3, 3, 3)], "Expected size for first two dimensions"),
    (lambda lib, a, b: lib.dot(a, b), [(3,), (3, 1)], "1D tensors expected"),
    (lambda lib, a, b: lib.outer(a, b), [(3, 1), (3,)], "outer"),
    (lambda lib, a, b: lib.einsum("ij,jk->ik", a, b), [(2, 3), (4, 5)], "einsum"),
    (lambda lib, a, b: lib.einsum("ij,jk->ik", a), [(2, 3), (3, 2)], "einsum"),
    (lambda lib, a, b: lib.einsum("ijk,jk->i", a, b), [(2, 3), (3, 2)], "einsum"),
    (lambda lib, a, b: lib.tensordot(a, b, dims=([0], [0])), [(2, 3), (3, 2)], "contracted dimensions"),
    (lambda lib, a, b: lib.linalg.cross(a, b), [(2,), (2,)], "must have length 3"),
    (lambda lib, a, b: lib.linalg.solve(a, b), [(3, 3), (4, 2)], "linalg.solve"),
])
def test_shape_errors_are_runtime_errors(fn, shapes, match):
    """Each bad call raises RuntimeError naming the op and shapes, as torch raises RuntimeError for it."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    with pytest.raises(RuntimeError, match=match):
        fn(ember, *[ember.tensor(a) for a in arrays])
    with pytest.raises(RuntimeError):
        fn(torch, *[torch.from_numpy(a) for a in arrays])


def test_dtype_mismatch_messages_match_torch():
    a, b = np.ones((2, 3), np.float32), np.ones((3, 2), np.float64)
    for fn in (lambda lib, x, y: x @ y, lambda lib, x, y: lib.mm(x, y)):
        with pytest.raises(RuntimeError) as te:
            fn(torch, torch.from_numpy(a), torch.from_numpy(b))
        with pytest.raises(RuntimeError) as ee:
            fn(ember, ember.tensor(a), ember.tensor(b))
        assert str(ee.value) == str(te.value) == "expected m1 and m2 to have the same dtype, but got: float != double"
    with pytest.raises(RuntimeError, match="dot : expected both vectors to have same dtype, but found Float and Double"):
        ember.dot(ember.tensor(a[0]), ember.tensor(b[:, 0]))


def test_integer_matmul_keeps_dtype():
    a = np.arange(6).reshape(2, 3)
    out = ember.tensor(a) @ ember.tensor(a.T.copy())
    assert_close(out, torch.from_numpy(a) @ torch.from_numpy(a.T.copy()))


def test_grad_of_weight_shared_across_a_batch():
    """(B, n, k) @ (k, m): the weight's gradient sums over the batch (the folded path of Matmul's backward)."""
    rng = np.random.default_rng(1)
    x, w, g = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal((2, 3, 5))
    ex, ew = ember.tensor(x, requires_grad=True), ember.tensor(w, requires_grad=True)
    tx, tw = to_torch(x, True), to_torch(w, True)
    (ex @ ew * ember.tensor(g)).sum().backward()
    (tx @ tw * torch.from_numpy(g)).sum().backward()
    assert_close(ex.grad, tx.grad, atol=1e-12)
    assert_close(ew.grad, tw.grad, atol=1e-12)


def test_einsum_list_operands_and_implicit_ellipsis():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5))
    assert_close(ember.einsum("...ij,jk", [ember.tensor(a), ember.tensor(b)]),
                 torch.einsum("...ij,jk", [torch.from_numpy(a), torch.from_numpy(b)]))


def test_named_results():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    s = ember.linalg.slogdet(ember.tensor(-A))
    ts = torch.linalg.slogdet(torch.from_numpy(-A))
    assert_close(s.sign, ts.sign)
    assert_close(s.logabsdet, ts.logabsdet)
    e = ember.linalg.eigh(ember.tensor(A))
    assert_close(e.eigenvalues, torch.linalg.eigh(torch.from_numpy(A)).eigenvalues)
    u, sv, vh = ember.linalg.svd(ember.tensor(A))
    assert_close(u @ (ember.linalg.svdvals(ember.tensor(A)).reshape(2, 1) * vh), torch.from_numpy(A))
    q, r = ember.linalg.qr(ember.tensor(A), mode="r")
    assert q.shape == (0,) and np.allclose(np.abs(r.numpy()), np.abs(torch.linalg.qr(torch.from_numpy(A)).R.numpy()))


def test_linalg_errors():
    with pytest.raises(ember.linalg.LinAlgError, match="singular"):
        ember.linalg.inv(ember.zeros(3, 3))
    assert issubclass(ember.linalg.LinAlgError, RuntimeError)
    with pytest.raises(ember.linalg.LinAlgError, match="positive-definite"):
        ember.linalg.cholesky(-ember.eye(3))
    with pytest.raises(RuntimeError, match="A must be batches of square matrices, but they are 2 by 3 matrices"):
        ember.linalg.det(ember.ones(2, 3))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        ember.linalg.inv(ember.ones(3))
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as input. Got Long"):
        ember.linalg.vector_norm(ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="Order bad not supported"):
        ember.linalg.matrix_norm(ember.ones(3, 3), "bad")
    with pytest.raises(RuntimeError, match="the input must be 1D or 2D. Got 3D"):
        ember.linalg.norm(ember.ones(2, 2, 2), 2)


def test_matrix_rank_and_aliases():
    A = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]])
    assert_close(ember.linalg.matrix_rank(ember.tensor(A)), torch.linalg.matrix_rank(torch.from_numpy(A)))
    B = A + 3 * np.eye(3)
    assert_close(ember.inverse(ember.tensor(B)), torch.inverse(torch.from_numpy(B)))
    assert_close(ember.tensor(B).det(), torch.from_numpy(B).det())
    spd = B @ B.T
    assert_close(ember.cholesky(ember.tensor(spd), upper=True), torch.linalg.cholesky(torch.from_numpy(spd), upper=True))
    U, S, V = ember.svd(ember.tensor(B))
    assert_close(U @ (S.reshape(3, 1) * ember.einsum("ij->ji", V)), torch.from_numpy(B), atol=1e-10)
    assert_close(ember.tensor(B).norm(p="nuc"), torch.from_numpy(B).norm(p="nuc"))


# ----------------------------------------------------------------------------- nn math
def test_one_hot():
    idx = np.array([[0, 3], [2, 1]])
    assert_close(F.one_hot(ember.tensor(idx)), TF.one_hot(torch.from_numpy(idx)))
    assert_close(F.one_hot(ember.tensor(idx), 6), TF.one_hot(torch.from_numpy(idx), 6))
    for bad, n, msg in [(np.array([1.0]), -1, "LongTensor"), (np.array([1, -1]), -1, "non-negative"),
                        (np.array([1, 5]), 3, "smaller than num_classes"), (np.zeros(0, np.int64), -1, "empty")]:
        with pytest.raises(RuntimeError, match=msg):
            F.one_hot(ember.tensor(bad), n)
        with pytest.raises(RuntimeError):
            TF.one_hot(torch.from_numpy(bad), n)


@pytest.mark.parametrize("p,dim", [(2, 1), (1, 0), (3, -1)])
def test_normalize_forward_and_grad(p, dim):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4))
    x[1] = 0.0  # a zero vector stays zero, with the eps clamp
    ex, tx = ember.tensor(x, requires_grad=True), to_torch(x, True)
    g = rng.standard_normal((3, 4))
    ey, ty = F.normalize(ex, p=p, dim=dim), TF.normalize(tx, p=p, dim=dim)
    assert_close(ey, ty, atol=1e-10)
    (ey * ember.tensor(g)).sum().backward()
    (ty * torch.from_numpy(g)).sum().backward()
    assert_close(ex.grad, tx.grad, atol=1e-8)


def test_softmax_is_method_function_and_functional():
    x = np.random.default_rng(4).standard_normal((2, 5)).astype(np.float32)
    ref = torch.softmax(torch.from_numpy(x), -1)
    for out in (ember.softmax(ember.tensor(x), -1), ember.tensor(x).softmax(-1), F.softmax(ember.tensor(x), dim=-1)):
        assert_close(out, ref)
    with pytest.raises(NotImplementedError, match="Long"):
        ember.softmax(ember.tensor([1, 2]), 0)
    with pytest.raises(IndexError):
        ember.softmax(ember.tensor(x), 2)


def test_log_softmax_extreme_values_are_finite():
    x = np.array([[0.0, -1e4, 1e4]], np.float32)
    assert_close(F.log_softmax(ember.tensor(x), 1), TF.log_softmax(torch.from_numpy(x), 1))


def test_inplace_activation_flags():
    x = np.array([-1.0, 0.5, 2.0], np.float32)
    for name, kw in [("relu", {}), ("leaky_relu", {"negative_slope": 0.1}), ("elu", {}), ("hardtanh", {}),
                     ("relu6", {})]:
        e, tt = ember.tensor(x.copy()), torch.from_numpy(x.copy())
        out = getattr(F, name)(e, inplace=True, **kw)
        getattr(TF, name)(tt, inplace=True, **kw)
        assert out is e
        assert_close(e, tt)


def test_pad_errors_match_torch():
    x = ember.ones(1, 3)
    cases = [((1,), "constant", RuntimeError, "divisible by 2"), ((1, 1, 1, 1, 1, 1), "constant", RuntimeError,
             "less than or equal to two times"), ((3, 3), "reflect", RuntimeError, "Padding size should be less"),
             ((4, 4), "circular", RuntimeError, "wrapping around more than once"),
             ((1, 1), "bogus", NotImplementedError, "Unrecognised padding mode bogus")]
    for pad, mode, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            F.pad(x, pad, mode=mode)
        with pytest.raises(exc):
            TF.pad(torch.ones(1, 3), pad, mode=mode)
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 1D input"):
        F.pad(ember.ones(3), (1, 1), mode="reflect")


def test_gelu_matches_torch_in_float64():
    x = np.linspace(-6, 6, 25)
    assert_close(F.gelu(ember.tensor(x)), TF.gelu(torch.from_numpy(x)), atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("shape,rank,hermitian", [((4, 5), 2, False), ((5, 4), 2, False), ((3, 4, 4), 4, False),
                                                  ((5, 5), 2, True), ((5, 5), 5, True)])
def test_pinv_gradients_at_rank_deficient_and_hermitian_inputs(shape, rank, hermitian):
    """pinv's closed-form gradient stays torch's where A loses rank; hermitian reads the lower triangle only."""
    rng = np.random.default_rng(5)
    a = rng.normal(size=shape[:-1] + (rank,)) @ rng.normal(size=shape[:-2] + (rank, shape[-1]))
    if hermitian:
        a = a @ np.swapaxes(a, -1, -2) + np.triu(np.full(shape, 7.0), 1)  # junk above the diagonal
    out = {}
    for lib in (torch, ember):
        A = lib.tensor(a, requires_grad=True)
        B = lib.linalg.pinv(A, hermitian=hermitian)
        G = lib.tensor(np.cos(np.arange(B.numel())).reshape(tuple(B.shape)))
        gA, = lib.autograd.grad(B, A, G, create_graph=True)
        ggA, = lib.autograd.grad((gA * gA).sum(), A)
        out[lib.__name__] = [B.detach().numpy(), gA.detach().numpy(), ggA.numpy()]
    for e, t in zip(out["ember"], out["torch"]):
        np.testing.assert_allclose(e, t, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("fn,shape", [("lu", (4, 4)), ("lu", (2, 3, 3)), ("lu_factor", (4, 4)), ("qr", (3, 5)),
                                      ("qr_complete", (2, 3, 6)), ("qr", (5, 3)), ("lu", (3, 5)), ("lu", (2, 5, 3)),
                                      ("lu_factor", (3, 5)), ("lu_factor", (5, 3))])
def test_lu_and_wide_qr_are_differentiable_as_torch(fn, shape):
    """Gradients and second derivatives of linalg.lu / lu_factor (square, wide, tall) and qr of a wide matrix."""
    a = np.random.default_rng(6).normal(size=shape)
    out = {}
    for lib in (torch, ember):
        A = lib.tensor(a, requires_grad=True)
        if fn == "lu":
            outs = lib.linalg.lu(A)[1:]
        elif fn == "lu_factor":
            outs = lib.linalg.lu_factor(A)[:1]
        else:
            outs = lib.linalg.qr(A, mode="complete" if fn == "qr_complete" else "reduced")
        loss = sum((o * lib.tensor(np.cos(np.arange(o.numel()) + k).reshape(tuple(o.shape)))).sum()
                   for k, o in enumerate(outs))
        g, = lib.autograd.grad(loss, A, create_graph=True)
        gg, = lib.autograd.grad((g * g).sum(), A)
        out[lib.__name__] = [o.detach().numpy() for o in outs] + [g.detach().numpy(), gg.numpy()]
    for e, t in zip(out["ember"], out["torch"]):
        np.testing.assert_allclose(e, t, rtol=1e-8, atol=1e-8)


def _both(fn, *arrays, grad=True):
    """fn(lib, *tensors) under torch and ember: outputs, and (with grad) the gradients and second
    derivatives of a fixed weighted sum of the floating outputs."""
    out = {}
    for lib in (torch, ember):
        xs = [lib.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
        res = fn(lib, *xs)
        res = list(res) if isinstance(res, tuple) else [res]
        vals = [r.detach().numpy() for r in res]
        if grad:
            diff = [r for r in res if r.requires_grad]
            loss = sum((r * lib.tensor(np.cos(np.arange(r.numel()) + k).reshape(tuple(r.shape)))).sum()
                       for k, r in enumerate(diff))
            ins = [x for x in xs if x.requires_grad]
            g = lib.autograd.grad(loss, ins, create_graph=True)
            vals += [gi.detach().numpy() for gi in g]
            if any(gi.requires_grad for gi in g):  # a linear map's gradient is constant
                vals += [gi.numpy() for gi in lib.autograd.grad(sum((gi * gi).sum() for gi in g), ins)]
        out[lib.__name__] = vals
    for e, t in zip(out["ember"], out["torch"]):
        assert e.dtype == t.dtype and e.shape == t.shape
        np.testing.assert_allclose(e, t, rtol=1e-7, atol=1e-8)
    return out["ember"]


def test_slogdet_sign_matrix_power_zero_and_lstsq_residuals_carry_graph():
    """Outputs with zero gradient still require grad, as torch's (slogdet's sign, A^0, empty residuals)."""
    a = np.random.default_rng(7).normal(size=(2, 3, 3))
    _both(lambda lib, A: lib.linalg.slogdet(A), a)
    _both(lambda lib, A: lib.linalg.matrix_power(A, 0) + A, a)
    for lib in (torch, ember):
        A = lib.tensor(a[0], requires_grad=True)
        assert lib.linalg.slogdet(A).sign.requires_grad and lib.linalg.matrix_power(A, 0).requires_grad
        assert lib.linalg.lstsq(A, A).residuals.requires_grad


@pytest.mark.parametrize("name", ["inv_ex", "solve_ex", "cholesky_ex", "lu_factor_ex"])
def test_ex_variants_match_torch_with_info_and_gradients(name):
    """The _ex variants: values, int32 info and gradients as torch's on invertible / PD batches."""
    rng = np.random.default_rng(8)
    a = rng.normal(size=(2, 4, 4))
    if name == "cholesky_ex":
        a = a @ np.swapaxes(a, -1, -2) + 4 * np.eye(4)
    args = (a, rng.normal(size=(2, 4, 3))) if name == "solve_ex" else (a,)
    res = _both(lambda lib, *xs: getattr(lib.linalg, name)(*xs), *args)
    info = res[{"lu_factor_ex": 2}.get(name, 1)]
    assert info.dtype == np.int32 and not info.any()


def test_ex_variants_report_singular_and_indefinite_matrices_as_torch():
    """info is LAPACK's (first zero pivot, order of the failing minor); check_errors raises torch's class."""
    sing = np.array([[1., 2., 3.], [2., 4., 6.], [1., 0., 1.]])
    indef = np.array([[4., 2., 1.], [2., 1., 0.], [1., 0., 3.]])
    batch = np.stack([np.eye(3), sing])
    _both(lambda lib, A: lib.linalg.lu_factor_ex(A), sing, grad=False)
    _both(lambda lib, A: lib.linalg.cholesky_ex(A), indef, grad=False)  # the partial factor, as LAPACK's
    _both(lambda lib, A: lib.linalg.cholesky_ex(A, upper=True), indef, grad=False)
    for lib in (torch, ember):
        assert lib.linalg.inv_ex(lib.tensor(batch)).info.tolist() == [0, 3]
        assert lib.linalg.solve_ex(lib.tensor(batch), lib.tensor(np.ones(3))).info.tolist() == [0, 3]
        with pytest.raises(lib.linalg.LinAlgError, match=r"\(Batch element 1\): The diagonal element 3 is zero"):
            lib.linalg.inv_ex(lib.tensor(batch), check_errors=True)
        with pytest.raises(lib.linalg.LinAlgError, match="leading minor of order 2 is not positive-definite"):
            lib.linalg.cholesky_ex(lib.tensor(indef), check_errors=True)
        with pytest.raises(RuntimeError, match=r"U\[3,3\] is zero"):
            lib.linalg.lu_factor(lib.tensor(sing))


@pytest.mark.parametrize("fn,shapes", [
    (lambda lib, A: lib.linalg.tensorinv(A, ind=1), [(6, 2, 3)]),
    (lambda lib, A, B: lib.linalg.tensorsolve(A, B), [(2, 3, 6), (2, 3)]),
    (lambda lib, A, B: lib.linalg.tensorsolve(A, B, dims=(0,)), [(6, 2, 3), (2, 3)]),
    (lambda lib, A: lib.linalg.cond(A), [(2, 3, 5)]),
    (lambda lib, A: lib.linalg.cond(A, -2), [(4, 3)]),
    (lambda lib, A: lib.linalg.cond(A, "nuc"), [(2, 3, 3)]),
    (lambda lib, x, y: lib.linalg.vecdot(x, y, dim=0), [(3, 1), (3, 4)]),
    (lambda lib, x: lib.linalg.vander(x, N=4), [(2, 3)]),
    (lambda lib, A: lib.linalg.diagonal(A, offset=1, dim1=0, dim2=2), [(3, 2, 4)]),
    (lambda lib, A: lib.pinverse(A, rcond=0.3), [(4, 3)]),
    (lambda lib, A: A.pinverse(), [(2, 3, 4)]),
])
def test_more_linalg_functions_match_torch(fn, shapes):
    """tensorinv/tensorsolve, cond (every norm family), vecdot, vander, diagonal, pinverse: values,
    gradients and second derivatives as torch's."""
    rng = np.random.default_rng(9)
    _both(fn, *[rng.normal(size=s) for s in shapes])


def test_vander_at_zero_and_of_integers_as_torch():
    """vander's gradient is exact at x = 0 (no 0 * inf) and integer inputs promote to int64, as torch's."""
    _both(lambda lib, x: lib.linalg.vander(x), np.array([0.0, 2.0, -1.5]))
    _both(lambda lib, x: lib.linalg.vander(x, N=3), np.array([[1, 2], [3, -4]], np.int32), grad=False)


@pytest.mark.parametrize("p", [1, "fro", -math.inf])
def test_cond_through_the_inverse_as_torch(p):
    """cond in the 1, fro, inf norms, through inv_ex (torch 2.13's own backward fails there: it writes
    inv_ex's output in place, so only values are compared)."""
    _both(lambda lib, A: lib.linalg.cond(A, p), np.random.default_rng(10).normal(size=(2, 3, 3)), grad=False)


def test_singular_cond_is_inf_as_torch():
    sing = np.array([[1., 2., 3.], [2., 4., 6.], [1., 0., 1.]])
    for p in ("fro", 1, math.inf):
        _both(lambda lib, A: lib.linalg.cond(A, p), sing, grad=False)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.linalg.cond(lib.ones(2, 3), 1),
    lambda lib: lib.linalg.cond(lib.ones(3, 3), 3),
    lambda lib: lib.linalg.tensorinv(lib.ones(2, 3, 4), 0),
    lambda lib: lib.linalg.tensorinv(lib.ones(2, 3, 4), 1),
    lambda lib: lib.linalg.tensorsolve(lib.ones(2, 3, 4), lib.ones(2, 3)),
    lambda lib: lib.linalg.vecdot(lib.ones(3), lib.ones(3, dtype=lib.float64)),
    lambda lib: lib.linalg.vander(lib.ones(3), N=1),
    lambda lib: lib.cov(lib.ones(5), fweights=lib.ones(5)),
    lambda lib: lib.cov(lib.ones(5), aweights=-lib.ones(5)),
])
def test_more_linalg_errors_are_torchs(fn):
    with pytest.raises(RuntimeError) as te:
        fn(torch)
    with pytest.raises(RuntimeError) as ee:
        fn(ember)
    assert str(ee.value) == str(te.value)


def _symmetric_cases(rng, count):
    """Random symmetric matrices, some with small rows, zero diagonals or a zero row (a singular D)."""
    for i in range(count):
        n = int(rng.integers(1, 8))
        a = rng.normal(size=(n, n))
        a = a + a.T
        if i % 3 == 0:
            a[rng.integers(n), :] *= 1e-3
        if i % 5 == 0:
            np.fill_diagonal(a, 0)  # forces 2x2 pivots
        if i % 7 == 0:
            a[:, 0] = a[0, :] = 0
        yield a


def test_ldl_factor_and_solve_match_lapack_as_torch_calls_it():
    """Bunch-Kaufman LD, pivots (2x2 blocks negative) and info as LAPACK's sytrf; ldl_solve on torch's factor."""
    rng = np.random.default_rng(11)
    for a in _symmetric_cases(rng, 60):
        LD, piv, info = torch.linalg.ldl_factor_ex(torch.tensor(a))
        eLD, epiv, einfo = ember.linalg.ldl_factor_ex(ember.tensor(a))
        np.testing.assert_array_equal(epiv.numpy(), piv.numpy())
        assert einfo.dtype == ember.int32 and einfo.item() == info.item()
        np.testing.assert_allclose(eLD.numpy(), LD.numpy(), rtol=1e-8, atol=1e-10)
        if not info.item():
            B = rng.normal(size=(2, a.shape[0], 3))
            X = ember.linalg.ldl_solve(ember.tensor(LD.numpy()), ember.tensor(piv.numpy()), ember.tensor(B))
            np.testing.assert_allclose(X.numpy(), torch.linalg.ldl_solve(LD, piv, torch.tensor(B)).numpy(),
                                       rtol=1e-7, atol=1e-9)
    batch = np.stack(list(_symmetric_cases(np.random.default_rng(1), 8))[1:2] * 3)
    _both(lambda lib, A: lib.linalg.ldl_factor(A), batch, grad=False)
    for lib in (torch, ember):
        with pytest.raises(RuntimeError):
            lib.linalg.ldl_factor(lib.zeros(3, 3))


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 4, 2), (3, 0)])
def test_geqrf_is_lapacks_packed_qr(shape):
    a = np.random.default_rng(12).normal(size=shape)
    a[..., :, :1] = 0  # a zero column: tau = 0, H = I
    _both(lambda lib, A: lib.geqrf(A), a, grad=False)
    _both(lambda lib, A: A.geqrf(), a + 1, grad=False)


@pytest.mark.parametrize("left,transpose", [(True, False), (True, True), (False, False), (False, True)])
def test_householder_product_and_ormqr_are_differentiable_as_torch(left, transpose):
    """Q from geqrf's reflectors, and Q (or Q^T) applied from either side: values, gradients and second
    derivatives in the reflectors, tau and the other matrix."""
    rng = np.random.default_rng(13)
    a, tau = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 3))
    _both(lambda lib, A, t: lib.linalg.householder_product(A, t), a, tau)
    other = rng.normal(size=(2, 5, 4) if left else (2, 4, 5))
    _both(lambda lib, A, t, C: lib.ormqr(A, t, C, left, transpose), a, tau, other)


# ---------------------------------------------------------------- issue 7: integer products, broadcast contractions
@pytest.mark.parametrize("call", [
    lambda lib, a, b: lib.einsum("ij->", a), lambda lib, a, b: lib.einsum("ii", a[:, :2]),
    lambda lib, a, b: lib.einsum("ij->ji", a), lambda lib, a, b: lib.einsum("ij,kj->ik", a, b),
    lambda lib, a, b: lib.einsum("ij,kl->i", a, b),
    lambda lib, a, b: lib.addmv(a[0, :2], b.T[:2], b[0], beta=0.2, alpha=0.6),
    lambda lib, a, b: lib.addmv(a[0, :2], b.T[:2], b[0], beta=2, alpha=3),
    lambda lib, a, b: lib.addbmm(a[:, :2], a[None].expand(2, 2, 3), b.T[None, :, :2].expand(2, 3, 2)),
    lambda lib, a, b: lib.linalg.cross(a[:, :3], b[:2, :3]), lambda lib, a, b: lib.cross(a[:, :3], b[:2], dim=1)])
@pytest.mark.parametrize("dtype", ["uint8", "int32", "int64"])
def test_integer_products_keep_torchs_dtypes_and_wrap(call, dtype):
    a = np.array([[5, 1, 6], [5, 6, 4]]).astype(dtype)
    b = np.array([[2, 5, 5], [9, 3, 1], [7, 0, 2]]).astype(dtype)
    assert_close(call(ember, ember.tensor(a), ember.tensor(b)), call(torch, torch.tensor(a), torch.tensor(b)))


def test_tensordot_broadcasts_size_one_contracted_dims_as_torch_with_gradients():
    a0, b0 = np.random.default_rng(0).normal(size=(1, 1, 3)), np.random.default_rng(1).normal(size=(2, 1, 4))
    res = []
    for lib in (ember, torch):
        a, b = lib.tensor(a0, requires_grad=True), lib.tensor(b0, requires_grad=True)
        y = lib.tensordot(a, b, dims=([0, 1], [0, 1]))
        res.append((y, *lib.autograd.grad((y * y).sum(), (a, b))))
    for e, t in zip(*res):
        assert_close(e, t, atol=1e-12)


@pytest.mark.parametrize("p", [0.5, 1.5, 2, 2.5, 3])
@pytest.mark.parametrize("x", [[0.0, 0.0, 0.0], [0.0, 2.0, -3.0]])
def test_vector_norm_subgradients_at_zero_as_torch(p, x):
    """At a zero norm (or a zero entry, p < 1) the gradient is 0 and the second derivative nan, as torch's."""
    out = {}
    for lib in (torch, ember):
        t = lib.tensor(x, dtype=lib.float64, requires_grad=True)
        g, = lib.autograd.grad(lib.linalg.vector_norm(t, p), t, create_graph=True)
        gg, = lib.autograd.grad((g * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum(), t)
        out[lib.__name__] = (g.detach().numpy(), gg.numpy())
    for e, t in zip(out["ember"], out["torch"]):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("shape,k", [((6, 4), 2), ((4, 7), 3), ((2, 5, 5), 2)])
def test_svd_and_pca_lowrank_are_exact_on_low_rank_inputs_as_torch(shape, k):
    """On a rank-k product a b^T with q = k the randomized SVD is exact: U V^T, S and their gradients
    (second derivatives too) are torch's whatever the random sketch (U, V signs follow it)."""
    rng = np.random.default_rng(14)
    a, b = rng.normal(size=shape[:-1] + (k,)), rng.normal(size=shape[:-2] + (shape[-1], k))

    def run(fn):
        def call(lib, x, y):
            U, S, V = fn(lib, x @ y.mT)
            return U @ V.mT, S
        return call
    _both(run(lambda lib, A: lib.svd_lowrank(A, q=k)), a, b)
    _both(run(lambda lib, A: lib.pca_lowrank(A, q=k, center=True)), a, b)
    _both(run(lambda lib, A: lib.svd_lowrank(A + 1, q=k, M=lib.ones(A.shape, dtype=A.dtype))), a, b)


@pytest.mark.parametrize("fn", [lambda lib, x: lib.linalg.inv(x), lambda lib, x: lib.linalg.solve(x, lib.ones(3)),
                                lambda lib, x: lib.linalg.cholesky(x)])
@pytest.mark.parametrize("batched", [False, True])
def test_failed_decompositions_name_the_pivot_and_batch_element_as_torch(fn, batched):
    """inv/solve of a singular and cholesky of an indefinite matrix: torch's message, LAPACK's info in it."""
    sing = np.array([[1., 2., 3.], [2., 4., 6.], [1., 0., 1.]])
    indef = np.array([[4., 2., 1.], [2., 1., 0.], [1., 0., 3.]])
    msgs = []
    for lib in (torch, ember):
        for m in (sing, indef):
            x = lib.tensor(np.stack([np.eye(3), m]) if batched else m)
            try:
                fn(lib, x)
                msgs.append(None)
            except RuntimeError as e:
                msgs.append(str(e))
    assert msgs[:2] == msgs[2:] and any(msgs)


def test_cholesky_tangent_takes_the_input_tangent_as_given_as_torch():
    """Forward AD of cholesky (and cholesky_ex) with a non-symmetric tangent equals torch's."""
    import torch.autograd.forward_ad as tfw
    import ember.autograd.forward_ad as efw
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 4))
    a, t = x @ x.transpose(0, 2, 1) + 4 * np.eye(4), rng.standard_normal((2, 4, 4))
    res = []
    for lib, fw in ((torch, tfw), (ember, efw)):
        with fw.dual_level():
            d = fw.make_dual(lib.tensor(a), lib.tensor(t))
            res += [fw.unpack_dual(lib.linalg.cholesky(d)).tangent.numpy(),
                    fw.unpack_dual(lib.linalg.cholesky_ex(d).L).tangent.numpy()]
    for e, w in zip(res[2:], res[:2]):
        np.testing.assert_allclose(e, w, rtol=1e-10, atol=1e-12)
