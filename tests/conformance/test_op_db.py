"""Every OpInfo of torch's own operator database, run on ember with torch's own sample inputs.

Each entry is called through ember's counterpart (same positional and keyword arguments) and compared
with torch: values, shapes and dtypes (float32, float64, the integer and bool dtypes torch lists),
gradients with one shared random cotangent, double backward where torch says ``supports_gradgrad``,
the exception class of every ``error_inputs`` case, ``reference_inputs``, and the method and in-place
variants. An entry that fails a check must be listed in ``known_gaps_ops.py`` with its reason, and a
listed one that passes fails the suite, so the list only shrinks.
"""
from __future__ import annotations

import functools
import itertools
import json
import os
import time
import types
import unittest

import pytest
import torch
from torch.testing._internal.common_methods_invocations import op_db

import ember
from .harness import TooManyDims, Unconvertible, assert_same, on_ember, plain, short, tensors, to_ember, to_torch
from .known_gaps_ops import GAPS

# samples per entry (torch's generators give 10-50): enough to reach every code path the first
# samples exercise, small enough for the whole database to run in about two minutes on two cores
CAPS = {"forward": 3, "int": 2, "backward": 2, "gradgrad": 1, "fwad": 1, "reference": 2, "errors": None}
CHECKS = ("forward", "int", "backward", "gradgrad", "fwad", "errors", "reference", "variants")
INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool)
# entries that return uninitialised memory: only shapes and dtypes can be compared (no gradients)
RANDOM = {"empty_like", "new_empty", "new_empty_strided", "empty_strided", "empty", "empty_permuted"}
# entries that draw random numbers: ember's generator is torch's, so both run right after the same seed
# (torch's own wrapper_set_seed does that for most; the harness does it for the in-place variants too)
DRAWS = {"cauchy", "exponential", "geometric", "log_normal", "normal", "uniform", "nn.functional.rrelu",
         "randn", "randn_like", "rand_like", "randint", "randint_like", "multinomial", "bernoulli",
         "nn.functional.dropout", "nn.functional.dropout2d", "nn.functional.dropout3d",
         "nn.functional.alpha_dropout", "nn.functional.feature_alpha_dropout"}


def key(op) -> str:
    """An entry's name in the known-gaps list and the doc: ``name`` or ``name:variant``."""
    return op.name + (f":{op.variant_test_name}" if op.variant_test_name else "")


OPS = {key(op): op for op in op_db}


class Missing(Exception):
    """ember has no counterpart for the entry at all."""


def _lookup(path: str):
    obj = ember
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj if callable(obj) else None


def ember_callable(fn, name: str):
    """ember's counterpart of one of torch's callables (``name`` is the OpInfo's dotted name)."""
    if isinstance(fn, functools.partial):
        inner = ember_callable(fn.func, name)
        return functools.partial(inner, *to_ember(fn.args), **to_ember(fn.keywords))
    if isinstance(fn, types.FunctionType) and fn.__module__.startswith("torch.testing"):
        return on_ember(fn)
    attr = getattr(fn, "__name__", None)
    if attr and getattr(torch.Tensor, attr, None) is fn:
        found = getattr(ember.Tensor, attr, None)
    else:
        # a dotted name (nn.functional.X, linalg.X) only under that namespace; torch.X also as aten's name
        found = _lookup(name) or ("." not in name and attr and _lookup(attr)) or None
    if found is None:
        raise Missing(f"no ember counterpart of {name}")
    return found


def _samples(gen, cap):
    try:
        return list(itertools.islice(gen, cap))
    except NotImplementedError:
        return []


