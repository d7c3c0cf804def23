"""Module backward hooks, packed sequences (and recurrent layers on them), and parametrizations
(weight_norm, spectral_norm), against torch 2.13.0 with the same weights and inputs."""
import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from ember.nn.utils import rnn as eru
from torch.nn.utils import rnn as tru
from conftest import assert_close


def _copy_weights(em, tm):
    em.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})
    return em


def _np(t):
    return None if t is None else t.detach().numpy()


# ------------------------------------------------------------------ backward hooks
class _Two(object):
    """A module with two tensor inputs and a non-tensor one, returning two outputs."""

    @staticmethod
    def make(lib):
        class Two(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = lib.nn.Linear(3, 3)

            def forward(self, a, scale, b):
                return self.fc(a) * b * scale, (a * b).sum(-1)
        return Two()


def _hooked_run(lib, build, inputs, needs, replace_in=None, replace_out=None, legacy=False):
    lib.manual_seed(0)
    m = build(lib)
    if lib is ember:
        tm = build(torch)
    log = []

    def pre(mod, go):
        log.append(("pre", [_np(g) for g in go]))
        if replace_out is not None:
            return tuple(None if g is None else g * replace_out for g in go)

    def hook(mod, gi, go):
        log.append(("hook", [_np(g) for g in gi], [_np(g) for g in go]))
        if replace_in is not None:
            return tuple(None if g is None else g * replace_in for g in gi)

    m.register_full_backward_pre_hook(pre)
    (m.register_backward_hook if legacy else m.register_full_backward_hook)(hook)
    args = [lib.tensor(a, requires_grad=r) if isinstance(a, np.ndarray) else a for a, r in zip(inputs, needs)]
    out = m(*args)
    outs = out if isinstance(out, tuple) else (out,)
    sum((o * (k + 1.5)).sum() for k, o in enumerate(outs)).backward()
    grads = [_np(a.grad) if isinstance(a, (ember.Tensor, torch.Tensor)) else None for a in args]
    pgrads = [_np(p.grad) for p in m.parameters()]
    return log, grads, pgrads


def _same_weights_builder(make):
    """A builder giving ember and torch modules identical weights (torch's seeded ones copied)."""
    def build(lib):
        torch.manual_seed(0)
        tm = make(torch)
        if lib is torch:
            return tm
        return _copy_weights(make(ember), tm)
    return build


def _check_same(e, t):
    elog, egrads, epgrads = e
    tlog, tgrads, tpgrads = t
    assert [x[0] for x in elog] == [x[0] for x in tlog]
    for ee, tt in zip(elog, tlog):
        for eg, tg in zip(ee[1:], tt[1:]):
            assert len(eg) == len(tg)
            for a, b in zip(eg, tg):
                assert (a is None) == (b is None)
                if a is not None:
                    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(egrads + epgrads, tgrads + tpgrads):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("needs", [(True,), (False,)])
@pytest.mark.parametrize("replace", [None, 2.0])
def test_backward_hooks_linear(needs, replace):
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    build = _same_weights_builder(lambda lib: lib.nn.Linear(3, 2))
    kw = dict(replace_in=replace if needs[0] else None, replace_out=replace)
    _check_same(_hooked_run(ember, build, [x], needs, **kw), _hooked_run(torch, build, [x], needs, **kw))


@pytest.mark.parametrize("legacy", [False, True])
def test_backward_hooks_sequential(legacy):
    # ember's legacy register_backward_hook behaves as the full hook (torch's legacy one sees the last op's inputs)
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    build = _same_weights_builder(lambda lib: lib.nn.Sequential(lib.nn.Linear(3, 5), lib.nn.Tanh(),
                                                               lib.nn.Linear(5, 2)))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check_same(_hooked_run(ember, build, [x], (True,), replace_in=0.5, legacy=legacy),
                    _hooked_run(torch, build, [x], (True,), replace_in=0.5))


@pytest.mark.parametrize("needs", [(True, None, True), (False, None, True), (True, None, False)])
def test_backward_hooks_two_inputs(needs):
    rng = np.random.default_rng(2)
    inputs = [rng.standard_normal((4, 3)).astype(np.float32), 3.0, rng.standard_normal((4, 3)).astype(np.float32)]
    build = _same_weights_builder(_Two.make)
    _check_same(_hooked_run(ember, build, inputs, needs, replace_in=-1.0, replace_out=2.0),
                _hooked_run(torch, build, inputs, needs, replace_in=-1.0, replace_out=2.0))


def test_backward_hook_unused_output_and_non_grad_input():
    logs = []
    for lib in (ember, torch):
        class Two(lib.nn.Module):
            def forward(self, a, b):
                return a * 2, b * 3
        m, log = Two(), []
        m.register_full_backward_hook(lambda mod, gi, go: log.append((gi, go)))
        a, b = lib.ones(2, requires_grad=True), lib.ones(2)
        m(a, b)[0].sum().backward()
        logs.append([[None if g is None else g.tolist() for g in gs] for gs in log[0]])
    assert logs[0] == logs[1] == [[[2.0, 2.0], [0.0, 0.0]], [[1.0, 1.0], None]]


def test_backward_hook_handles_and_errors():
    m = nn.Linear(3, 2)
    calls = []
    h = m.register_full_backward_hook(lambda *a: calls.append(1))
    p = m.register_full_backward_pre_hook(lambda *a: calls.append(2))
    x = ember.randn(2, 3, requires_grad=True)
    m(x).sum().backward()
    assert calls == [2, 1]
    h.remove()
    p.remove()
    m(x).sum().backward()
    assert calls == [2, 1]
    assert m(x).grad_fn.name() == "AddmmBackward0" or m(x).grad_fn is not None
    with pytest.raises(RuntimeError, match="Cannot use both"):
        m.register_full_backward_hook(lambda *a: None)
        m.register_backward_hook(lambda *a: None)
    m2 = nn.Linear(3, 2)
    m2.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_input"):
        m2(x).sum().backward()


# ------------------------------------------------------------------ packed sequences
LENGTHS = [3, 5, 1, 5, 2]


def _padded(rng, lengths, feat=3, batch_first=False):
    x = rng.standard_normal((max(lengths), len(lengths), feat)).astype(np.float32)
    for b, n in enumerate(lengths):
        x[n:, b] = 0
    return x.transpose(1, 0, 2).copy() if batch_first else x


def _check_packed(e, t, what=""):
    for k, (a, b) in enumerate(zip(e, t)):
        assert (a is None) == (b is None), f"{what} field {k}"
        if a is not None:
            assert_close(a, b, what=f"{what} field {k}")


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_pad_roundtrip(batch_first, enforce_sorted):
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    x = _padded(np.random.default_rng(3), lengths, batch_first=batch_first)
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ep = eru.pack_padded_sequence(ex, ember.tensor(lengths), batch_first, enforce_sorted)
    tp = tru.pack_padded_sequence(tx, torch.tensor(lengths), batch_first, enforce_sorted)
    assert isinstance(ep, eru.PackedSequence)
    _check_packed(ep, tp, "packed")
    for total in (None, 7):
        eo, el = eru.pad_packed_sequence(ep, batch_first, padding_value=-2.0, total_length=total)
        to, tl = tru.pad_packed_sequence(tp, batch_first, padding_value=-2.0, total_length=total)
        assert_close(eo, to, what="padded")
        assert_close(el, tl, what="lengths")
    g = np.random.default_rng(4).standard_normal(tuple(to.shape)).astype(np.float32)
    (eo * ember.tensor(g)).sum().backward()
    (to * torch.tensor(g)).sum().backward()
    assert_close(ex.grad, tx.grad, what="grad")


def test_pack_sequence_unpack_unpad():
    rng = np.random.default_rng(5)
    seqs = [rng.standard_normal((n, 2)).astype(np.float32) for n in LENGTHS]
    ep = eru.pack_sequence([ember.tensor(s) for s in seqs], enforce_sorted=False)
    tp = tru.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    _check_packed(ep, tp)
    for e, t in zip(eru.unpack_sequence(ep), tru.unpack_sequence(tp)):
        assert_close(e, t)
    padded = eru.pad_sequence([ember.tensor(s) for s in seqs], batch_first=True)
    for e, s in zip(eru.unpad_sequence(padded, ember.tensor(LENGTHS), batch_first=True), seqs):
        assert_close(e, torch.tensor(s))
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        eru.pack_sequence([ember.tensor(s) for s in seqs])
    with pytest.raises(ValueError, match="total_length"):
        eru.pad_packed_sequence(ep, total_length=2)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_on_packed_sequence(kind, batch_first, bidirectional):
    rng = np.random.default_rng(6)
    torch.manual_seed(0)
    kw = dict(num_layers=2, batch_first=batch_first, bidirectional=bidirectional)
    tm = getattr(torch.nn, kind)(3, 4, **kw)
    em = _copy_weights(getattr(nn, kind)(3, 4, **kw), tm)
    x = _padded(rng, LENGTHS, batch_first=batch_first)
    nstates = 2 if kind == "LSTM" else 1
    h0s = [rng.standard_normal((2 * (2 if bidirectional else 1), len(LENGTHS), 4)).astype(np.float32)
           for _ in range(nstates)]
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    eh0 = [ember.tensor(h, requires_grad=True) for h in h0s]
    th0 = [torch.tensor(h, requires_grad=True) for h in h0s]
    ep = eru.pack_padded_sequence(ex, LENGTHS, batch_first, enforce_sorted=False)
    tp = tru.pack_padded_sequence(tx, LENGTHS, batch_first, enforce_sorted=False)
    eo, eh = em(ep, eh0[0] if nstates == 1 else tuple(eh0))
    to, th = tm(tp, th0[0] if nstates == 1 else tuple(th0))
    assert isinstance(eo, eru.PackedSequence)
    _check_packed(eo, to, "output")
    eh, th = (eh, th) if nstates == 2 else ((eh,), (th,))
    for k, (e, t) in enumerate(zip(eh, th)):
        assert_close(e, t, atol=1e-5, rtol=1e-5, what=f"final state {k}")
    gys = [rng.standard_normal(tuple(t.shape)).astype(np.float32) for t in (to.data, *th)]
    sum((e * ember.tensor(g)).sum() for e, g in zip((eo.data, *eh), gys)).backward()
    sum((t * torch.tensor(g)).sum() for t, g in zip((to.data, *th), gys)).backward()
    assert_close(ex.grad, tx.grad, atol=1e-5, rtol=1e-5, what="grad of input")
    for k, (e, t) in enumerate(zip(eh0, th0)):
        assert_close(e.grad, t.grad, atol=1e-5, rtol=1e-5, what=f"grad of h0 {k}")
    tp_ = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        assert_close(p.grad, tp_[name].grad, atol=1e-5, rtol=1e-5, what=f"grad of {name}")


def test_lstm_proj_packed_default_state():
    torch.manual_seed(1)
    tm = torch.nn.LSTM(3, 5, proj_size=2, bidirectional=True)
    em = _copy_weights(nn.LSTM(3, 5, proj_size=2, bidirectional=True), tm)
    seqs = [np.random.default_rng(n).standard_normal((n, 3)).astype(np.float32) for n in LENGTHS]
    eo, (eh, ec) = em(eru.pack_sequence([ember.tensor(s) for s in seqs], enforce_sorted=False))
    to, (th, tc) = tm(tru.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False))
    _check_packed(eo, to)
    assert_close(eh, th, atol=1e-6)
    assert_close(ec, tc, atol=1e-6)


