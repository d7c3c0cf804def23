"""Adam's whole-group step over flat buffers (ember/optim/_flat.py) against torch's Adam: the parameters,
the state and its layout, through the cases where the flat buffers must be remade or given up."""
import numpy as np
import pytest
import torch

import ember

RNG = np.random.default_rng(1)
SHAPES = [(3, 4), (4,), (), (2, 1, 3)]
P0 = [RNG.standard_normal(s).astype(np.float32) for s in SHAPES]
C = [RNG.standard_normal(s).astype(np.float32) for s in SHAPES]


def _params(lib):
    return [lib.tensor(p.copy(), requires_grad=True) for p in P0]


def _backward(lib, ps, step: int, skip=()):
    # gradient c + p: rounded once, alike in both libraries, so the optimizers see the same numbers
    loss = 0
    for i, (p, c) in enumerate(zip(ps, C)):
        if i not in skip:
            loss = loss + (p * lib.tensor(c * (1 + 0.25 * step))).sum() + 0.5 * (p * p).sum()
    loss.backward()


def _train(lib, make, steps, params=None, opt=None, skip_at=None, start=0):
    ps = params or _params(lib)
    opt = opt or make(lib.optim, ps)
    for k in range(start, start + steps):
        opt.zero_grad()
        _backward(lib, ps, k, skip=(1,) if k == skip_at else ())
        opt.step()
    return ps, opt


def _same(e_ps, e_opt, t_ps, t_opt):
    for e, t in zip(e_ps, t_ps):
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=2e-6, atol=1e-7)
    es, ts = e_opt.state_dict(), t_opt.state_dict()
    assert es["param_groups"] == ts["param_groups"]
    assert list(es["state"]) == list(ts["state"])
    for i in ts["state"]:
        assert list(es["state"][i]) == list(ts["state"][i])  # the keys, in torch's order
        for k, tv in ts["state"][i].items():
            ev = es["state"][i][k]
            assert ev.shape == tuple(tv.shape) and str(ev.dtype).split(".")[-1] == str(tv.dtype).split(".")[-1]
            np.testing.assert_allclose(ev.numpy(), tv.numpy(), rtol=2e-6, atol=1e-9)


CASES = {
    "adam": lambda o, p: o.Adam(p, lr=0.01),
    "adam_amsgrad_wd_maximize": lambda o, p: o.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True),
    "adam_small_beta1": lambda o, p: o.Adam(p, lr=0.02, betas=(0.3, 0.99), eps=1e-6),
    "adamw_amsgrad": lambda o, p: o.AdamW(p, lr=0.01, weight_decay=0.1, amsgrad=True),
    "adam_two_groups": lambda o, p: o.Adam([{"params": p[:2]}, {"params": p[2:], "lr": 0.05}], lr=0.01),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_flat_step_matches_torch(name):
    e_ps, e_opt = _train(ember, CASES[name], 12)
    assert len(e_opt._flat) == len(e_opt.param_groups)  # the flat path ran, one set of buffers per group
    _same(e_ps, e_opt, *_train(torch, CASES[name], 12))


def test_a_parameter_without_gradient_lags_as_in_torch():
    # step 3 leaves parameter 1 without a gradient: torch skips it, and its step count stays behind
    e = _train(ember, CASES["adam"], 8, skip_at=3)
    t = _train(torch, CASES["adam"], 8, skip_at=3)
    _same(*e, *t)
    assert float(e[1].state_dict()["state"][1]["step"]) == 7.0


def test_state_tensors_are_updated_in_place_and_can_be_replaced():
    e_ps, e_opt = _train(ember, CASES["adamw_amsgrad"], 3)
    t_ps, t_opt = _train(torch, CASES["adamw_amsgrad"], 3)
    held = e_opt.state[e_ps[0]]["exp_avg"]
    for lib, ps, opt in ((ember, e_ps, e_opt), (torch, t_ps, t_opt)):
        opt.state[ps[2]]["exp_avg_sq"] = lib.full_like(ps[2], 0.5).detach()
        opt.state[ps[3]]["step"] = lib.tensor(3.0)
    _train(ember, None, 4, e_ps, e_opt, start=3)
    _train(torch, None, 4, t_ps, t_opt, start=3)
    _same(e_ps, e_opt, t_ps, t_opt)
    assert held is e_opt.state[e_ps[0]]["exp_avg"]
    np.testing.assert_allclose(held.numpy(), t_opt.state[t_ps[0]]["exp_avg"].numpy(), rtol=2e-6, atol=1e-9)


def test_state_dict_resume_as_torch():
    results = []
    for lib in (ember, torch):
        ps, opt = _train(lib, CASES["adam_amsgrad_wd_maximize"], 5)
        saved = opt.state_dict()
        ps2 = [lib.tensor(p.detach().numpy().copy(), requires_grad=True) for p in ps]
        opt2 = CASES["adam_amsgrad_wd_maximize"](lib.optim, ps2)
        opt2.load_state_dict(saved)
        results.append(_train(lib, None, 5, ps2, opt2, start=5))
        if lib is ember:  # the loaded state is a copy: the first optimizer's tensors are left alone
            np.testing.assert_array_equal(saved["state"][0]["step"].numpy(), 5.0)
    _same(*results[0], *results[1])


def test_a_step_count_changed_in_place_as_torch():
    results = []
    for lib in (ember, torch):
        ps, opt = _train(lib, CASES["adam"], 3)
        opt.state[ps[1]]["step"].add_(2)  # this parameter's bias corrections now run two steps ahead
        results.append(_train(lib, None, 3, ps, opt, start=3))
    _same(*results[0], *results[1])