def _forward(op, efn, sample, what, random, canon=None):
    """Call both on one sample; same result, or the same exception class (``canon`` maps each result to
    what torch specifies of it, for ops whose documentation leaves a choice to the implementation)."""
    eargs = to_ember((sample.input, sample.args, sample.kwargs))
    if random == "draws":
        op, efn = _seeded_call(op, torch), _seeded_call(efn, ember)
    try:
        expected = op(sample.input, *sample.args, **sample.kwargs)
    except Exception as exc:  # torch refuses the sample: ember must refuse it the same way
        try:
            efn(eargs[0], *eargs[1], **eargs[2])
        except type(exc):
            return
        except Exception as mine:
            raise AssertionError(f"{what}: raised {short(mine)}; torch raises {type(exc).__name__}") from None
        raise AssertionError(f"{what}: no error; torch raises {short(exc)}")
    actual = to_torch(efn(eargs[0], *eargs[1], **eargs[2]))
    if random == "shape":
        expected = _shape_only(expected)
        actual = _shape_only(actual)
    if canon is not None:
        expected, actual = canon(sample, expected), canon(sample, actual)
    try:
        assert_same(actual, expected, what)
    except AssertionError:
        if not (_as_accurate(op, sample, actual, expected) or _arbitrated(op, sample, actual, expected)):
            raise


def _as_accurate(op, sample, actual, expected) -> bool:
    """A float32 result that differs from torch's may still be right: it passes when it is no farther
    from the float64 answer (torch's, on the same inputs in float64) than torch's own float32 result
    is, give or take float32's tolerance (torch's and ember's BLAS/LAPACK round differently)."""
    exp, act = tensors(plain(expected)), tensors(actual)
    if not exp or len(exp) != len(act) or any(e.dtype not in (torch.float32, torch.complex64) for e in exp):
        return False
    if any(a.shape != e.shape or a.dtype != e.dtype for a, e in zip(act, exp)):
        return False
    up = _map(lambda t: t.detach().to(torch.complex128 if t.is_complex() else torch.float64)
              if t.is_floating_point() or t.is_complex() else t, (sample.input, sample.args, sample.kwargs))
    try:
        truth = tensors(plain(op(up[0], *up[1], **up[2])))
    except Exception:  # noqa: BLE001  (no float64 answer: no arbitration)
        return False
    if len(truth) != len(exp):
        return False
    for a, e, t in zip(act, exp, truth):
        if t.shape != e.shape:
            return False
        slack = float((e.to(t.dtype) - t).abs().nan_to_num(0).max()) if t.numel() else 0.0
        try:
            torch.testing.assert_close(a.to(t.dtype), t, rtol=1.3e-6, atol=1e-5 + slack, equal_nan=True)
        except AssertionError:
            return False
    return True


def _mp(f):
    import mpmath
    return lambda x: float(f(mpmath, mpmath.mpf(x)))


# torch's float64 values are known inaccurate in places (see known_gaps' history); mpmath decides there
ORACLE = {"special.airy_ai": _mp(lambda m, x: m.airyai(x)), "special.bessel_j0": _mp(lambda m, x: m.besselj(0, x)),
          "special.bessel_y1": _mp(lambda m, x: m.bessely(1, x)), "special.bessel_j1": _mp(lambda m, x: m.besselj(1, x)),
          "special.bessel_y0": _mp(lambda m, x: m.bessely(0, x))}


def _arbitrated(op, sample, actual, expected) -> bool:
    """Where ember and torch disagree on a float64 special function, both are held to mpmath's value at
    those inputs: ember must agree with it (to 1e-12 relative), and torch must not (else ember is wrong)."""
    f = ORACLE.get(getattr(op, "name", None))
    if f is None or not isinstance(expected, torch.Tensor) or expected.dtype != torch.float64:
        return False
    if not isinstance(actual, torch.Tensor) or actual.shape != expected.shape:
        return False
    x = sample.input.detach().expand(expected.shape)
    off = ~torch.isclose(actual, expected, rtol=1e-7, atol=1e-7, equal_nan=True)
    for xi, a, e in zip(x[off].tolist(), actual[off].tolist(), expected[off].tolist()):
        truth = f(xi)
        if abs(a - truth) > 1e-12 * max(1.0, abs(truth)) or abs(e - truth) <= 1e-7 * max(1.0, abs(truth)):
            return False
    return True


def _seeded_call(fn, lib):
    """``fn`` called right after ``lib.manual_seed(42)``, the generator's state put back after."""
    def call(*args, **kwargs):
        state = lib.get_rng_state()
        lib.manual_seed(42)
        try:
            return fn(*args, **kwargs)
        finally:
            lib.set_rng_state(state)
    return call


