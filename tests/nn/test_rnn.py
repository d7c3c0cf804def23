"""RNN, LSTM, GRU and their cells against torch 2.13.0 with the same weights, and finite differences."""
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from ember.autograd import gradcheck, gradgradcheck
from conftest import assert_close


def _pair(ember_cls, torch_cls, *args, **kwargs):
    """An ember and a torch module with the same weights (torch's state dict loaded into ember)."""
    tm = torch_cls(*args, **kwargs)
    em = ember_cls(*args, **kwargs)
    em.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})
    return em, tm


def _run_both(em, tm, x, states, rng, atol=1e-5, rtol=1.3e-6):
    """Same inputs and upstream gradients through both modules; compare outputs and every gradient."""
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    es = [ember.tensor(s, requires_grad=True) for s in states]
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    pack = lambda ss: None if not ss else ss[0] if len(ss) == 1 else tuple(ss)  # noqa: E731
    eo, eh = em(ex, pack(es))
    to, th = tm(tx, pack(ts))
    eh, th = (eh, th) if isinstance(th, tuple) else ((eh,), (th,))
    assert_close(eo, to, atol=atol, rtol=rtol, what="output")
    for k, (e, t) in enumerate(zip(eh, th)):
        assert_close(e, t, atol=atol, rtol=rtol, what=f"final state {k}")
    gys = [rng.standard_normal(tuple(t.shape)).astype(x.dtype) for t in (to, *th)]
    sum(((e * ember.tensor(g)).sum() for e, g in zip((eo, *eh), gys)), ember.tensor(0.0, dtype=eo.dtype)).backward()
    sum((t * torch.tensor(g)).sum() for t, g in zip((to, *th), gys)).backward()
    assert_close(ex.grad, tx.grad, atol=atol, rtol=rtol, what="grad of input")
    for k, (e, t) in enumerate(zip(es, ts)):
        assert_close(e.grad, t.grad, atol=atol, rtol=rtol, what=f"grad of initial state {k}")
    tp = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        assert_close(p.grad, tp[name].grad, atol=atol, rtol=rtol, what=f"grad of {name}")


CONFIGS = [
    dict(),
    dict(num_layers=2),
    dict(bidirectional=True),
    dict(num_layers=2, bidirectional=True, batch_first=True),
    dict(bias=False, batch_first=True),
]


@pytest.mark.parametrize("kwargs", CONFIGS)
@pytest.mark.parametrize("kind", ["GRU", "LSTM", "RNN_TANH", "RNN_RELU"])
@pytest.mark.parametrize("with_states", [False, True])
def test_recurrent_vs_torch(rng, kind, kwargs, with_states):
    name = kind.split("_")[0]
    if name == "RNN":
        kwargs = dict(kwargs, nonlinearity=kind.split("_")[1].lower())
    em, tm = _pair(getattr(nn, name), getattr(torch.nn, name), 3, 5, **kwargs)
    T, B = 4, 2
    x = rng.standard_normal((B, T, 3) if kwargs.get("batch_first") else (T, B, 3)).astype(np.float32)
    lead = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    states = [rng.standard_normal((lead, B, 5)).astype(np.float32) for _ in range(2 if name == "LSTM" else 1)]
    _run_both(em, tm, x, states if with_states else [], rng)


@pytest.mark.parametrize("kwargs", [dict(proj_size=3), dict(proj_size=2, num_layers=2, bidirectional=True)])
def test_lstm_projection_vs_torch(rng, kwargs):
    em, tm = _pair(nn.LSTM, torch.nn.LSTM, 4, 5, **kwargs)
    lead = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    states = [rng.standard_normal((lead, 3, kwargs["proj_size"])).astype(np.float32),
              rng.standard_normal((lead, 3, 5)).astype(np.float32)]
    _run_both(em, tm, rng.standard_normal((6, 3, 4)).astype(np.float32), states, rng)


@pytest.mark.parametrize("name", ["GRU", "LSTM", "RNN"])
def test_unbatched_input_vs_torch(rng, name):
    em, tm = _pair(getattr(nn, name), getattr(torch.nn, name), 3, 4, num_layers=2, bidirectional=True)
    states = [rng.standard_normal((4, 4)).astype(np.float32) for _ in range(2 if name == "LSTM" else 1)]
    _run_both(em, tm, rng.standard_normal((5, 3)).astype(np.float32), states, rng)


def test_mnist1d_sized_gru_vs_torch(rng):
    em, tm = _pair(nn.GRU, torch.nn.GRU, 1, 6, batch_first=True)
    x = rng.standard_normal((100, 40, 1)).astype(np.float32)
    _run_both(em, tm, x, [], rng, atol=1e-4, rtol=1e-4)  # float32 sums of 4000 terms: up to ~1e-4 apart