# ------------------------------------------------------------------ parametrizations
from ember.nn.utils import parametrize as eparam  # noqa: E402
from ember.nn.utils import parametrizations as eparams  # noqa: E402
import torch.nn.utils.parametrize as tparam  # noqa: E402
import torch.nn.utils.parametrizations as tparams  # noqa: E402


def _load_from_torch(em, tm):
    assert list(em.state_dict()) == list(tm.state_dict())
    return _copy_weights(em, tm)


def _compare_forward_backward(em, tm, x, atol=1e-5):
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    eo, to = em(ex), tm(tx)
    assert_close(eo, to, atol=atol, rtol=1e-5, what="output")
    g = np.random.default_rng(7).standard_normal(tuple(to.shape)).astype(np.float32)
    (eo * ember.tensor(g)).sum().backward()
    (to * torch.tensor(g)).sum().backward()
    assert_close(ex.grad, tx.grad, atol=atol, rtol=1e-5, what="grad of input")
    tp = dict(tm.named_parameters())
    assert list(dict(em.named_parameters())) == list(tp)
    for name, p in em.named_parameters():
        assert_close(p.grad, tp[name].grad, atol=atol, rtol=1e-5, what=f"grad of {name}")


def _linear_and_conv(lib):
    return [lib.nn.Linear(4, 3), lib.nn.Conv2d(2, 3, 3)]


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_parametrization(which, dim):
    torch.manual_seed(0)
    tm = tparams.weight_norm(_linear_and_conv(torch)[which], dim=dim)
    em = _load_from_torch(eparams.weight_norm(_linear_and_conv(ember)[which], dim=dim), tm)
    assert type(em).__name__ == type(tm).__name__
    assert eparam.is_parametrized(em) and eparam.is_parametrized(em, "weight") and not eparam.is_parametrized(em, "bias")
    x = np.random.default_rng(8).standard_normal((2, 4) if which == 0 else (2, 2, 5, 5)).astype(np.float32)
    _compare_forward_backward(em, tm, x)
    assert_close(em.weight, tm.weight)
    # registering on the same plain weights gives torch's original0 (g) and original1 (v)
    torch.manual_seed(1)
    plain_t = _linear_and_conv(torch)[which]
    plain_e = _copy_weights(_linear_and_conv(ember)[which], plain_t)
    tparams.weight_norm(plain_t, dim=dim)
    eparams.weight_norm(plain_e, dim=dim)
    for k, v in plain_t.state_dict().items():
        assert_close(plain_e.state_dict()[k], v, atol=1e-6, what=k)
    eparam.remove_parametrizations(em, "weight")
    tparam.remove_parametrizations(tm, "weight")
    assert type(em) is type(_linear_and_conv(ember)[which]) and not eparam.is_parametrized(em)
    assert list(em.state_dict()) == list(tm.state_dict())
    assert_close(em.weight, tm.weight, atol=1e-6)
    assert isinstance(em.weight, nn.Parameter)