def _ties(values: bool, distinct: bool, sig: tuple):
    """A canonical form of an index-returning op's result for which torch leaves the choice among equal
    values to the implementation (sort/argsort unless ``stable=True``, topk, kthvalue): each index is
    replaced by the input value it points to, plus whether the indices along ``dim`` are distinct, so
    any valid choice compares equal to torch's and an invalid one does not."""
    def canon(sample, result):
        bound = dict(zip(sig, sample.args), **sample.kwargs)
        if bound.get("stable"):
            return result
        x, dim = sample.input, bound.get("dim", -1)
        idx = result[1] if values else result
        if x.dim() == 0:
            picked = x.expand(idx.shape)
            ok = torch.tensor(True)
        else:
            keep = idx.dim() == x.dim()  # kthvalue without keepdim drops dim
            full = idx if keep else idx.unsqueeze(dim)
            picked = x.gather(dim, full)
            ordered = full.sort(dim).values
            ok = (ordered.diff(dim=dim) != 0).all() if distinct and ordered.shape[dim] > 1 else torch.tensor(True)
            picked = picked if keep else picked.squeeze(dim)
        return [result[0], picked, ok] if values else [picked, ok]
    return canon


def _gauge(basis: int, *partners: int):
    """A canonical form of a decomposition whose vectors are unique only up to a unit factor per column
    (eigenvectors; singular vectors up to a shared one): each column of ``result[basis]`` (and of the
    ``partners`` sharing its factor) is rotated so that its product with a fixed positive vector is
    real and positive. Both sides then compare as torch's documentation defines them."""
    def canon(sample, result):
        result = list(result)
        v = result[basis]
        weights = torch.linspace(1, 2, v.shape[-2], dtype=v.real.dtype).reshape(-1, 1)
        c = (v * weights).sum(-2, keepdim=True)
        unit = c / c.abs().clamp_min(torch.finfo(c.real.dtype).tiny)
        for i in (basis, *partners):
            result[i] = result[i] * unit.conj() if result[i].is_complex() else result[i] * unit
        return result
    return canon


TIES = {"sort": _ties(True, True, ("dim", "descending")), "argsort": _ties(False, True, ("dim", "descending")),
        "topk": _ties(True, True, ("k", "dim", "largest", "sorted")),
        "kthvalue": _ties(True, False, ("k", "dim", "keepdim"))}
CANON = {**TIES, "linalg.eigh": _gauge(1), "linalg.eig": _gauge(1), "svd_lowrank": _gauge(0, 2),
         "pca_lowrank": _gauge(0, 2)}


def _shape_only(x):
    if isinstance(x, torch.Tensor):
        return torch.zeros(x.shape, dtype=x.dtype)
    if isinstance(x, (list, tuple)):
        return [_shape_only(v) for v in x]
    return x


def _grads(op, efn, sample, gradgrad: bool, gen: torch.Generator):
    """Gradients (and, with ``gradgrad``, second derivatives) of torch and ember for one sample."""
    ein, ea, ekw = to_ember((sample.input, sample.args, sample.kwargs))
    tins = [t for t in tensors((sample.input, sample.args, sample.kwargs)) if t.requires_grad]
    eins = [t for t in tensors((ein, ea, ekw)) if t.requires_grad]
    tout = sample.output_process_fn_grad(op(sample.input, *sample.args, **sample.kwargs))
    process = sample.output_process_fn_grad
    if isinstance(process, types.FunctionType):
        process = on_ember(process)
    eout = process(efn(ein, *ea, **ekw))
    touts, eouts = tensors(tout), tensors(eout)
    pick = [i for i, t in enumerate(touts) if t.requires_grad and t.dtype.is_floating_point]
    if not pick or not tins:
        return None
    assert len(eouts) == len(touts), f"{len(eouts)} outputs, torch has {len(touts)}"
    for i in pick:
        assert eouts[i].requires_grad, f"output {i} does not require grad"
    cots = [torch.randn(touts[i].shape, dtype=touts[i].dtype, generator=gen) for i in pick]
    tg = torch.autograd.grad([touts[i] for i in pick], tins, cots, allow_unused=True, create_graph=gradgrad)
    eg = ember.autograd.grad([eouts[i] for i in pick], eins, to_ember(cots), allow_unused=True,
                             create_graph=gradgrad)
    first = ([_zero_none(g, t) for g, t in zip(tg, tins)], [_zero_none(to_torch(g), t) for g, t in zip(eg, tins)],
             pick, cots)
    if not gradgrad:
        return first, None
    tpick = [i for i, g in enumerate(tg) if g is not None and g.requires_grad]
    if not tpick:
        return first, None
    cots2 = [torch.randn(tg[i].shape, dtype=tg[i].dtype, generator=gen) for i in tpick]
    epick = [(eg[i], c) for i, c in zip(tpick, cots2) if eg[i] is not None and eg[i].requires_grad]
    try:
        tgg = torch.autograd.grad([tg[i] for i in tpick], tins, cots2, allow_unused=True)
    except RuntimeError:  # torch has no second derivative here: ember must refuse it too
        try:
            if epick:
                ember.autograd.grad([g for g, _ in epick], eins, [to_ember(c) for _, c in epick], allow_unused=True)
        except RuntimeError:
            return first, None
        raise AssertionError("second derivative: torch raises RuntimeError, ember computes one") from None
    egg = (ember.autograd.grad([g for g, _ in epick], eins, [to_ember(c) for _, c in epick], allow_unused=True)
           if epick else [None] * len(eins))
    second = ([_zero_none(g, t) for g, t in zip(tgg, tins)], [_zero_none(to_torch(g), t) for g, t in zip(egg, tins)])
    return first, second