def test_only_final_state_used_vs_torch(rng):
    em, tm = _pair(nn.LSTM, torch.nn.LSTM, 2, 3, num_layers=2)
    x = rng.standard_normal((5, 2, 2)).astype(np.float32)
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    em(ex)[1][1].sum().backward()
    tm(tx)[1][1].sum().backward()
    assert_close(ex.grad, tx.grad, what="grad of input through c_n only")
    assert_close(em.weight_hh_l0.grad, tm.weight_hh_l0.grad, what="weight_hh_l0 grad")


def test_state_dict_round_trip_to_torch(rng):
    em = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    tm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    esd = em.state_dict()
    assert list(esd) == list(tm.state_dict())
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in esd.items()})
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    assert_close(em(ember.tensor(x))[0], tm(torch.tensor(x))[0], what="output after loading ember's weights")


@pytest.mark.parametrize("name, gates", [("RNN", 1), ("LSTM", 4), ("GRU", 3)])
def test_parameter_shapes_and_init_range(name, gates):
    em, tm = getattr(nn, name)(7, 16, num_layers=2, bidirectional=True), getattr(torch.nn, name)(7, 16, 2,
                                                                                                  bidirectional=True)
    tshapes = {k: tuple(v.shape) for k, v in tm.named_parameters()}
    assert {k: tuple(v.shape) for k, v in em.named_parameters()} == tshapes
    assert tshapes["weight_ih_l1"] == (gates * 16, 32)
    v = np.concatenate([p.detach().numpy().ravel() for p in em.parameters()])  # U(-1/4, 1/4): std 0.144
    assert np.abs(v).max() <= 0.25 and np.abs(v).max() > 0.249 and abs(v.mean()) < 0.01
    assert abs(v.std() - 0.25 / np.sqrt(3)) < 0.005


def test_repr_matches_torch():
    kw = dict(num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True, proj_size=5)
    assert repr(nn.LSTM(10, 20, **kw)) == repr(torch.nn.LSTM(10, 20, **kw))
    assert repr(nn.GRUCell(3, 4, bias=False)) == repr(torch.nn.GRUCell(3, 4, bias=False))
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == repr(torch.nn.RNNCell(3, 4, nonlinearity="relu"))


@pytest.mark.parametrize("name, states", [("RNNCell", 1), ("LSTMCell", 2), ("GRUCell", 1)])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_vs_torch(rng, name, states, batched):
    em, tm = _pair(getattr(nn, name), getattr(torch.nn, name), 3, 4)
    lead = (2,) if batched else ()
    x = rng.standard_normal(lead + (3,)).astype(np.float32)
    hs = [rng.standard_normal(lead + (4,)).astype(np.float32) for _ in range(states)]
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ehs = [ember.tensor(h, requires_grad=True) for h in hs]
    ths = [torch.tensor(h, requires_grad=True) for h in hs]
    eo = em(ex, ehs[0] if states == 1 else tuple(ehs))
    to = tm(tx, ths[0] if states == 1 else tuple(ths))
    eo, to = (eo, to) if states == 2 else ((eo,), (to,))
    for e, t in zip(eo, to):
        assert_close(e, t, what=f"{name} output")
    sum(((e * (k + 1)).sum() for k, e in enumerate(eo)), ember.tensor(0.0)).backward()
    sum((t * (k + 1)).sum() for k, t in enumerate(to)).backward()
    assert_close(ex.grad, tx.grad, what="grad of input")
    for e, t in zip(ehs, ths):
        assert_close(e.grad, t.grad, what="grad of state")
    tp = dict(tm.named_parameters())
    for n, p in em.named_parameters():
        assert_close(p.grad, tp[n].grad, what=f"grad of {n}")
    assert_close(em(ex), tm(tx)) if name == "GRUCell" else None  # default zero state


@pytest.mark.parametrize("name", ["GRU", "LSTM", "RNN"])
def test_gradcheck_and_double_backward(rng, name):
    m = getattr(nn, name)(2, 3, bidirectional=True).to(ember.float64)
    x = ember.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    h = ember.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    w = m.weight_hh_l0

    def f(x, h, w):
        m._parameters["weight_hh_l0"] = w  # gradcheck's perturbed copies are plain tensors
        states = (h, h * 0.5) if name == "LSTM" else h
        out, _ = m(x, states)
        return out

    assert gradcheck(f, (x, h, w))
    assert gradgradcheck(f, (x, h, w))


