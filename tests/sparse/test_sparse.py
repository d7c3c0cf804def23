"""Sparse COO/CSR tensors and ember.sparse's products against torch: coordinates, values, dense forms,
gradients of the values and of the dense operands, and errors."""
import warnings

import numpy as np
import pytest
import torch

import ember

warnings.filterwarnings("ignore", message="Sparse (CSR|invariant)")
RNG = np.random.default_rng(0)


def _dense(shape, density=0.4):
    x = RNG.standard_normal(shape)
    return x * (RNG.random(shape) < density)


def _same(e, t):
    """ember tensor (or sparse tensor) vs torch's: layout, coordinates, values, dtype."""
    if isinstance(t, torch.Tensor) and t.layout == torch.sparse_coo:
        assert e.layout is ember.sparse_coo and e.is_sparse and tuple(e.shape) == tuple(t.shape)
        assert e.is_coalesced() == t.is_coalesced()
        _same(e._indices(), t._indices())
        _same(e._values(), t._values())
        return
    if isinstance(t, torch.Tensor) and t.layout == torch.sparse_csr:
        assert e.layout is ember.sparse_csr and e.is_sparse_csr and tuple(e.shape) == tuple(t.shape)
        for part in ("crow_indices", "col_indices", "values"):
            _same(getattr(e, part)(), getattr(t, part)())
        return
    assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1], (e.dtype, t.dtype)
    torch.testing.assert_close(torch.from_numpy(np.array(e.detach().numpy(), copy=True)), t.detach())


def _pair(arr, requires_grad=False):
    t, e = torch.tensor(arr), ember.tensor(arr)
    return (t.requires_grad_(), e.requires_grad_()) if requires_grad else (t, e)


@pytest.mark.parametrize("shape,sparse_dim", [((4, 5), None), ((3, 4, 2), None), ((4, 5), 1), ((3, 4, 2), 2),
                                              ((6,), None), ((0, 3), None)])
def test_to_sparse_to_dense_and_gradient(shape, sparse_dim):
    t, e = _pair(_dense(shape), True)
    args = () if sparse_dim is None else (sparse_dim,)
    ts, es = t.to_sparse(*args), e.to_sparse(*args)
    _same(es, ts)
    assert es.sparse_dim() == ts.sparse_dim() and es.dense_dim() == ts.dense_dim() and es._nnz() == ts._nnz()
    cot = RNG.standard_normal(shape)
    (ts.to_dense() * torch.tensor(cot)).sum().backward()
    (es.to_dense() * ember.tensor(cot)).sum().backward()
    _same(e.grad, t.grad)


def test_zero_dim_to_sparse():
    for v in (0.0, 2.5):
        t, e = _pair(v, True)
        ts, es = t.to_sparse(), e.to_sparse()
        _same(es, ts)
        _same(es.to_dense(), ts.to_dense())
    for sd in (0, 3, -1):  # torch: sparse_dim in [1, ndim] for a tensor with dims
        with pytest.raises(RuntimeError):
            torch.ones(2, 2).to_sparse(sd)
        with pytest.raises(RuntimeError):
            ember.ones(2, 2).to_sparse(sd)


def test_integer_and_bool_to_sparse():
    for dt in ("int64", "int32", "bool"):
        arr = (RNG.integers(-2, 3, (3, 4)) * (RNG.random((3, 4)) < 0.5)).astype(dt)
        _same(ember.tensor(arr).to_sparse(), torch.tensor(arr).to_sparse())


def test_coo_factory_duplicates_coalesce_and_gradient():
    idx = [[1, 0, 1, 2, 0], [2, 0, 2, 1, 0]]
    vals = RNG.standard_normal(5)
    tv, ev = _pair(vals, True)
    ts, es = torch.sparse_coo_tensor(idx, tv, (3, 3)), ember.sparse_coo_tensor(idx, ev, (3, 3))
    _same(es, ts)
    with pytest.raises(RuntimeError):  # torch: values() needs a coalesced tensor
        ts.values()
    with pytest.raises(RuntimeError):
        es.values()
    tc, ec = ts.coalesce(), es.coalesce()
    _same(ec, tc)
    _same(ec.indices(), tc.indices())
    _same(es.to_dense(), ts.to_dense())
    cot = RNG.standard_normal(tc._nnz())
    (tc.values() * torch.tensor(cot)).sum().backward()
    (ec.values() * ember.tensor(cot)).sum().backward()
    _same(ev.grad, tv.grad)
    # size inferred from the coordinates, hybrid values
    hv = RNG.standard_normal((5, 2))
    _same(ember.sparse_coo_tensor(idx, hv).to_dense(), torch.sparse_coo_tensor(idx, torch.tensor(hv)).to_dense())


