"""Every ModuleInfo of torch's own module database, built in ember with the same constructor arguments.

torch's state_dict is loaded into ember's module with ``strict=True``; outputs, input gradients and
parameter gradients (one shared random cotangent) must equal torch's in train and in eval mode, and
each ``module_error_inputs`` case must raise the same exception class. An entry that fails a check
must be listed in ``known_gaps_modules.py`` with its reason; a listed one that passes fails the suite.
"""
from __future__ import annotations

import itertools

import pytest
import torch
from torch.testing._internal.common_modules import ModuleErrorEnum, module_db

import ember
from .harness import Unconvertible, assert_same, short, tensors, to_ember, to_torch
from .known_gaps_modules import GAPS
from .test_op_db import compare_with_gaps

CAP = 4  # module inputs per mode and dtype (torch's generators give 1-20)
MODULES = {m.name: m for m in module_db}


def _build(info, inp):
    """The torch module and ember's, from the same constructor arguments."""
    args, kwargs = inp.constructor_input.args, inp.constructor_input.kwargs
    return info.module_cls(*args, **kwargs), _build_ember(info, inp)


def _build_ember(info, inp):
    cls = getattr(ember.nn, info.module_cls.__name__)
    return cls(*to_ember(inp.constructor_input.args), **to_ember(inp.constructor_input.kwargs))


def _forward(m, inp, convert):
    args, kwargs = inp.forward_input.args, inp.forward_input.kwargs
    if convert:
        args, kwargs = to_ember((args, kwargs))
    return args, kwargs, m(*args, **kwargs)


def check_module(info) -> dict:
    """Run every check on one ModuleInfo; the failing ones, each with a one-line reason."""
    if getattr(ember.nn, info.module_cls.__name__, None) is None:
        return {"missing": f"no ember.nn.{info.module_cls.__name__}"}
    failures = {}
    for dtype, training in ((torch.float64, True), (torch.float64, False), (torch.float32, True)):
        check = "train" if training else "eval"
        if dtype == torch.float32:
            check = "float32"
        if dtype not in info.supported_dtypes("cpu"):
            continue
        try:
            torch.manual_seed(0)  # torch's input generators draw from the global generator
            inputs = list(itertools.islice(info.module_inputs_func(info, device="cpu", dtype=dtype,
                                                                    requires_grad=True, training=training), CAP))
            for i, inp in enumerate(inputs):
                _check_one(info, inp, dtype, training, grads=dtype == torch.float64, what=f"input {i}")
        except Unconvertible as exc:
            failures[check] = f"unsupported argument: {exc}"
        except Exception as exc:
            failures[check] = short(exc)
    try:
        _check_errors(info)
    except Exception as exc:
        failures["errors"] = short(exc)
    return failures


def _check_one(info, inp, dtype, training, grads, what):
    torch.manual_seed(0)
    tm, em = _build(info, inp)
    tm.to(dtype)
    em.to(getattr(ember, str(dtype).split(".")[1]))
    if info.is_lazy:  # a lazy module takes its shapes from a first call
        _forward(tm, inp, False)
        _forward(em, inp, True)
    em.load_state_dict({k: to_ember(v.detach()) for k, v in tm.state_dict().items()}, strict=True)
    tm.train(training)
    em.train(training)
    targs, tkw, tout = _forward(tm, inp, False)
    eargs, ekw, eout = _forward(em, inp, True)
    assert_same(to_torch(eout), tout, f"{what} output")
    if not grads:
        return
    touts = [t for t in tensors(tout) if t.requires_grad and t.dtype.is_floating_point]
    if not touts:
        return
    eouts = [t for t in tensors(eout) if t.requires_grad]
    assert len(eouts) == len(touts), f"{what}: {len(eouts)} outputs require grad, torch has {len(touts)}"
    gen = torch.Generator().manual_seed(0)
    cots = [torch.randn(t.shape, dtype=t.dtype, generator=gen) for t in touts]
    tin = [t for t in tensors((targs, tkw)) if t.requires_grad]
    ein = [t for t in tensors((eargs, ekw)) if t.requires_grad]
    tparams = dict(tm.named_parameters())
    eparams = dict(em.named_parameters())
    assert list(eparams) == list(tparams), f"{what}: parameters {list(eparams)} != torch's {list(tparams)}"
    tg = torch.autograd.grad(touts, tin + list(tparams.values()), cots, allow_unused=True)
    eg = ember.autograd.grad(eouts, ein + list(eparams.values()), to_ember(cots), allow_unused=True)
    names = [f"input {k}" for k in range(len(tin))] + list(tparams)
    for name, t, e, like in zip(names, tg, eg, tin + list(tparams.values())):
        t = torch.zeros_like(like).detach() if t is None else t
        e = torch.zeros_like(like).detach() if e is None else to_torch(e)
        assert_same(e, t, f"{what} gradient of {name}")


def _check_errors(info):
    if info.module_error_inputs_func is None:
        return
    errs = info.module_error_inputs_func(info, device="cpu", dtype=torch.float64, requires_grad=False,
                                         training=True)
    for i, err in enumerate(errs):
        inp = err.module_error_input
        try:
            em = _build_ember(info, inp)
            if err.error_on != ModuleErrorEnum.CONSTRUCTION_ERROR:
                _forward(em, inp, True)
        except Unconvertible:
            continue
        except err.error_type:
            continue
        except Exception as exc:
            raise AssertionError(f"error input {i}: raised {short(exc)}; torch raises "
                                 f"{err.error_type.__name__}") from None
        stage = "construction" if err.error_on == ModuleErrorEnum.CONSTRUCTION_ERROR else "forward"
        raise AssertionError(f"error input {i}: no error at {stage}; torch raises {err.error_type.__name__}: "
                             f"{err.error_regex}"[:300])


@pytest.mark.parametrize("entry", list(MODULES))
def test_module_db(entry):
    with torch.random.fork_rng():
        compare_with_gaps(entry, lambda: check_module(MODULES[entry]), GAPS, "modules")
