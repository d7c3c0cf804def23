"""Every optimizer, for each option: 20 steps from the same start give torch's parameters."""
import numpy as np
import pytest
import torch

import ember

RNG = np.random.default_rng(0)
W0 = RNG.standard_normal((3, 4)).astype(np.float32)
B0 = RNG.standard_normal((4,)).astype(np.float32)
X = RNG.standard_normal((5, 3, 1)).astype(np.float32)


def _loss(lib, w, b, x):
    # a non-quadratic loss from elementwise ops: sum of tanh(w*x + b)^2 + 0.1*w^2
    y = lib.tanh(w * x + b)
    return (y * y).sum() + 0.1 * (w * w).sum()


def _run(lib, make_opt, steps=20, groups=False):
    w = lib.tensor(W0.copy(), requires_grad=True)
    b = lib.tensor(B0.copy(), requires_grad=True)
    x = lib.tensor(X.copy())
    params = [{"params": [w]}, {"params": [b], "lr": 0.05}] if groups else [w, b]
    opt = make_opt(lib.optim, params)
    for _ in range(steps):
        opt.zero_grad()
        loss = _loss(lib, w, b, x)
        loss.backward()
        opt.step()
    return w.detach().numpy().copy(), b.detach().numpy().copy(), opt


CASES = {
    "sgd": lambda o, p: o.SGD(p, lr=0.1),
    "sgd_momentum": lambda o, p: o.SGD(p, lr=0.02, momentum=0.9),
    "sgd_dampening_wd": lambda o, p: o.SGD(p, lr=0.02, momentum=0.9, dampening=0.3, weight_decay=0.01),
    "sgd_nesterov": lambda o, p: o.SGD(p, lr=0.02, momentum=0.9, nesterov=True),
    "sgd_maximize": lambda o, p: o.SGD(p, lr=0.01, maximize=True),
    "adam": lambda o, p: o.Adam(p, lr=0.01),
    "adam_amsgrad_wd": lambda o, p: o.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1),
    "adam_betas": lambda o, p: o.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6),
    "adam_maximize": lambda o, p: o.Adam(p, lr=0.01, maximize=True),
    "adamw": lambda o, p: o.AdamW(p, lr=0.01),
    "adamw_amsgrad": lambda o, p: o.AdamW(p, lr=0.01, weight_decay=0.1, amsgrad=True),
    "rmsprop": lambda o, p: o.RMSprop(p, lr=0.01),
    "rmsprop_centered_momentum": lambda o, p: o.RMSprop(p, lr=0.01, centered=True, momentum=0.9, weight_decay=0.01),
    "rmsprop_alpha": lambda o, p: o.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5),
    "adagrad": lambda o, p: o.Adagrad(p, lr=0.1),
    "adagrad_decay": lambda o, p: o.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.01,
                                            initial_accumulator_value=0.1),
    "adadelta": lambda o, p: o.Adadelta(p),
    "adadelta_wd": lambda o, p: o.Adadelta(p, lr=0.5, rho=0.8, weight_decay=0.01),
    "adamax": lambda o, p: o.Adamax(p, lr=0.01),
    "adamax_wd": lambda o, p: o.Adamax(p, lr=0.01, weight_decay=0.1, betas=(0.8, 0.9)),
    "nadam": lambda o, p: o.NAdam(p, lr=0.01),
    "nadam_decoupled": lambda o, p: o.NAdam(p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    "nadam_wd": lambda o, p: o.NAdam(p, lr=0.01, weight_decay=0.1, momentum_decay=0.01),
    "radam": lambda o, p: o.RAdam(p, lr=0.01),
    "radam_decoupled": lambda o, p: o.RAdam(p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    "radam_wd": lambda o, p: o.RAdam(p, lr=0.01, weight_decay=0.1),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("groups", [False, True])
def test_matches_torch(name, groups):
    ew, eb, _ = _run(ember, CASES[name], groups=groups)
    tw, tb, _ = _run(torch, CASES[name], groups=groups)
    np.testing.assert_allclose(ew, tw, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(eb, tb, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["sgd_momentum", "adam_amsgrad_wd", "rmsprop_centered_momentum", "nadam",
                                  "adagrad_decay", "adadelta", "adamax", "radam"])
def test_state_dict_resume_matches_uninterrupted(name):
    make = CASES[name]
    full_w, full_b, _ = _run(ember, make, steps=20)
    # 10 steps, save, rebuild everything, load, 10 more steps
    w = ember.tensor(W0.copy(), requires_grad=True)
    b = ember.tensor(B0.copy(), requires_grad=True)
    x = ember.tensor(X.copy())
    opt = make(ember.optim, [w, b])
    for _ in range(10):
        opt.zero_grad()
        _loss(ember, w, b, x).backward()
        opt.step()
    sd = opt.state_dict()
    w2 = ember.tensor(w.detach().numpy().copy(), requires_grad=True)
    b2 = ember.tensor(b.detach().numpy().copy(), requires_grad=True)
    opt2 = make(ember.optim, [w2, b2])
    opt2.load_state_dict(sd)
    for _ in range(10):
        opt2.zero_grad()
        _loss(ember, w2, b2, x).backward()
        opt2.step()
    np.testing.assert_array_equal(w2.detach().numpy(), full_w)
    np.testing.assert_array_equal(b2.detach().numpy(), full_b)


def test_state_dict_layout_matches_torch():
    _, _, eo = _run(ember, CASES["adam"], steps=2, groups=True)
    _, _, to = _run(torch, CASES["adam"], steps=2, groups=True)
    es, ts = eo.state_dict(), to.state_dict()
    assert sorted(es["state"]) == sorted(ts["state"])
    for k in ts["state"]:
        assert sorted(es["state"][k]) == sorted(ts["state"][k])
        for key in ts["state"][k]:
            np.testing.assert_allclose(es["state"][k][key].numpy(), ts["state"][k][key].numpy(), rtol=1e-5, atol=1e-6)
    for eg, tg in zip(es["param_groups"], ts["param_groups"]):
        assert eg["params"] == tg["params"]
        assert eg["lr"] == tg["lr"] and tuple(eg["betas"]) == tuple(tg["betas"])


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_matches_torch(line_search):
    # float64: in float32 this problem's L-BFGS path amplifies rounding (torch's own float32 run drifts 0.6%)
    results = []
    for lib in (ember, torch):
        w = lib.tensor(W0.astype(np.float64), requires_grad=True)
        b = lib.tensor(B0.astype(np.float64), requires_grad=True)
        x = lib.tensor(X.astype(np.float64))
        opt = lib.optim.LBFGS([w, b], lr=0.2, max_iter=8, history_size=5, line_search_fn=line_search)

        def closure():
            opt.zero_grad()
            loss = _loss(lib, w, b, x)
            loss.backward()
            return loss
        losses = [float(opt.step(closure).detach()) for _ in range(3)]
        results.append((w.detach().numpy().copy(), b.detach().numpy().copy(), losses))
    (ew, eb, el), (tw, tb, tl) = results
    np.testing.assert_allclose(el, tl, rtol=1e-9)
    np.testing.assert_allclose(ew, tw, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(eb, tb, rtol=1e-8, atol=1e-10)


def test_zero_grad_and_errors():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    opt = ember.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None
    with pytest.raises(ValueError, match="empty parameter list"):
        ember.optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        ember.optim.Adam([w], lr=-1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        ember.optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
