"""torch's older nn test tables (``common_nn``: ``get_new_module_tests()``, ``module_tests``,
``criterion_tests``) run on ember.

Each entry's module is built in torch and, with the same code, in ember: a class by name with its
constructor arguments converted, a lambda re-bound so that its ``torch``/``nn``/``F`` are ember's,
a ``wrap_functional`` module as ember's module around the re-bound function (its captured tensors
converted). torch's state_dict is loaded into ember's; the output on the entry's input (and target),
then the gradients of the floating inputs and of the parameters for one random cotangent (and second
gradients, for float64 entries that torch checks so) must equal torch's, under the entry's default
dtype; so must the repr of a module, its output after a pickle round trip (unless the entry has
``pickle=False``) and the output in eval mode (for every entry, not only those with ``check_eval``).
float64 entries run again in float32 (output and first gradients).
An entry that fails must be listed in ``known_gaps_common_nn.py`` with its reason; a listed entry
that passes fails the suite.
"""
from __future__ import annotations

import pickle
import types

import pytest
import torch
from torch.testing._internal import common_nn

import ember
from .harness import Unconvertible, assert_same, short, tensors, to_ember, to_torch
from .known_gaps_common_nn import GAPS
from .test_op_db import compare_with_gaps


def _name(entry: dict) -> str:
    if entry.get("fullname"):
        return entry["fullname"]
    name = entry.get("module_name") or entry["constructor"].__name__
    return name + ("_" + entry["desc"] if entry.get("desc") else "")


def _entries() -> dict:
    out = {}
    tables = (("", common_nn.get_new_module_tests()), ("", common_nn.module_tests),
              ("criterion:", common_nn.criterion_tests))
    for prefix, table in tables:
        for entry in table:
            name = prefix + _name(entry)
            while name in out:  # a few names repeat across the tables
                name += "_"
            out[name] = (entry, bool(prefix) or "target_size" in entry or "target_fn" in entry)
    return out


ENTRIES = _entries()


def _rebound(fn):
    """``fn`` with ember as its ``torch``, ``nn`` and ``F``, and the tensors it captured converted."""
    g = dict(fn.__globals__)
    g.update(torch=ember, nn=ember.nn, F=ember.nn.functional)
    cells = fn.__closure__ and tuple(types.CellType(_converted(c.cell_contents)) for c in fn.__closure__)
    out = types.FunctionType(fn.__code__, g, fn.__name__, _converted(fn.__defaults__), cells)
    out.__kwdefaults__ = _converted(fn.__kwdefaults__)
    return out


def _converted(x):
    if isinstance(x, types.FunctionType):
        own = x.__module__.startswith("torch.") and x.__module__ != common_nn.__name__
        return to_ember(x) if own else _rebound(x)  # torch's own function (F.interpolate): ember's by name
    return to_ember(x) if x is not None else None


class _Functional(ember.nn.Module):
    """ember's twin of ``common_nn.wrap_functional``'s module: forward calls the re-bound function."""

    def __init__(self, fn, kwargs: dict):
        super().__init__()
        self.fn, self.kwargs = fn, kwargs

    def forward(self, *args):
        return self.fn(*args, **self.kwargs)


def _build_ember(entry: dict):
    ctor = entry.get("constructor")
    if ctor is None:
        return getattr(ember.nn, entry["module_name"])(*to_ember(entry.get("constructor_args", ())))
    if isinstance(ctor, type) and ctor.__name__ == "FunctionalModule":
        free = dict(zip(ctor.forward.__code__.co_freevars, (c.cell_contents for c in ctor.forward.__closure__)))
        return _Functional(_converted(free["fn"]), to_ember(free["kwargs"]))
    if isinstance(ctor, type):
        if getattr(ember.nn, ctor.__name__, None) is None:
            raise Unconvertible(f"no ember.nn.{ctor.__name__}")
        return getattr(ember.nn, ctor.__name__)(*to_ember(entry.get("constructor_args", ())))
    return _rebound(ctor)(*to_ember(entry.get("constructor_args", ())))


