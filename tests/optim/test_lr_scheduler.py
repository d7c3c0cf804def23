"""Every scheduler gives torch's learning-rate sequence."""
import numpy as np
import pytest
import torch

import ember


def _sequence(lib, make_sched, epochs=30, opt_name="SGD", metrics=None):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([0.5], requires_grad=True)
    opt = getattr(lib.optim, opt_name)([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1,
                                       **({"momentum": 0.9} if opt_name == "SGD" else {}))
    sched = make_sched(lib.optim.lr_scheduler, opt)
    lrs, moms = [], []
    for epoch in range(epochs):
        opt.step()
        if metrics is not None:
            sched.step(metrics[epoch])
        else:
            sched.step()
        lrs.append([g["lr"] for g in opt.param_groups])
        moms.append([g.get("momentum", g.get("betas", (0,))[0]) for g in opt.param_groups])
    return np.array(lrs), np.array(moms), sched.get_last_lr()


CASES = {
    "step": lambda s, o: s.StepLR(o, step_size=4, gamma=0.5),
    "multistep": lambda s, o: s.MultiStepLR(o, milestones=[3, 7, 7, 12], gamma=0.3),
    "exponential": lambda s, o: s.ExponentialLR(o, gamma=0.9),
    "cosine": lambda s, o: s.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    "cosine_warm_restarts": lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.01),
    "cosine_warm_restarts_1": lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=4),
    "linear": lambda s, o: s.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=8),
    "linear_decay": lambda s, o: s.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=10),
    "lambda": lambda s, o: s.LambdaLR(o, lr_lambda=lambda e: 0.95 ** e),
    "lambda_list": lambda s, o: s.LambdaLR(o, lr_lambda=[lambda e: 1 / (e + 1), lambda e: 0.9 ** e]),
    "onecycle": lambda s, o: s.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=31),
    "onecycle_linear_3phase": lambda s, o: s.OneCycleLR(o, max_lr=0.8, epochs=3, steps_per_epoch=11,
                                                        anneal_strategy="linear", three_phase=True),
    "sequential": lambda s, o: s.SequentialLR(o, [s.LinearLR(o, start_factor=0.1, total_iters=5),
                                                  s.ExponentialLR(o, gamma=0.8)], milestones=[5]),
    "constant": lambda s, o: s.ConstantLR(o, factor=0.5, total_iters=4),
    "multiplicative": lambda s, o: s.MultiplicativeLR(o, lr_lambda=lambda e: 0.9 if e % 2 else 0.95),
    "polynomial": lambda s, o: s.PolynomialLR(o, total_iters=12, power=2.0),
    "chained": lambda s, o: s.ChainedScheduler([s.ExponentialLR(o, gamma=0.9), s.StepLR(o, 4, gamma=0.5)]),
    "cyclic": lambda s, o: s.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.3], step_size_up=4, step_size_down=3),
    "cyclic_tri2": lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="triangular2", cycle_momentum=False),
    "cyclic_exp": lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=2, mode="exp_range", gamma=0.95),
    "sequential_cosine": lambda s, o: s.SequentialLR(o, [s.ConstantLR(o, factor=0.5, total_iters=3),
                                                         s.CosineAnnealingLR(o, T_max=12)], milestones=[6]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_sequence_matches_torch(name):
    el, em, elast = _sequence(ember, CASES[name])
    tl, tm, tlast = _sequence(torch, CASES[name])
    np.testing.assert_allclose(el, tl, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(em, tm, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(elast, tlast, rtol=1e-10)


def test_onecycle_cycles_adam_betas():
    el, em, _ = _sequence(ember, lambda s, o: s.OneCycleLR(o, max_lr=0.3, total_steps=30), opt_name="Adam")
    tl, tm, _ = _sequence(torch, lambda s, o: s.OneCycleLR(o, max_lr=0.3, total_steps=30), opt_name="Adam")
    np.testing.assert_allclose(el, tl, rtol=1e-10)
    np.testing.assert_allclose(em, tm, rtol=1e-10)


@pytest.mark.parametrize("kwargs", [dict(), dict(mode="max", factor=0.5, patience=2, cooldown=1),
                                    dict(threshold_mode="abs", threshold=0.1, patience=1, min_lr=[0.01, 0.2])])
def test_reduce_on_plateau_matches_torch(kwargs):
    metrics = [1.0, 0.9, 0.9, 0.95, 0.91, 0.89, 0.89, 0.89, 0.89, 0.7, 0.7, 0.7, 0.7, 0.7, 0.71, 0.72,
               0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
    el, _, _ = _sequence(ember, lambda s, o: s.ReduceLROnPlateau(o, **kwargs), metrics=metrics)
    tl, _, _ = _sequence(torch, lambda s, o: s.ReduceLROnPlateau(o, **kwargs), metrics=metrics)
    np.testing.assert_allclose(el, tl, rtol=1e-12)


def test_state_dict_round_trip_resumes():
    def run(split):
        w = ember.tensor([1.0], requires_grad=True)
        opt = ember.optim.SGD([w], lr=0.1)
        s = ember.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
        for _ in range(split):
            opt.step()
            s.step()
        sd, osd = s.state_dict(), opt.state_dict()
        w2 = ember.tensor([1.0], requires_grad=True)
        opt2 = ember.optim.SGD([w2], lr=0.1)
        s2 = ember.optim.lr_scheduler.CosineAnnealingLR(opt2, T_max=10)
        opt2.load_state_dict(osd)
        s2.load_state_dict(sd)
        out = []
        for _ in range(15 - split):
            opt2.step()
            s2.step()
            out.append(opt2.param_groups[0]["lr"])
        return out
    assert run(5) == run(0)[5:]


@pytest.mark.parametrize("name", ["step", "cosine_warm_restarts", "cyclic_tri2", "onecycle_linear_3phase"])
def test_step_count_as_torchs(name):
    """``_step_count`` (read by schedules written for torch, e.g. DLRM's warm-up policy) counts base steps."""
    def counts(lib):
        w = lib.tensor([1.0], requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1, momentum=0.9)
        sched = CASES[name](lib.optim.lr_scheduler, opt)
        out = [sched._step_count]
        for _ in range(3):
            opt.step()
            sched.step()
            out.append(sched._step_count)
        return out
    assert counts(ember) == counts(torch)