@pytest.mark.parametrize("name, layers, threads", [("GRU", 1, 1), ("LSTM", 2, 2)])  # LSTM: a stack on two threads
def test_double_backward_vs_torch(rng, name, layers, threads):
    before = ember.get_num_threads()
    ember.set_num_threads(threads)
    try:
        _double_backward_vs_torch(rng, name, layers)
    finally:
        ember.set_num_threads(before)


def _double_backward_vs_torch(rng, name, layers):
    em, tm = _pair(getattr(nn, name), getattr(torch.nn, name), 2, 3, num_layers=layers)
    x = rng.standard_normal((4, 2, 2)).astype(np.float32)
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (eg,) = ember.autograd.grad(em(ex)[0].tanh().sum(), ex, create_graph=True)
    (tg,) = torch.autograd.grad(tm(tx)[0].tanh().sum(), tx, create_graph=True)
    (eg * eg).sum().backward()
    (tg * tg).sum().backward()
    assert_close(ex.grad, tx.grad, atol=1e-5, what="grad of grad norm wrt input")
    for n in ("weight_hh_l0", "bias_hh_l0") + (("weight_ih_l1", "bias_ih_l1") if layers > 1 else ()):
        assert_close(getattr(em, n).grad, getattr(tm, n).grad, atol=1e-5, what=f"{n} second-order grad")


def test_dropout_between_layers():
    m = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = ember.randn(5, 2, 3)
    m.eval()
    a, b = m(x)[0], m(x)[0]
    assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    m.train()
    ember.manual_seed(0)
    c = m(x)[0]
    m.dropout = 0.0
    assert not np.allclose(c.detach().numpy(), m(x)[0].detach().numpy())
    m1 = nn.GRU(3, 4, num_layers=1)
    m1.dropout = 0.9  # one layer: no dropout is ever applied
    m1.train()
    assert np.array_equal(m1(x)[0].detach().numpy(), m1(x)[0].detach().numpy())


def _raises(exc, match, fn):
    with pytest.raises(exc, match=match):
        fn()


def test_errors_match_torch():
    g = nn.GRU(10, 20, 2)
    _raises(RuntimeError, r"input.size\(-1\) must be equal to input_size. Expected 10, got 7",
            lambda: g(ember.randn(5, 3, 7)))
    _raises(ValueError, "GRU: Expected input to be 2D or 3D, got 4D instead", lambda: g(ember.randn(5, 3, 2, 10)))
    _raises(RuntimeError, r"Expected hidden size \(2, 3, 20\), got \[2, 4, 20\]",
            lambda: g(ember.randn(5, 3, 10), ember.randn(2, 4, 20)))
    _raises(RuntimeError, "For unbatched 2-D input, hx should also be 2-D but got 3-D tensor",
            lambda: g(ember.randn(5, 10), ember.randn(2, 4, 20)))
    lstm = nn.LSTM(10, 20, 2)
    _raises(RuntimeError, r"Expected hidden\[1\] size \(2, 3, 20\), got \[2, 4, 20\]",
            lambda: lstm(ember.randn(5, 3, 10), (ember.randn(2, 3, 20), ember.randn(2, 4, 20))))
    _raises(RuntimeError, r"hx and cx should also be 3-D but got \(2-D, 2-D\)",
            lambda: lstm(ember.randn(5, 3, 10), (ember.randn(2, 20), ember.randn(2, 20))))
    _raises(ValueError, "proj_size has to be smaller than hidden_size", lambda: nn.LSTM(10, 20, proj_size=20))
    _raises(ValueError, "only supported for LSTM", lambda: nn.GRU(10, 20, proj_size=5))
    _raises(ValueError, "dropout should be a number in range", lambda: nn.GRU(10, 20, dropout=2))
    _raises(ValueError, "Unknown nonlinearity 'sig'", lambda: nn.RNN(10, 20, nonlinearity="sig"))
    c = nn.GRUCell(10, 20)
    _raises(ValueError, "GRUCell: Expected input to be 1D or 2D, got 3D instead", lambda: c(ember.randn(3, 3, 10)))
    _raises(RuntimeError, "input has inconsistent input_size: got 7 expected 10", lambda: c(ember.randn(3, 7)))
    _raises(RuntimeError, "Input batch size 3 doesn't match hidden0 batch size 4",
            lambda: c(ember.randn(3, 10), ember.randn(4, 20)))
    _raises(RuntimeError, "hidden0 has inconsistent hidden_size: got 4, expected 20",
            lambda: c(ember.randn(3, 10), ember.randn(3, 4)))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        nn.GRU(3, 4, dropout=0.5)
    assert "non-zero dropout expects num_layers greater than 1" in str(w[0].message)


def test_inplace_change_of_output_before_backward_is_caught():
    m = nn.GRU(2, 3)
    out, _ = m(ember.randn(4, 1, 2))
    out2 = out * 1
    out.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out2.sum().backward()