def _torch_wrong(op, cls: str, test: str) -> bool:
    """torch's database marks its own result of this check as an expected failure (a known torch bug)."""
    return any(getattr(d, "cls_name", None) == cls and d.test_name == test and unittest.expectedFailure in d.decorators
               and d.device_type in (None, "cpu") for d in op.decorators)


def _directional(op, sample, grads, pick, cots, eps: float = 1e-6) -> None:
    """Where torch's own gradient is wrong, ember's is checked against central differences of torch's
    forward instead: along random directions d, <grad, d> = <cotangent, (f(x + eps d) - f(x - eps d)) / 2 eps>."""
    gen = torch.Generator().manual_seed(1)
    structure = (sample.input, sample.args, sample.kwargs)
    tins = [t for t in tensors(structure) if t.requires_grad]
    for _ in range(3):
        d = {id(t): torch.randn(t.shape, dtype=t.dtype, generator=gen) for t in tins}
        at = [_map(lambda t, k=k: t.detach() + k * eps * d[id(t)] if id(t) in d else t, structure) for k in (1, -1)]
        with torch.no_grad():
            outs = [tensors(sample.output_process_fn_grad(op(a[0], *a[1], **a[2]))) for a in at]
        rhs = sum(float((c * (outs[0][i] - outs[1][i])).sum()) for i, c in zip(pick, cots)) / (2 * eps)
        lhs = sum(float((g * d[id(t)]).sum()) for g, t in zip(grads, tins))
        assert abs(lhs - rhs) <= 1e-5 * (1 + abs(rhs)), \
            f"gradient along a random direction {lhs:.10g}; central differences of torch's forward {rhs:.10g}"


def _tangents(op, efn, sample, gen: torch.Generator):
    """Forward-mode tangents of torch and ember for one sample (a random tangent per differentiable input)."""
    import torch.autograd.forward_ad as tfw
    import ember.autograd.forward_ad as efw
    structure = (sample.input, sample.args, sample.kwargs)
    tins = [t for t in tensors(structure) if t.requires_grad]
    if not tins:
        return None
    tangent = {id(t): torch.randn(t.shape, dtype=t.dtype, generator=gen) for t in tins}
    memo: dict = {}
    estructure = to_ember(structure, memo)
    mine = {id(memo[k][1]): to_ember(v) for k, v in tangent.items()}
    process = sample.output_process_fn_grad
    eprocess = on_ember(process) if isinstance(process, types.FunctionType) else process
    found = []
    for lib, fw, fn, tree, tans, proc in ((torch, tfw, op, structure, tangent, process),
                                          (ember, efw, efn, estructure, mine, eprocess)):
        with fw.dual_level():
            inp, args, kwargs = _map(lambda t: fw.make_dual(t.detach(), tans[id(t)]) if id(t) in tans else t, tree)
            outs = tensors(proc(fn(inp, *args, **kwargs)))
            found.append([fw.unpack_dual(o).tangent if o.dtype.is_floating_point else None for o in outs])
    want, got = found
    assert len(got) == len(want), f"{len(got)} outputs, torch has {len(want)}"
    for i, (t, e) in enumerate(zip(want, got)):
        if t is not None:
            assert e is not None, f"output {i} has no tangent"
    return ([t.detach() for t in want if t is not None],
            [to_torch(e).detach() for e, t in zip(got, want) if t is not None])


