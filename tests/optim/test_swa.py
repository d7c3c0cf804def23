"""ember.optim.swa_utils against torch 2.13.0: averaged weights after several updates, SWALR's rates, update_bn."""
import numpy as np
import pytest
import torch
import torch.optim.swa_utils as tswa

import ember
import ember.nn as nn
import ember.optim.swa_utils as eswa
from conftest import assert_close


def _net(lib):
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Linear(4, 2))


def _pair():
    torch.manual_seed(0)
    tm = _net(torch)
    em = _net(ember)
    em.load_state_dict({k: ember.tensor(v.numpy().copy()) for k, v in tm.state_dict().items()})
    return em, tm


def _perturb_and_run(em, tm, rng):
    """The same new parameter values in both models, then one training-mode forward (moves BN buffers)."""
    for (_, ep), (_, tp) in zip(em.named_parameters(), tm.named_parameters()):
        new = rng.standard_normal(tuple(tp.shape)).astype(np.float32)
        with torch.no_grad():
            tp.copy_(torch.tensor(new))
        with ember.no_grad():
            ep.copy_(ember.tensor(new))
    x = rng.standard_normal((5, 3)).astype(np.float32)
    em(ember.tensor(x))
    tm(torch.tensor(x))


def _check_state(e, t):
    es, ts = e.state_dict(), t.state_dict()
    assert list(es) == list(ts)
    for k, v in ts.items():
        assert_close(es[k], v, atol=1e-6, what=k)


@pytest.mark.parametrize("kind", ["swa", "ema_multi", "ema_avg", "swa_avg", "custom"])
@pytest.mark.parametrize("use_buffers", [False, True])
def test_averaged_model(kind, use_buffers):
    em, tm = _pair()
    fns = {
        "swa": ({}, {}),
        "ema_multi": ({"multi_avg_fn": eswa.get_ema_multi_avg_fn(0.9)}, {"multi_avg_fn": tswa.get_ema_multi_avg_fn(0.9)}),
        "ema_avg": ({"avg_fn": eswa.get_ema_avg_fn(0.8)}, {"avg_fn": tswa.get_ema_avg_fn(0.8)}),
        "swa_avg": ({"avg_fn": eswa.get_swa_avg_fn()}, {"avg_fn": tswa.get_swa_avg_fn()}),
        "custom": ({"avg_fn": lambda a, c, n: 0.3 * a + 0.7 * c}, {"avg_fn": lambda a, c, n: 0.3 * a + 0.7 * c}),
    }[kind]
    ea = eswa.AveragedModel(em, use_buffers=use_buffers, **fns[0])
    ta = tswa.AveragedModel(tm, use_buffers=use_buffers, **fns[1])
    _check_state(ea, ta)
    rng = np.random.default_rng(0)
    for _ in range(4):
        _perturb_and_run(em, tm, rng)
        ea.update_parameters(em)
        ta.update_parameters(tm)
        _check_state(ea, ta)
    assert int(ea.n_averaged) == 4
    x = rng.standard_normal((2, 3)).astype(np.float32)
    ea.eval()
    ta.eval()
    assert_close(ea(ember.tensor(x)), ta(torch.tensor(x)), atol=1e-5)


def test_swa_mean_by_hand():
    m = nn.Linear(2, 1)
    avg = eswa.AveragedModel(m)
    values = []
    for k in range(3):
        with ember.no_grad():
            m.weight.fill_(float(k * k))
        values.append(k * k)
        avg.update_parameters(m)
    np.testing.assert_allclose(avg.module.weight.detach().numpy(), np.mean(values))
    assert avg.module.weight is not m.weight


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("anneal_epochs", [0, 1, 3])
@pytest.mark.parametrize("swa_lr", [0.05, [0.05, 0.2]])
def test_swalr(strategy, anneal_epochs, swa_lr):
    def make(lib):
        w1, w2 = lib.zeros(2, requires_grad=True), lib.zeros(2, requires_grad=True)
        opt = lib.optim.SGD([{"params": [w1]}, {"params": [w2], "lr": 0.5}], lr=0.1)
        return opt, (eswa if lib is ember else tswa).SWALR(opt, swa_lr, anneal_epochs=anneal_epochs,
                                                           anneal_strategy=strategy)
    eo, es = make(ember)
    to, ts = make(torch)
    for _ in range(6):
        np.testing.assert_allclose(es.get_last_lr(), ts.get_last_lr(), rtol=1e-12)
        np.testing.assert_allclose([g["lr"] for g in eo.param_groups], [g["lr"] for g in to.param_groups])
        eo.step()
        to.step()
        es.step()
        ts.step()
    np.testing.assert_allclose(es.get_last_lr(), ts.get_last_lr(), rtol=1e-12)


def test_swalr_after_another_schedule_and_errors():
    def make(lib):
        w = lib.zeros(2, requires_grad=True)
        opt = lib.optim.SGD([w], lr=1.0)
        return opt, lib.optim.lr_scheduler.StepLR(opt, 2, 0.5)
    eo, estep = make(ember)
    to, tstep = make(torch)
    for _ in range(3):
        eo.step()
        to.step()
        estep.step()
        tstep.step()
    es, ts = eswa.SWALR(eo, 0.01, anneal_epochs=4), tswa.SWALR(to, 0.01, anneal_epochs=4)
    for _ in range(6):
        np.testing.assert_allclose(es.get_last_lr(), ts.get_last_lr(), rtol=1e-12)
        eo.step()
        to.step()
        es.step()
        ts.step()
    with pytest.raises(ValueError, match="anneal_strategy"):
        eswa.SWALR(eo, 0.01, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs"):
        eswa.SWALR(eo, 0.01, anneal_epochs=-1)
    with pytest.raises(ValueError, match="same length"):
        eswa.SWALR(eo, [0.01, 0.02])


@pytest.mark.parametrize("tuples", [False, True])
def test_update_bn(tuples):
    em, tm = _pair()
    rng = np.random.default_rng(1)
    batches = [rng.standard_normal((n, 3)).astype(np.float32) * 3 + 1 for n in (4, 6, 5)]
    eloader = [(ember.tensor(b), 0) if tuples else ember.tensor(b) for b in batches]
    tloader = [(torch.tensor(b), 0) if tuples else torch.tensor(b) for b in batches]
    em.eval()
    tm.eval()
    ea, ta = eswa.AveragedModel(em), tswa.AveragedModel(tm)
    eswa.update_bn(eloader, ea)
    tswa.update_bn(tloader, ta)
    _check_state(ea, ta)
    assert ea.training == ta.training and ea.module.training == ta.module.training
    assert ea.module[1].momentum == 0.1
