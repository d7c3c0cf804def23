"""torch's optimizer database (``common_optimizers.optim_db``) as ember's oracle.

For every OptimizerInfo and every CPU configuration torch's own tests build from it (its
``optim_inputs_func`` plus the ``differentiable``/``fused`` variants, and ``foreach`` where the optimizer
has it), the ember optimizer of the same name runs 10 steps beside torch's on parameters of several
shapes (a 0-d one among them), in two parameter groups, with the same random gradients: parameters equal
after every step, ``state_dict()`` equal in structure and values, each state dict loaded into a fresh
optimizer of the other library, three more steps of all four in step. Every ``optim_error_inputs_func``
entry raises (or warns) with torch's class. Entries that do not pass yet are listed, with their reason,
in ``known_gaps_optim.py``; a listed entry that passes fails the test, so the list only shrinks.
"""
from __future__ import annotations

import types
import warnings

import numpy as np
import pytest
import torch
from torch.testing._internal.common_optimizers import (OptimizerErrorEnum, optim_db,
                                                       _get_optim_inputs_including_global_cliquey_kwargs as all_inputs)

import ember
from .known_gaps_optim import GAPS
from .harness import _sparse

STEPS, MORE_STEPS = 10, 3
SHAPES = [(3, 4), (), (5,), (2, 1, 3)]
MATRIX_SHAPES = [(3, 4), (5, 2), (2, 6)]  # Muon takes matrices only
TOL = {"rtol": 1.3e-6, "atol": 1e-5}  # torch's assertEqual tolerances for float32
# L-BFGS runs 20 iterations a step, without a line search by default: the last-bit differences of its dot
# products grow about 3x an iteration (1e-7 to 0.3 in one float32 step). It runs in float64, where after
# 10 steps (200 iterations) the parameters differ by under 1e-5 and the two-loop coefficients in its state
# (ill-conditioned, values in the hundreds) by under 1e-3 relative; a different formula differs by far more
# (in float64 too those last bits are the CPU's: torch's AVX-512 and AVX2 builds sum dot products in different
# orders, so a small entry of a state vector may differ by 1e-5 of the vector's largest: "scaled" below)
TOL_LBFGS = {"rtol": 1e-3, "atol": 1e-5, "scaled": True}


def _configs():
    for info in optim_db:
        inputs = all_inputs("cpu", torch.float32, info)
        if "foreach" in info.supported_impls:  # torch's helper leaves foreach out on the CPU; ember takes it
            inputs += [type(i)(params=None, kwargs={**i.kwargs, "foreach": True}, desc=f"{i.desc} & foreach")
                       for i in info.optim_inputs_func(device="cpu")]
        for i in inputs:
            yield pytest.param(info, i, id=f"{info.name}: {i.desc}")


def _errors():
    for info in optim_db:
        for n, e in enumerate(info.optim_error_inputs_func(device="cpu", dtype=torch.float32)):
            yield pytest.param(info, e, id=f"{info.name}: error {n}: {e.optimizer_error_input.desc}")


def _against_gaps(request, check, *args) -> None:
    """Run ``check(*args)``: an unlisted failure fails, a listed one is an expected failure, and a listed
    entry that passes fails (so that its line is removed)."""
    gap = GAPS.get(request.node.callspec.id)
    try:
        check(*args)
    except Exception as e:  # noqa: BLE001 - a listed gap may fail in any way
        if gap is None:
            raise
        pytest.xfail(f"known gap ({gap}): {type(e).__name__}: {e}"[:300])
    if gap is not None:
        pytest.fail(f"listed in known_gaps_optim.py ({gap}) but passes now: remove the entry")