def _map(fn, tree):
    """``tree`` with ``fn`` applied to each tensor (tuples, lists and dicts rebuilt)."""
    if isinstance(tree, (torch.Tensor, ember.Tensor)):
        return fn(tree)
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(_map(fn, v) for v in tree))
    if isinstance(tree, (list, tuple)):
        return type(tree)(_map(fn, v) for v in tree)
    if isinstance(tree, dict):
        return {k: _map(fn, v) for k, v in tree.items()}
    return tree


def _zero_none(g, like):
    return torch.zeros_like(like).detach() if g is None else g.detach()


def check_entry(op) -> dict:
    """Run every check on one OpInfo; the failing ones, each with a one-line reason."""
    try:
        efn = ember_callable(op.op, op.name)
    except Missing as exc:
        return {"missing": str(exc)}
    failures = {}
    random = "shape" if op.name in RANDOM else "draws" if op.name in DRAWS else None
    canon = CANON.get(key(op))
    supported = op.supported_dtypes("cpu")
    floats = [d for d in (torch.float32, torch.float64) if d in supported]

    def run(check, body):
        try:
            body()
        except Unconvertible as exc:
            failures[check] = f"unsupported argument: {exc}"
        except Missing as exc:
            failures[check] = str(exc)
        except Exception as exc:
            failures[check] = short(exc)

    def forward():
        for dtype in floats:
            for i, s in enumerate(_samples(op.sample_inputs("cpu", dtype, requires_grad=False, set_seed=False), CAPS["forward"])):
                _forward(op, efn, s, f"{dtype} sample {i}", random, canon)

    def ints():
        for dtype in (d for d in INT_DTYPES if d in supported):
            for i, s in enumerate(_samples(op.sample_inputs("cpu", dtype, requires_grad=False, set_seed=False), CAPS["int"])):
                _forward(op, efn, s, f"{dtype} sample {i}", random, canon)

    def backward(gradgrad):
        gen = torch.Generator().manual_seed(0)
        cap = CAPS["gradgrad" if gradgrad else "backward"]
        for i, s in enumerate(_samples(op.sample_inputs("cpu", torch.float64, requires_grad=True, set_seed=False), cap)):
            got = _grads(op, efn, s, gradgrad, gen)
            if got is None:
                continue
            first, second = got
            if gradgrad:
                if second is not None:
                    assert_same(second[1], second[0], f"sample {i} second derivative")
            elif _torch_wrong(op, "TestBwdGradients", "test_fn_grad"):
                _directional(op, s, *first[1:])
            else:
                assert_same(first[1], first[0], f"sample {i} gradient")

    def fwad():
        gen = torch.Generator().manual_seed(0)
        for i, s in enumerate(_samples(op.sample_inputs("cpu", torch.float64, requires_grad=True, set_seed=False),
                                       CAPS["fwad"])):
            got = _tangents(op, efn, s, gen)
            if got is not None:
                assert_same(got[1], got[0], f"sample {i} tangent")

    def errors():
        if op.error_inputs_func is None:
            return
        cases = []
        for e in _samples(op.error_inputs("cpu"), CAPS["errors"]):  # all made ember's before torch runs any:
            s = e.sample_input  # a call torch refuses may still resize an out= the next cases share
            try:
                cases.append((e, *to_ember(((s.input, *s.args), s.kwargs))))
            except TooManyDims as exc:  # ember cannot build the input: its factories must refuse it as torch's op
                cases.append((e, exc, None))
            except Unconvertible:  # a case built on a dtype ember lacks (complex): that gap is listed apart
                cases.append(None)
        for i, case in enumerate(cases):
            if case is None:
                continue
            e, args, kwargs = case
            s = e.sample_input
            try:  # torch's database marks some error inputs as expected failures: torch itself must raise
                op(s.input, *s.args, **s.kwargs)
                continue
            except e.error_type:
                pass
            except Exception:  # noqa: BLE001  (torch raises another class: ember is held to the listed one)
                pass
            if isinstance(args, TooManyDims):
                try:
                    ember.zeros([1] * max(t.dim() for t in tensors((s.input, s.args, s.kwargs))))
                except e.error_type:
                    continue
                except Exception as mine:
                    raise AssertionError(f"error input {i} ({args}): ember.zeros raises {short(mine)}; torch "
                                         f"raises {e.error_type.__name__}") from None
                raise AssertionError(f"error input {i}: ember builds {args}") from None
            try:
                efn(*args, **kwargs)
            except e.error_type:
                continue
            except Exception as exc:
                raise AssertionError(f"error input {i}: raised {short(exc)}; torch raises "
                                     f"{e.error_type.__name__}") from None
            raise AssertionError(f"error input {i}: no error; torch raises {e.error_type.__name__}: "
                                 f"{e.error_regex}"[:300])

    def reference():
        if op.reference_inputs_func is None:
            return
        dtype = torch.float64 if torch.float64 in supported else (floats or [None])[0]
        if dtype is None:
            return
        every = list(op.reference_inputs("cpu", dtype, requires_grad=False, set_seed=False))
        for i, s in enumerate(every[-CAPS["reference"]:]):
            _forward(op, efn, s, f"reference input {len(every) - CAPS['reference'] + i}", random, canon)

    def variants():
        dtype = (floats or [d for d in INT_DTYPES if d in supported] or [None])[0]
        if dtype is None:
            return
        s = _samples(op.sample_inputs("cpu", dtype, requires_grad=False, set_seed=False), 1)
        for variant in (op.method_variant, op.inplace_variant):
            if variant is None or not s:
                continue
            name = variant.__name__ if hasattr(variant, "__name__") else "partial"
            if name in ("<lambda>", "partial"):  # torch's lambda or partial around F.X(..., inplace=True)
                mine, name = ember_callable(variant, op.name), f"{op.name} in-place variant"
            else:
                mine = getattr(ember.Tensor, name, None)
                if mine is None:
                    raise Missing(f"no Tensor.{name}")
                name = f"Tensor.{name}"
            _forward(variant, mine, s[0], name, random, canon)

    run("forward", forward)
    if any(d in supported for d in INT_DTYPES):
        run("int", ints)
    if op.supports_autograd and random != "shape" and torch.float64 in op.supported_backward_dtypes("cpu"):
        run("backward", lambda: backward(False))
        if op.supports_gradgrad:
            run("gradgrad", lambda: backward(True))
        if op.supports_forward_ad:
            run("fwad", fwad)
    run("errors", errors)
    run("reference", reference)
    run("variants", variants)
    return failures


