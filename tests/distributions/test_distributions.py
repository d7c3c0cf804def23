"""Every distribution against torch 2.13.0's torch.distributions, on the same parameters and values."""
import numpy as np
import pytest
import torch

import ember
from tests.conftest import assert_close
from tests.distributions.cases import CASES

IDS = [c.name for c in CASES]


def _build(lib, case, arrays, dtype="float64", requires_grad=True):
    """The case's distribution in ``lib`` and its parameter tensors (leaves that require grad)."""
    p = {}
    for k, a in arrays.items():
        t = lib.tensor(a, dtype=getattr(lib, dtype))
        p[k] = t.requires_grad_(requires_grad and k in case.grad)
    return case.make(lib.distributions, p), p


def _pair(case, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    arrays = case.params(rng)
    value = case.value(rng, arrays)
    e, ep = _build(ember, case, arrays, dtype)
    t, tp = _build(torch, case, arrays, dtype)
    vdt = "int64" if case.value_dtype == "int" else dtype
    ev, tv = ember.tensor(value, dtype=getattr(ember, vdt)), torch.tensor(value, dtype=getattr(torch, vdt))
    return (e, ep, ev), (t, tp, tv)


def _both(fn_e, fn_t):
    """Run on both sides; a NotImplementedError in torch must be one in ember too."""
    try:
        rt = fn_t()
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            fn_e()
        return None, None
    return fn_e(), rt


def _same_with_grads(oe, ot, ep, tp, case, what, atol=1e-9, grads=True):
    """ember's ``oe`` matches torch's ``ot``, and so do the gradients of their sums (unless ``grads`` is False)."""
    assert_close(oe, ot, atol=atol, rtol=1e-8, what=what)
    if not grads:
        return
    oe.sum().backward()
    ot.sum().backward()
    for k in case.grad:
        assert_close(ep[k].grad, tp[k].grad, atol=1e-7, rtol=1e-6, what=f"{what}: grad of {k}")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_shapes(case):
    (e, _, _), (t, _, _) = _pair(case)
    assert tuple(e.batch_shape) == tuple(t.batch_shape)
    assert tuple(e.event_shape) == tuple(t.event_shape)
    assert e.has_rsample == t.has_rsample
    assert e.has_enumerate_support == t.has_enumerate_support
    if case.name != "Beta":  # torch's Beta keeps its parameters in an inner Dirichlet and prints "Beta()"
        assert repr(e).replace("ember.", "torch.") == repr(t)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_log_prob_and_grad(case):
    (e, ep, ev), (t, tp, tv) = _pair(case)
    le, lt = e.log_prob(ev), t.log_prob(tv)
    _same_with_grads(le, lt, ep, tp, case, "log_prob")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_entropy_and_grad(case):
    (e, ep, _), (t, tp, _) = _pair(case)
    he, ht = _both(e.entropy, t.entropy)
    if ht is None:
        return
    # torch's Multinomial entropy takes lgamma(n + 1) in float32 whatever the dtype: 6e-8 off
    atol = 1e-6 if case.name == "Multinomial" else 1e-9
    _same_with_grads(he, ht, ep, tp, case, "entropy", atol=atol)


@pytest.mark.parametrize("stat", ["mean", "mode", "variance", "stddev"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_moments(case, stat):
    (e, ep, _), (t, tp, _) = _pair(case)
    me, mt = _both(lambda: getattr(e, stat), lambda: getattr(t, stat))
    if mt is None:
        return
    _same_with_grads(me, mt, ep, tp, case, stat, grads=mt.requires_grad)


@pytest.mark.parametrize("case", [c for c in CASES if c.cdf], ids=[c.name for c in CASES if c.cdf])
def test_cdf_icdf(case):
    (e, ep, ev), (t, tp, tv) = _pair(case)
    ce, ct = e.cdf(ev), t.cdf(tv)
    _same_with_grads(ce, ct, ep, tp, case, "cdf")
    q = np.random.default_rng(1).random(tuple(tv.shape)) * 0.9 + 0.05
    assert_close(e.icdf(ember.tensor(q)), t.icdf(torch.tensor(q)), atol=1e-8, rtol=1e-7, what="icdf")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_sample_shape_dtype_and_seed(case):
    for dtype in ("float32", "float64"):
        rng = np.random.default_rng(0)
        arrays = case.params(rng)
        e, _ = _build(ember, case, arrays, dtype, requires_grad=False)
        t, _ = _build(torch, case, arrays, dtype, requires_grad=False)
        for shape in [(), (5,), (2, 3)]:
            se, st = e.sample(shape), t.sample(shape)
            assert tuple(se.shape) == tuple(st.shape)
            assert se.dtype.name == str(st.dtype).replace("torch.", "")
            assert not se.requires_grad
        ember.manual_seed(123)
        a = e.sample((4,))
        ember.manual_seed(123)
        b = e.sample((4,))
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        if t.support is not None and not isinstance(t.support, type(torch.distributions.constraints.dependent)):
            assert bool(e.support.check(a).all())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_sample_statistics(case):
    (e, _, _), (t, _, _) = _pair(case)
    ember.manual_seed(0)
    n = 40000
    x = e.sample((n,)).double()
    if isinstance(t, torch.distributions.Categorical):
        k = t.probs.shape[-1]
        freq = np.stack([(x.numpy() == i).mean(0) for i in range(k)], -1)
        np.testing.assert_allclose(freq, t.probs.detach().numpy(), atol=0.02)
        return
    if isinstance(t, torch.distributions.LogNormal):  # heavy tails: test the underlying normal instead
        x, t = x.log(), t.base_dist
    spread = 1.0
    try:
        mean, var = t.mean.detach().numpy(), t.variance.detach().numpy()
    except NotImplementedError:  # transformed distributions: compare with torch's own (seeded) samples
        torch.manual_seed(0)
        s = t.sample((n,)).double()
        mean, var = s.mean(0).numpy(), s.var(0).numpy()
        spread = np.sqrt(2.0)  # the difference of two sample means
    tol = 4 * spread * np.sqrt(var / n) + 1e-3
    assert np.all(np.abs(x.mean(0).numpy() - mean) < tol)
    np.testing.assert_allclose(x.var(0).numpy(), var, rtol=0.1, atol=1e-3)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_expand(case):
    (e, _, ev), (t, _, tv) = _pair(case)
    shape = (2,) + tuple(t.batch_shape)
    ee, te = e.expand(shape), t.expand(shape)
    assert tuple(ee.batch_shape) == tuple(te.batch_shape)
    assert tuple(ee.event_shape) == tuple(te.event_shape)
    assert tuple(ee.sample((3,)).shape) == tuple(te.sample((3,)).shape)
    assert_close(ee.log_prob(ev[:1]), te.log_prob(tv[:1]), atol=1e-9, rtol=1e-8, what="expanded log_prob")


@pytest.mark.parametrize("case", [c for c in CASES if c.name.startswith(("Bernoulli", "Categorical", "OneHot",
                                                                          "Binomial(probs)"))],
                         ids=lambda c: c.name)
def test_enumerate_support(case):
    (e, ep, _), (t, tp, _) = _pair(case)
    for expand in (True, False):
        assert_close(e.enumerate_support(expand), t.enumerate_support(expand), what="enumerate_support")
    if case.name.startswith("Binomial"):
        assert_close(e.entropy(), t.entropy(), atol=1e-9, rtol=1e-8, what="entropy")