def _to_ember(x, seen: dict):
    """torch values as ember ones; the same torch tensor always gives the same ember tensor."""
    if isinstance(x, torch.Tensor):
        if id(x) not in seen:
            if not hasattr(ember, str(x.dtype).split(".")[1]):
                raise NotImplementedError(f"ember has no {x.dtype} tensors")
            t = _sparse(x.detach()) if x.layout != torch.strided else ember.tensor(x.detach().numpy().copy())
            if isinstance(x, torch.nn.Parameter):
                t = ember.nn.Parameter(t)
            elif x.requires_grad:
                t.requires_grad_(True)
            if x.grad is not None:
                t.grad = _to_ember(x.grad, seen)
            seen[id(x)] = t
        return seen[id(x)]
    if isinstance(x, dict):
        return {k: _to_ember(v, seen) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_to_ember(v, seen) for v in x)
    return x


def _to_torch(x):
    """ember values (a state dict) as torch ones."""
    if isinstance(x, ember.Tensor):
        return torch.from_numpy(x.detach().numpy().copy())
    if isinstance(x, dict):
        return {k: _to_torch(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_to_torch(v) for v in x)
    return x


def _for(tol: dict, t) -> dict:
    """assert_allclose's tolerances for torch's tensor ``t``: a "scaled" atol is relative to t's largest entry."""
    tol = dict(tol)
    if tol.pop("scaled", False) and t.numel():
        tol["atol"] *= max(1.0, float(t.detach().abs().max()))
    return tol


def _assert_same(e, t, tol, where="state_dict"):
    """An ember value (state dict, number, tensor) equals torch's in structure, types and values."""
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), f"{where}: torch has a tensor, ember {type(e).__name__}"
        assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], f"{where}: {e.dtype} vs {t.dtype}"
        assert tuple(e.shape) == tuple(t.shape), f"{where}: shape {tuple(e.shape)} vs {tuple(t.shape)}"
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), err_msg=where, **_for(tol, t))
    elif isinstance(t, dict):
        assert isinstance(e, dict) and set(e) == set(t), f"{where}: keys {sorted(map(str, e))} vs {sorted(map(str, t))}"
        for k in t:
            _assert_same(e[k], t[k], tol, f"{where}[{k!r}]")
    elif isinstance(t, (list, tuple)):
        assert type(e) is type(t) and len(e) == len(t), f"{where}: {e!r} vs {t!r}"
        for i, (a, b) in enumerate(zip(e, t)):
            _assert_same(a, b, tol, f"{where}[{i}]")
    elif isinstance(t, float):
        assert isinstance(e, (int, float)) and not isinstance(e, bool), f"{where}: {e!r} vs {t!r}"
        assert e == pytest.approx(t, rel=tol["rtol"], abs=tol["atol"], nan_ok=True), f"{where}: {e!r} vs {t!r}"
    else:
        assert type(e) is type(t) and e == t, f"{where}: {e!r} vs {t!r}"