def test_csr_factory_and_conversions():
    x = _dense((4, 6))
    t, e = _pair(x)
    _same(e.to_sparse_csr(), t.to_sparse_csr())
    _same(e.to_sparse().to_sparse_csr(), t.to_sparse().to_sparse_csr())
    tc = t.to_sparse_csr()
    ec = ember.sparse_csr_tensor(tc.crow_indices().numpy(), tc.col_indices().numpy(), tc.values().numpy(), (4, 6))
    _same(ec.to_dense(), tc.to_dense())
    _same(ec.to_sparse(), tc.to_sparse())


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_mm_gradients_of_values_and_dense(layout):
    a, d = _dense((5, 4)), RNG.standard_normal((4, 3))
    out = []
    for lib in (torch, ember):
        s = lib.tensor(a).to_sparse() if layout == "coo" else lib.tensor(a).to_sparse_csr()
        vals = s.values().detach().clone().requires_grad_()
        s = (lib.sparse_coo_tensor(s.indices(), vals, s.shape) if layout == "coo" else
             lib.sparse_csr_tensor(s.crow_indices(), s.col_indices(), vals, s.shape))
        dense = lib.tensor(d).requires_grad_()
        y = lib.sparse.mm(s, dense)
        (y * lib.tensor(np.arange(15.0).reshape(5, 3))).sum().backward()
        out.append((y, vals.grad, dense.grad, lib.sparse.addmm(lib.ones(5, 3, dtype=lib.float64), s, dense,
                                                               beta=0.5, alpha=2.0), s @ dense))
    for e, t in zip(out[1], out[0]):
        _same(e, t)


def test_dense_times_sparse():
    a, s = RNG.standard_normal((2, 5)), _dense((5, 3))
    _same(ember.sparse.mm(ember.tensor(a), ember.tensor(s).to_sparse()),
          torch.sparse.mm(torch.tensor(a), torch.tensor(s).to_sparse()))


@pytest.mark.parametrize("reduce", ["sum", "mean", "amax", "amin", "max"])
def test_mm_reduce(reduce):
    a = _dense((5, 4))
    a[2] = 0  # an empty row
    d = RNG.standard_normal((4, 3))
    out = []
    for lib in (torch, ember):
        s = lib.tensor(a).to_sparse_csr()
        vals = s.values().detach().clone().requires_grad_()
        s = lib.sparse_csr_tensor(s.crow_indices(), s.col_indices(), vals, s.shape)
        dense = lib.tensor(d).requires_grad_()
        y = lib.sparse.mm(s, dense, reduce)
        (y * lib.tensor(np.arange(15.0).reshape(5, 3))).sum().backward()
        out.append((y, vals.grad, dense.grad))
    for e, t in zip(out[1], out[0]):
        _same(e, t)


def test_sampled_addmm():
    a, m1, m2 = _dense((4, 5)), RNG.standard_normal((4, 3)), RNG.standard_normal((3, 5))
    out = []
    for lib in (torch, ember):
        s = lib.tensor(a).to_sparse_csr()
        vals = s.values().detach().clone().requires_grad_()
        s = lib.sparse_csr_tensor(s.crow_indices(), s.col_indices(), vals, s.shape)
        p, q = lib.tensor(m1).requires_grad_(), lib.tensor(m2).requires_grad_()
        y = lib.sparse.sampled_addmm(s, p, q, beta=0.3, alpha=1.7)
        (y.values() * lib.arange(y.values().shape[0], dtype=lib.float64)).sum().backward()
        out.append((y, vals.grad, p.grad, q.grad))
    for e, t in zip(out[1], out[0]):
        _same(e, t)


def test_layout_objects():
    x = ember.ones(2, 2)
    assert x.layout is ember.strided and not x.is_sparse
    assert repr(ember.sparse_coo) == "ember.sparse_coo" and ember.sparse_csr is not ember.sparse_coo
    assert x.to_dense() is x