def test_weight_norm_right_inverse_matches_torch():
    torch.manual_seed(0)
    tl = torch.nn.Linear(4, 3)
    el = _copy_weights(nn.Linear(4, 3), tl)
    tparams.weight_norm(tl)
    eparams.weight_norm(el)
    for k, v in tl.state_dict().items():
        assert_close(el.state_dict()[k], v, atol=1e-6, what=k)
    w = np.random.default_rng(9).standard_normal((3, 4)).astype(np.float32)
    el.weight = ember.tensor(w)
    tl.weight = torch.tensor(w)
    for k, v in tl.state_dict().items():
        assert_close(el.state_dict()[k], v, atol=1e-6, what=k)
    assert_close(el.weight, torch.tensor(w), atol=1e-6)


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("training", [False, True])
def test_spectral_norm(which, training):
    torch.manual_seed(0)
    tm = tparams.spectral_norm(_linear_and_conv(torch)[which], n_power_iterations=2)
    em = _load_from_torch(eparams.spectral_norm(_linear_and_conv(ember)[which], n_power_iterations=2), tm)
    tm.train(training)
    em.train(training)
    x = np.random.default_rng(10).standard_normal((2, 4) if which == 0 else (2, 2, 5, 5)).astype(np.float32)
    for _ in range(2):
        _compare_forward_backward(em, tm, x)
        em.zero_grad()
        tm.zero_grad()
    for k, v in tm.state_dict().items():
        assert_close(em.state_dict()[k], v, atol=1e-6, what=k)