class _Run:
    """One optimizer of each library over the same parameters, fed the same gradients."""

    def __init__(self, info, kwargs: dict, rng: np.random.Generator, named: bool):
        self.info, self.kwargs, self.rng = info, kwargs, rng
        self.differentiable = bool(kwargs.get("differentiable"))
        self.sparse = info.only_supports_sparse_grads
        shapes = MATRIX_SHAPES if info.name == "Muon" else SHAPES
        self.dtype = np.float64 if info.step_requires_closure else np.float32
        values = [rng.standard_normal(s).astype(self.dtype) for s in shapes]
        self.t_leaves = [torch.tensor(v, requires_grad=True) for v in values]
        self.e_leaves = [ember.tensor(v, requires_grad=True) for v in values]
        # a differentiable step changes its parameters under autograd: they must not be leaves
        self.t_params = [p.clone() if self.differentiable else p for p in self.t_leaves]
        self.e_params = [p.clone() if self.differentiable else p for p in self.e_leaves]
        self.named = named
        self.x = rng.standard_normal(shapes[0]).astype(self.dtype)

    def build(self, lib):
        """This run's optimizer of ``lib`` over its parameters."""
        if lib is torch:
            return self.info.optim_cls(self._groups(self.t_params, self.named), **self.kwargs)
        cls = getattr(ember.optim, self.info.optim_cls.__name__)
        return cls(self._groups(self.e_params, self.named), **_to_ember(self.kwargs, {}))

    def _groups(self, params, named: bool):
        items = [(f"p{i}", p) for i, p in enumerate(params)] if named else list(params)
        if not self.info.supports_param_groups:
            return items
        return [{"params": items[:2]}, {"params": items[2:]}]

    def _grads(self):
        grads = [self.rng.standard_normal(tuple(p.shape)).astype(np.float32) for p in self.t_params]
        if self.sparse:  # gradients with holes, as an embedding's are
            grads = [g * (self.rng.random(g.shape) < 0.6) for g in grads]
        return grads

    def _closure(self, lib, params):
        """A smooth loss of the parameters, for optimizers whose step re-evaluates it (L-BFGS)."""
        x = lib.tensor(self.x)

        def closure():
            for p in params:
                p.grad = None
            loss = sum(((lib.tanh(p * 1.5) ** 2).sum() + 0.1 * (p * p).sum() for p in params[1:]),
                       (lib.tanh(params[0] * x) ** 2).sum())
            loss.backward()
            return loss
        return closure

    def step(self, pairs):
        """One step of each optimizer in ``pairs`` ([(library, optimizer, params)]) with the same gradients."""
        if self.info.step_requires_closure:
            for lib, opt, params in pairs:
                opt.step(self._closure(lib, params))
            return
        grads = self._grads()
        for lib, opt, params in pairs:
            for p, g in zip(params, grads):
                g = lib.tensor(g)
                p.grad = g.to_sparse() if self.sparse else g  # (SparseAdam refuses a dense one)
            opt.step()

    def check_params(self, pairs, tol):
        t_params = pairs[0][2]
        for lib, _, params in pairs[1:]:
            for e, t in zip(params, t_params):
                np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), **_for(tol, t))


@pytest.mark.parametrize("info,optim_input", list(_configs()))
def test_optimizer_config_matches_torch(info, optim_input, request):
    _against_gaps(request, _check_config, info, dict(optim_input.kwargs), optim_input.desc == "default")


def _check_config(info, kwargs: dict, named: bool) -> None:
    tol = TOL_LBFGS if info.step_requires_closure else TOL
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notes on .grad of non-leaf tensors and the like
        run = _Run(info, kwargs, rng, named)
        try:
            run.torch_opt = run.build(torch)
        except Exception as torch_error:  # noqa: BLE001 - a configuration torch refuses: ember must too
            with pytest.raises(type(torch_error)):
                run.build(ember)
            return
        run.ember_opt = run.build(ember)
        pairs = [(torch, run.torch_opt, run.t_params), (ember, run.ember_opt, run.e_params)]
        for i in range(STEPS):
            run.step(pairs)
            run.check_params(pairs, tol)
            if i == 0 and run.differentiable:
                _check_step_gradients(run, tol)
        t_state, e_state = run.torch_opt.state_dict(), run.ember_opt.state_dict()
        _assert_same(e_state, t_state, tol)
        if not run.differentiable:
            _check_cross_loading(run, info, kwargs, t_state, e_state, tol)


def _check_step_gradients(run, tol) -> None:
    """A differentiable step is recorded: gradients reach the leaves through it (or, where torch's own
    step saved a tensor it then changed in place, backward raises as torch's does)."""
    def backward(params):
        sum((p * (k + 1.0)).sum() for k, p in enumerate(params)).backward(retain_graph=True)
    try:
        backward(run.t_params)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            backward(run.e_params)
        return
    backward(run.e_params)
    for e, t in zip(run.e_leaves, run.t_leaves):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), **_for(tol, t.grad))