ERRORS = [
    lambda lib: lib.sparse.mm(lib.ones(3, 3).to_sparse(), lib.ones(2, 2)),
    lambda lib: lib.sparse.sampled_addmm(lib.ones(3, 3).to_sparse_csr(), lib.ones(3, 2), lib.ones(3, 3)),
    lambda lib: lib.sparse_coo_tensor([[0, 1]], [1.0, 2.0, 3.0]),
    lambda lib: lib.ones(2, 2).to_sparse().crow_indices(),
    lambda lib: lib.ones(2, 2).to_sparse_csr().indices(),
    lambda lib: lib.sparse.mm(lib.ones(3, 3).to_sparse_csr(), lib.ones(3, 2), "prod"),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors(case):
    with pytest.raises(Exception) as te:
        ERRORS[case](torch)
    with pytest.raises(type(te.value)):
        ERRORS[case](ember)


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_autograd_grad_with_respect_to_a_sparse_tensor(layout):
    """A sparse input's gradient keeps its sparsity pattern (torch's sparse.mm: the masked gradient)."""
    a, d = _dense((4, 5)), RNG.standard_normal((5, 2))
    cot = RNG.standard_normal((4, 2))
    got = []
    for lib in (torch, ember):
        s = lib.tensor(a).to_sparse() if layout == "coo" else lib.tensor(a).to_sparse_csr()
        s.requires_grad_()
        g, = lib.autograd.grad(lib.sparse.mm(s, lib.tensor(d)), s, lib.tensor(cot))
        got.append(g)
    assert got[1].layout is (ember.sparse_coo if layout == "coo" else ember.sparse_csr)
    _same(got[1].to_dense(), got[0].to_dense())
    # a sparse output: its cotangent is read at its stored coordinates
    s = ember.tensor(a).to_sparse_csr()
    m1, m2 = ember.tensor(RNG.standard_normal((4, 3)), requires_grad=True), ember.tensor(RNG.standard_normal((3, 5)))
    out = ember.sparse.sampled_addmm(s, m1, m2)
    g, = ember.autograd.grad(out, m1, ember.ones(4, 5, dtype=ember.float64))
    _same(g, torch.tensor(a != 0, dtype=torch.float64) @ torch.tensor(m2.numpy()).T)


def test_sparse_operands_of_dense_ops_and_products_as_torch():
    """dense + sparse is dense; dense @ sparse, mm(sparse, dense) and .to(dtype) as in a GCN's preprocessing."""
    import numpy as np
    import torch
    res = []
    for lib in (ember, torch):
        i = lib.tensor([[0, 1, 2, 2], [1, 0, 2, 0]])
        adj = lib.sparse_coo_tensor(i, lib.ones(4), (3, 3), dtype=lib.int64)
        dense = lib.eye(3) + adj
        deg = lib.diag(dense.sum(1) ** -0.5).to_sparse()
        norm = deg @ dense @ deg
        w = lib.tensor(np.arange(6.0).reshape(3, 2), dtype=lib.float32, requires_grad=True)
        out = lib.mm(norm.to_sparse().to(lib.float32), w)
        out.sum().backward()
        res += [dense.numpy(), norm.numpy(), out.detach().numpy(), w.grad.numpy()]
    for e, t in zip(res[:4], res[4:]):
        np.testing.assert_allclose(e, t, rtol=1e-6)


@pytest.mark.parametrize("sparse_cotangent", [False, True])
def test_sampled_addmm_gradient_of_its_sparse_input_as_torch(sparse_cotangent):
    """torch's gradient of sampled_addmm's CSR input is beta * the cotangent: dense (off-pattern entries too)
    for a dense cotangent, CSR for a CSR one."""
    a, m1, m2 = _dense((3, 4), 0.5), RNG.standard_normal((3, 5)), RNG.standard_normal((5, 4))
    cot = RNG.standard_normal((3, 4)) * ((a != 0) if sparse_cotangent else 1)
    got = []
    for lib in (torch, ember):
        s = lib.tensor(a).to_sparse_csr().requires_grad_()
        p, q = lib.tensor(m1).requires_grad_(), lib.tensor(m2).requires_grad_()
        c = lib.tensor(cot).to_sparse_csr() if sparse_cotangent else lib.tensor(cot)
        got.append(lib.autograd.grad(lib.sparse.sampled_addmm(s, p, q, beta=0.3, alpha=-1.5), [s, p, q], c))
    for e, t in zip(got[1], got[0]):
        _same(e, t)