def compare_with_gaps(entry: str, check, gaps: dict, suite: str) -> None:
    """Run ``check()``; fail on a failure that is not listed, and on a listed one that now passes.

    With ``EMBER_CONFORMANCE_RECORD=file`` each entry's failures are also appended to that file
    (JSON lines), from which ``tools/gen_conformance_doc.py --gaps`` rewrites the known-gaps lists.
    """
    start = time.perf_counter()
    failures = check()
    record = os.environ.get("EMBER_CONFORMANCE_RECORD")
    if record:
        with open(record, "a") as f:
            f.write(json.dumps({"suite": suite, "entry": entry, "failures": failures,
                                "seconds": round(time.perf_counter() - start, 2)}) + "\n")
    listed = gaps.get(entry, {})
    if "missing" in listed and "missing" in failures:
        return
    new = {c: m for c, m in failures.items() if c not in listed}
    fixed = [c for c in listed if c not in failures]
    msgs = [f"{c} fails and is not in the known gaps: {m}" for c, m in new.items()]
    msgs += [f"{c} passes now: remove it from the known gaps" for c in fixed]
    assert not msgs, f"{entry}: " + "; ".join(msgs)


@pytest.mark.parametrize("entry", list(OPS))
def test_op_db(entry):
    torch.manual_seed(0)
    with torch.random.fork_rng():
        compare_with_gaps(entry, lambda: check_entry(OPS[entry]), GAPS, "ops")