def _build_torch(entry: dict):
    ctor = entry.get("constructor") or getattr(torch.nn, entry["module_name"])
    return ctor(*entry.get("constructor_args", ()))


def _arg(entry: dict, name: str):
    """The entry's input or target, drawn as torch's TestBase draws it."""
    if name in entry:
        return entry[name]
    if name + "_fn" in entry:
        return entry[name + "_fn"]()
    sizes = entry[name + "_size"]

    def draw(s):
        if isinstance(s, list):
            return [draw(v) for v in s]
        return s.double() if isinstance(s, torch.Tensor) else torch.randn(s)
    return draw(sizes)


def _needs_grad(x):
    for t in tensors(x):
        if t.is_floating_point() or t.is_complex():
            t.requires_grad_(True)
    return x


def _args(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def check_entry(entry: dict, criterion: bool) -> dict:
    """Run one common_nn entry on torch and ember; the failing checks, each with a one-line reason.

    A float64 entry runs in float32 too (output and first gradients): torch's own test runs each module
    cast to float32 as well, though it compares nothing there."""
    dtype = entry.get("default_dtype") or torch.get_default_dtype()
    failures = _check(entry, criterion, dtype, full=True)
    if dtype == torch.float64:
        low = _check(entry, criterion, torch.float32, full=False)
        failures.update({f"float32 {k}": v for k, v in low.items()})
    return failures


def _check(entry: dict, criterion: bool, dtype: torch.dtype, full: bool) -> dict:
    """One entry under the default dtype ``dtype``: output and gradients, and (``full``) the other checks."""
    edtype = getattr(ember, str(dtype).split(".")[1])
    old, eold = torch.get_default_dtype(), ember.get_default_dtype()
    torch.set_default_dtype(dtype)
    ember.set_default_dtype(edtype)
    try:
        torch.manual_seed(0)
        tm = _build_torch(entry)
        targs = _args(_needs_grad(_arg(entry, "input")))
        if criterion:
            targs.append(_arg(entry, "target"))
        try:
            em = _build_ember(entry)
            eargs = to_ember(targs)
        except Unconvertible as exc:
            return {"build": f"unsupported: {exc}"}
        except Exception as exc:
            return {"build": short(exc)}
        failures = {}
        try:
            em.load_state_dict({k: to_ember(v.detach()) for k, v in tm.state_dict().items()}, strict=True)
            _compare(tm, em, targs, eargs, 1)
        except Exception as exc:
            failures["train"] = short(exc)
        if not full:
            return failures
        if dtype == torch.float64 and entry.get("check_gradgrad", True) and "train" not in failures:
            try:
                _compare(tm, em, targs, eargs, 2)
            except Exception as exc:
                failures["gradgrad"] = short(exc)
        if not isinstance(em, _Functional):
            try:
                assert repr(em) == repr(tm), f"repr {repr(em)!r} != torch's {repr(tm)!r}"[:300]
            except Exception as exc:
                failures["repr"] = short(exc)
        if entry.get("pickle", True) and not isinstance(em, _Functional):
            try:
                again = pickle.loads(pickle.dumps(em))
                assert_same(to_torch(again(*to_ember(targs))), tm(*targs), "output after pickling")
            except Exception as exc:
                failures["pickle"] = short(exc)
        try:
            tm.eval()
            em.eval()
            assert_same(to_torch(em(*to_ember(targs))), tm(*targs), "eval output")
        except Exception as exc:
            failures["eval"] = short(exc)
        return failures
    finally:
        torch.set_default_dtype(old)
        ember.set_default_dtype(eold)


def _dense(g):
    return g.to_dense() if isinstance(g, torch.Tensor) and g.layout != torch.strided else g


def _compare(tm, em, targs, eargs, order: int) -> None:
    """Output, then ``order`` levels of gradients of the floating inputs and parameters, each level
    differentiating the previous one's gradients against a fresh random cotangent."""
    torch.manual_seed(1)  # the same draws in both (RReLU's slopes): ember's generator is torch's
    tout = tm(*targs)
    ember.manual_seed(1)
    eout = em(*eargs)
    assert_same(to_torch(eout), tout, "output")
    tin = [t for t in tensors(targs) if t.requires_grad]
    ein = [t for t in tensors(eargs) if t.requires_grad]
    tparams, eparams = dict(tm.named_parameters()), dict(em.named_parameters())
    assert list(eparams) == list(tparams), f"parameters {list(eparams)} != torch's {list(tparams)}"
    names = [f"input {k}" for k in range(len(tin))] + list(tparams)
    tin, ein = tin + list(tparams.values()), ein + list(eparams.values())
    touts, eouts = tensors(tout), tensors(eout)
    gen = torch.Generator().manual_seed(2)  # not 0: the cotangent must not repeat the input's draws
    for level in range(1, order + 1):
        keep = [k for k, t in enumerate(touts) if t is not None and t.requires_grad]
        if not keep:
            return
        touts, eouts = [touts[k] for k in keep], [eouts[k] for k in keep]
        cots = [torch.randn(t.shape, dtype=t.dtype, generator=gen) for t in touts]
        # torch marks every gradient of a double-backward node as requiring grad, even one that is
        # constant in the inputs (a conv bias's, relu's); ember does not: those add nothing to the
        # next level, which torch's values then confirm
        live = [k for k, e in enumerate(eouts) if e is not None and e.requires_grad]
        more = level < order
        tg = torch.autograd.grad(touts, tin, cots, allow_unused=True, create_graph=more)
        eg = ember.autograd.grad([eouts[k] for k in live], ein, to_ember([cots[k] for k in live]),
                                 allow_unused=True, create_graph=more) if live else [None] * len(ein)
        what = "gradient" if level == 1 else "second gradient"
        for name, t, e, like in zip(names, tg, eg, tin):
            e = None if e is None else to_torch(e)
            if t is not None and e is not None:  # a sparse Embedding's gradient is sparse in both
                assert e.layout == t.layout, f"{what} of {name}: layout {e.layout} != torch's {t.layout}"
            t = torch.zeros_like(like).detach() if t is None else _dense(t)
            e = torch.zeros_like(like).detach() if e is None else _dense(e)
            assert_same(e, t, f"{what} of {name}")
        touts, eouts = list(tg), list(eg)


@pytest.mark.parametrize("name", list(ENTRIES))
def test_common_nn(name):
    with torch.random.fork_rng():
        compare_with_gaps(name, lambda: check_entry(*ENTRIES[name]), GAPS, "common_nn")


@pytest.mark.parametrize("channels,size", [(8, 3), (8, 4), (10, 5), (6, 2), (5, 1)])
def test_cross_map_lrn2d_edges(channels, size):
    """CrossMapLRN2d where its window quirks show (common_nn's entry has fewer channels than the window):
    results and input gradients equal torch's, and size 1's backward fails as torch's does."""
    torch.manual_seed(0)
    x = torch.randn(2, channels, 3, 3, dtype=torch.float64, requires_grad=True)
    tm, em = torch.nn.CrossMapLRN2d(size, 0.5, 0.75, 2.0), ember.nn.CrossMapLRN2d(size, 0.5, 0.75, 2.0)
    ex = to_ember(x)
    tout, eout = tm(x), em(ex)
    assert_same(to_torch(eout), tout, "output")
    cot = torch.randn_like(tout)
    if size == 1:
        with pytest.raises(RuntimeError, match="exceeds dimension size"):
            torch.autograd.grad(tout, x, cot)
        with pytest.raises(RuntimeError, match="exceeds dimension size"):
            ember.autograd.grad(eout, ex, to_ember(cot))
        return
    assert_same(to_torch(ember.autograd.grad(eout, ex, to_ember(cot))[0]), torch.autograd.grad(tout, x, cot)[0],
                "gradient of input")
    with pytest.raises(ValueError, match="Expected input to be 4D"):
        em(ember.randn(2, channels, 3))