@pytest.mark.parametrize("name", ["LSTM", "RNN", "GRU"])
def test_parameter_grads_are_separate_arrays(rng, name):
    # b_ih and b_hh get equal gradients in LSTM and RNN; scaling one grad in place (as clip_grad_norm_ does)
    # must leave the other as torch's
    em, tm = _pair(getattr(nn, name), getattr(torch.nn, name), 3, 4, num_layers=2, bidirectional=True)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    em(ember.tensor(x))[0].sum().backward()
    tm(torch.tensor(x))[0].sum().backward()
    ember.nn.utils.clip_grad_norm_(em.parameters(), 0.1)
    torch.nn.utils.clip_grad_norm_(tm.parameters(), 0.1)
    tp = dict(tm.named_parameters())
    for n, p in em.named_parameters():
        assert_close(p.grad, tp[n].grad, atol=1e-6, rtol=1e-5, what=f"grad of {n}")


@pytest.fixture
def two_threads():
    """ember on two threads (products split between them, BLAS's own threads held where they would spin)."""
    before = ember.get_num_threads()
    ember.set_num_threads(2)
    yield
    ember.set_num_threads(before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [dict(num_layers=2), dict(num_layers=3, batch_first=True),
                                    dict(num_layers=2, bias=False), dict(num_layers=2, dropout=0.5)])
@pytest.mark.parametrize("with_states", [False, True])
def test_lstm_stack_on_two_threads_vs_torch(rng, two_threads, dtype, kwargs, with_states):
    em, tm = _pair(nn.LSTM, torch.nn.LSTM, 3, 5, **kwargs)
    if kwargs.get("dropout"):  # dropout between layers applies in training only: evaluation stacks
        em.eval()
        tm.eval()
    em.to(ember.float64 if dtype == np.float64 else ember.float32)
    tm.to(torch.float64 if dtype == np.float64 else torch.float32)
    T, B = 11, 2
    x = rng.standard_normal((B, T, 3) if kwargs.get("batch_first") else (T, B, 3)).astype(dtype)
    states = [rng.standard_normal((kwargs["num_layers"], B, 5)).astype(dtype) for _ in range(2)]
    tol = dict(atol=1e-5, rtol=1.3e-6) if dtype == np.float32 else dict(atol=1e-12, rtol=1e-10)
    _run_both(em, tm, x, states if with_states else [], rng, **tol)


@pytest.mark.parametrize("kwargs", [dict(num_layers=2, bidirectional=True), dict(num_layers=2, proj_size=3),
                                    dict(num_layers=1)])
def test_lstm_layer_by_layer_on_two_threads_vs_torch(rng, two_threads, kwargs):
    em, tm = _pair(nn.LSTM, torch.nn.LSTM, 3, 5, **kwargs)
    lead = kwargs["num_layers"] * (2 if kwargs.get("bidirectional") else 1)
    states = [rng.standard_normal((lead, 2, kwargs.get("proj_size") or 5)).astype(np.float32),
              rng.standard_normal((lead, 2, 5)).astype(np.float32)]
    _run_both(em, tm, rng.standard_normal((7, 2, 3)).astype(np.float32), states, rng)


@pytest.mark.parametrize("T", [1, 3])
def test_lstm_stack_short_unbatched_and_final_state_only_vs_torch(rng, two_threads, T):
    em, tm = _pair(nn.LSTM, torch.nn.LSTM, 3, 4, num_layers=2)
    x = rng.standard_normal((T, 3)).astype(np.float32)
    _run_both(em, tm, x, [], rng)
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    em(ex)[1][1].sum().backward()  # the last cell states alone: no gradient reaches the outputs
    tm(tx)[1][1].sum().backward()
    assert_close(ex.grad, tx.grad, atol=1e-6, what="grad of input")
    assert_close(em.weight_hh_l0.grad, tm.weight_hh_l0.grad, atol=1e-6, what="grad of weight_hh_l0")



@pytest.mark.parametrize("threads", [1, 2])
def test_empty_sequence_refused_and_empty_batch_vs_torch(rng, threads):
    before = ember.get_num_threads()
    ember.set_num_threads(threads)
    try:
        for name in ("LSTM", "GRU", "RNN"):
            em, tm = _pair(getattr(nn, name), getattr(torch.nn, name), 3, 4, num_layers=2, batch_first=True)
            for shape in ((2, 0, 3), (0, 3)):
                with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
                    tm(torch.zeros(*shape))
                with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
                    em(ember.zeros(*shape))
            _run_both(em, tm, np.zeros((0, 5, 3), np.float32), [], rng)  # an empty batch is fine
    finally:
        ember.set_num_threads(before)