def _check_cross_loading(run, info, kwargs, t_state, e_state, tol) -> None:
    """Each library's state dict loaded into a fresh optimizer of the other; four optimizers step together."""
    t_params = [torch.tensor(p.detach().numpy(), requires_grad=True) for p in run.e_params]
    e_params = [ember.tensor(p.detach().numpy(), requires_grad=True) for p in run.t_params]
    t_opt = info.optim_cls(run._groups(t_params, False), **kwargs)
    e_opt = getattr(ember.optim, info.optim_cls.__name__)(run._groups(e_params, False), **_to_ember(kwargs, {}))
    t_opt.load_state_dict(_to_torch(e_state))
    e_opt.load_state_dict(_to_ember(t_state, {}))
    _assert_same(e_opt.state_dict(), t_opt.state_dict(), tol)
    pairs = [(torch, run.torch_opt, run.t_params), (ember, run.ember_opt, run.e_params),
             (torch, t_opt, t_params), (ember, e_opt, e_params)]
    for _ in range(1 if info.step_requires_closure else MORE_STEPS):  # an L-BFGS step is 20 iterations
        run.step(pairs)
        run.check_params(pairs, tol)


def _schedules():
    for info in optim_db:
        for n, makers in enumerate(info.scheduler_inputs):
            yield pytest.param(info, makers, id=f"{info.name}: schedule {n}")


def _on_ember(maker):
    """A ``lambda opt: StepLR(opt, ...)`` of torch's database, with ember's scheduler classes in its globals."""
    names = {name: getattr(ember.optim.lr_scheduler, name) for name in maker.__code__.co_names
             if hasattr(ember.optim.lr_scheduler, name)}
    return types.FunctionType(maker.__code__, {**maker.__globals__, **names})


@pytest.mark.parametrize("info,makers", list(_schedules()))
def test_optimizer_with_schedulers_matches_torch(info, makers, request):
    """The database's learning-rate schedulers (chained, with ReduceLROnPlateau fed a loss) over 10 steps:
    the same learning rates and parameters."""
    _against_gaps(request, _check_schedules, info, makers)


def _check_schedules(info, makers) -> None:
    run = _Run(info, {}, np.random.default_rng(0), named=False)
    run.torch_opt, run.ember_opt = run.build(torch), run.build(ember)
    pairs = [(torch, run.torch_opt, run.t_params), (ember, run.ember_opt, run.e_params)]
    schedulers = [(torch, [m(run.torch_opt) for m in makers]),
                  (ember, [_on_ember(m)(run.ember_opt) for m in makers])]
    tol = TOL_LBFGS if info.step_requires_closure else TOL
    for _ in range(STEPS):
        run.step(pairs)
        run.check_params(pairs, tol)
        for lib, scheds in schedulers:
            loss = float(sum((p.detach() ** 2).sum() for p in pairs[0 if lib is torch else 1][2]))
            for sched in scheds:
                sched.step(loss) if type(sched).__name__ == "ReduceLROnPlateau" else sched.step()
        lrs = [[float(g["lr"]) for g in opt.param_groups] for opt in (run.torch_opt, run.ember_opt)]
        assert lrs[1] == pytest.approx(lrs[0], rel=1e-6), f"learning rates {lrs[1]} vs torch {lrs[0]}"


@pytest.mark.parametrize("info,error_input", list(_errors()))
def test_optimizer_error_input_matches_torch(info, error_input, request):
    _against_gaps(request, _check_error, info, error_input)


def _check_error(info, error_input) -> None:
    optim_input = error_input.optimizer_error_input
    params = optim_input.params
    if params is None:
        params = [torch.nn.Parameter(torch.randn(1, 1))]
    seen: dict = {}
    e_params, e_kwargs = _to_ember(params, seen), _to_ember(optim_input.kwargs, seen)
    ember_cls = getattr(ember.optim, info.optim_cls.__name__)
    for cls, p, kw in ((info.optim_cls, params, optim_input.kwargs), (ember_cls, e_params, e_kwargs)):
        if issubclass(error_input.error_type, Warning):
            with pytest.warns(error_input.error_type, match=error_input.error_regex):
                cls(p, **kw)
        elif error_input.error_on == OptimizerErrorEnum.CONSTRUCTION_ERROR:
            with pytest.raises(error_input.error_type):
                cls(p, **kw)
        else:
            opt = cls(p, **kw)
            with pytest.raises(error_input.error_type):
                opt.step()