def test_spectral_norm_values():
    em = eparams.spectral_norm(nn.Linear(5, 4), n_power_iterations=30)
    w = em.weight  # training mode: 30 more power iterations on top of the 15 at registration
    sigma = np.linalg.svd(em.parametrizations.weight.original.detach().numpy(), compute_uv=False)[0]
    np.testing.assert_allclose(np.linalg.svd(w.detach().numpy(), compute_uv=False)[0], 1.0, rtol=1e-4)
    np.testing.assert_allclose(w.detach().numpy() * sigma, em.parametrizations.weight.original.detach().numpy(),
                               rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="has no parameter or buffer"):
        eparams.spectral_norm(nn.Linear(2, 2), name="nope")


def test_register_parametrization_custom():
    def make(lib):
        class Symmetric(lib.nn.Module):
            def forward(self, X):
                return X.triu() + X.triu(1).transpose(-1, -2)

        class Scale(lib.nn.Module):
            def forward(self, X):
                return 2 * X

            def right_inverse(self, X):
                return X / 2
        return Symmetric, Scale

    torch.manual_seed(0)
    tm = torch.nn.Linear(3, 3)
    em = _copy_weights(nn.Linear(3, 3), tm)
    original_param = em.weight
    for lib, m in ((torch, tm), (ember, em)):
        sym, scale = make(lib)
        (tparam if lib is torch else eparam).register_parametrization(m, "weight", sym())
        (tparam if lib is torch else eparam).register_parametrization(m, "weight", scale())
    assert em.parametrizations.weight.original is original_param
    assert list(em.state_dict()) == list(tm.state_dict())
    assert_close(em.weight, tm.weight)
    x = np.random.default_rng(11).standard_normal((2, 3)).astype(np.float32)
    _compare_forward_backward(em, tm, x)
    with eparam.cached():
        assert em.weight is em.weight
    eparam.remove_parametrizations(em, "weight", leave_parametrized=False)
    tparam.remove_parametrizations(tm, "weight", leave_parametrized=False)
    assert em.weight is original_param
    assert_close(em.weight, tm.weight)
    with pytest.raises(ValueError, match="does not have a parametrization"):
        eparam.remove_parametrizations(em, "weight")
    with pytest.raises(ValueError, match="does not have a parameter"):
        eparam.register_parametrization(em, "nope", nn.Identity())


def test_legacy_weight_norm():
    torch.manual_seed(0)
    tm = torch.nn.utils.weight_norm(torch.nn.Linear(4, 3))
    em = _load_from_torch(nn.utils.weight_norm(nn.Linear(4, 3)), tm)
    assert list(em.state_dict()) == ["bias", "weight_g", "weight_v"]
    x = np.random.default_rng(12).standard_normal((2, 4)).astype(np.float32)
    _compare_forward_backward(em, tm, x)
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
        nn.utils.weight_norm(em)
    nn.utils.remove_weight_norm(em)
    torch.nn.utils.remove_weight_norm(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    assert_close(em.weight, tm.weight, atol=1e-6)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        nn.utils.remove_weight_norm(em)
