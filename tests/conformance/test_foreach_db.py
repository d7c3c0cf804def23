"""Every entry of torch's foreach op databases (unary, binary, pointwise, reduce, other), run on ember's
``_foreach_*`` with torch's own sample inputs.

Each entry is checked against torch for every CPU dtype the OpInfo lists: the out-of-place results, the
in-place form (the lists it writes and the list it returns), gradients (through the out-of-place form,
and through the in-place one on non-leaf copies where torch supports that), and error cases made from
each entry's first sample (an empty list, a list one short, a non-tensor element, mismatched shapes),
which torch's database does not provide: ember must raise torch's exception class, or agree with torch
where torch accepts the call. Failing checks are listed in ``known_gaps_foreach.py``; a listed one that
passes fails the suite.
"""
from __future__ import annotations

import itertools

import pytest
import torch
from torch.testing._internal.common_methods_invocations import (
    foreach_binary_op_db, foreach_other_op_db, foreach_pointwise_op_db, foreach_reduce_op_db, foreach_unary_op_db)
from torch.testing._internal.opinfo.core import SampleInput

import ember
from .harness import assert_same, short, tensors, to_ember, to_torch
from .known_gaps_foreach import GAPS
from .test_op_db import _forward, _grads, compare_with_gaps

DB = [*foreach_unary_op_db, *foreach_binary_op_db, *foreach_pointwise_op_db, *foreach_reduce_op_db,
      *foreach_other_op_db]
OPS = {op.name: op for op in DB}
# torch's generators make lists of 20 and 23 tensors; two tensors reach the same code paths at a tenth of the time
SMALL = {"num_input_tensors": [2]}
CAP = 6  # samples per dtype: every rightmost-argument kind of the binary entries is among the first six


def _samples(op, dtype, requires_grad=False) -> list:
    try:
        gen = op.sample_inputs("cpu", dtype, requires_grad=requires_grad, **SMALL)
        first = list(itertools.islice(gen, CAP))
    except TypeError:  # _foreach_mm's generator takes no list length
        first = list(itertools.islice(op.sample_inputs("cpu", dtype, requires_grad=requires_grad), 2))
    return first + list(op.sample_zero_size_inputs("cpu", dtype, requires_grad))[:1]


def _ember_fn(fn):
    found = getattr(ember, fn.__name__, None)
    if found is None:
        raise AssertionError(f"no ember.{fn.__name__}")
    return found


def _inplace(op, sample, what: str) -> None:
    """The in-place form on both: the same exception class, or the same lists written and ``self`` returned."""
    s = _copy(sample)
    ein, eargs, ekw = to_ember((s.input, s.args, s.kwargs))
    efn = _ember_fn(op.inplace_variant)
    try:
        op.inplace_variant(s.input, *s.args, **s.kwargs)
    except Exception as exc:
        try:
            efn(ein, *eargs, **ekw)
        except type(exc):
            return
        except Exception as mine:
            raise AssertionError(f"{what}: raised {short(mine)}; torch raises {short(exc)}") from None
        raise AssertionError(f"{what}: no error; torch raises {short(exc)}")
    got = efn(ein, *eargs, **ekw)
    assert got is ein, f"{what}: returns {type(got).__name__}, not its self list as torch"
    assert_same(to_torch(ein), s.input, f"{what} self")


def _copy(sample):
    """A sample whose tensors are fresh copies (an in-place call must not reach the database's own)."""
    def cp(x):
        if isinstance(x, torch.Tensor):
            return x.detach().clone()
        if isinstance(x, (list, tuple)):
            return type(x)(cp(v) for v in x)
        if isinstance(x, dict):
            return {k: cp(v) for k, v in x.items()}
        return x
    return SampleInput(cp(sample.input), args=cp(sample.args), kwargs=cp(sample.kwargs))


def _inplace_grads(op, sample, gen) -> None:
    """Gradients through the in-place form, applied to non-leaf copies of the leaves (as torch allows)."""
    def run(lib, fn, inp, args, kwargs):
        leaves = [t for t in tensors((inp, args, kwargs)) if t.requires_grad]
        mine = [t.clone() for t in inp]
        fn(mine, *args, **kwargs)
        return leaves, mine
    ein, eargs, ekw = to_ember((sample.input, sample.args, sample.kwargs))
    tl, tout = run(torch, op.inplace_variant, sample.input, sample.args, sample.kwargs)
    el, eout = run(ember, _ember_fn(op.inplace_variant), ein, eargs, ekw)
    cots = [torch.randn(t.shape, dtype=t.dtype, generator=gen) for t in tout]
    tg = torch.autograd.grad(tout, tl, cots, allow_unused=True)
    eg = ember.autograd.grad(eout, el, to_ember(cots), allow_unused=True)
    zero = [torch.zeros_like(t).detach() for t in tl]
    assert_same([z if g is None else to_torch(g) for g, z in zip(eg, zero)],
                [z if g is None else g for g, z in zip(tg, zero)], "in-place gradient")


def _torch_differentiates(op, sample, inplace: bool) -> bool:
    """torch computes gradients for this sample (it refuses some: a bool scalar in ``_foreach_sub``, whose
    forward check covers the refusal; the backward of a zero-size ``_foreach_addcdiv`` fails inside torch)."""
    try:
        if inplace:
            outs = [t.clone() for t in sample.input]
            op.inplace_variant(outs, *sample.args, **sample.kwargs)
        else:
            outs = op.op(sample.input, *sample.args, **sample.kwargs)
        leaves = [t for t in tensors((sample.input, sample.args, sample.kwargs)) if t.requires_grad]
        outs = [t for t in outs if t.requires_grad]
        if outs:
            torch.autograd.grad(outs, leaves, [torch.ones_like(t) for t in outs], allow_unused=True)
    except (RuntimeError, IndexError):
        return False
    return True


def _error_cases(sample) -> list:
    """Calls made from one sample that torch's foreach checks (or the per-tensor op) refuse or must agree on."""
    inp, args, kw = sample.input, list(sample.args), dict(sample.kwargs)
    cases = [("empty self", SampleInput([], args=tuple(args), kwargs=kw)),
             ("self one short", SampleInput(inp[:-1], args=tuple(args), kwargs=kw)),
             ("non-tensor in self", SampleInput([*inp[:-1], 1.0], args=tuple(args), kwargs=kw))]
    for i, a in enumerate(args):
        if isinstance(a, (list, tuple)) and a:
            cases.append((f"argument {i + 1} one short", SampleInput(inp, args=(*args[:i], a[:-1], *args[i + 1:]),
                                                                     kwargs=kw)))
            if isinstance(a[0], torch.Tensor):
                odd = [*a[:-1], torch.zeros(a[-1].numel() + 3, dtype=a[-1].dtype)]
                cases.append((f"argument {i + 1} misshapen", SampleInput(inp, args=(*args[:i], odd, *args[i + 1:]),
                                                                         kwargs=kw)))
        elif isinstance(a, torch.Tensor) and a.dim() == 0:
            cases.append((f"argument {i + 1} not 0-dim", SampleInput(inp, args=(*args[:i], a.reshape(1).expand(2),
                                                                            *args[i + 1:]), kwargs=kw)))
    for k, v in kw.items():
        if isinstance(v, (list, tuple)) and v:
            cases.append((f"{k}= one short", SampleInput(inp, args=tuple(args), kwargs={**kw, k: v[:-1]})))
    return cases


def check_entry(op) -> dict:
    """Run every check on one foreach OpInfo; the failing ones, each with a one-line reason."""
    failures = {}
    dtypes = sorted(op.supported_dtypes("cpu"), key=str)
    efn = _ember_fn(op.op)

    def run(check, body):
        try:
            body()
        except Exception as exc:  # noqa: BLE001  (each check's failure is reported, not raised)
            failures[check] = short(exc)

    def forward(dtype):
        for i, s in enumerate(_samples(op, dtype)):
            _forward(op.op, efn, _copy(s), f"{dtype} sample {i}", None)

    def inplace(dtype):
        for i, s in enumerate(_samples(op, dtype)):
            _inplace(op, s, f"{dtype} sample {i} in place")

    def backward():
        gen = torch.Generator().manual_seed(0)
        inplace_only = op.op is op.inplace_variant  # _foreach_zero_: no out-of-place form to differentiate
        for i, s in enumerate(_samples(op, torch.float64, requires_grad=True)):
            if not _torch_differentiates(op, s, inplace_only):
                continue
            if not inplace_only:
                got = _grads(op.op, efn, s, False, gen)
                if got is not None:
                    assert_same(got[0][1], got[0][0], f"sample {i} gradient")
            if op.inplace_variant is not None and (op.supports_inplace_autograd or inplace_only):
                _inplace_grads(op, s, gen)

    def errors():
        for s in _samples(op, torch.float32)[:CAP]:
            for what, case in _error_cases(s):
                _forward(op.op, efn, case, what, None)
                if op.inplace_variant is not None:
                    _inplace(op, case, f"{what} in place")

    for dtype in dtypes:
        run(str(dtype).split(".")[1], lambda: forward(dtype))
        if op.inplace_variant is not None and op.inplace_variant is not op.op:
            run(f"{str(dtype).split('.')[1]} in place", lambda: inplace(dtype))
    if op.supports_autograd:
        run("backward", backward)
    run("errors", errors)
    return failures


@pytest.mark.parametrize("entry", list(OPS))
def test_foreach_db(entry):
    torch.manual_seed(0)
    with torch.random.fork_rng():
        compare_with_gaps(entry, lambda: check_entry(OPS[entry]), GAPS, "foreach")


def test_all_foreach_functions():
    """ember publishes each of torch's _foreach_* functions, and no other."""
    assert sorted(n for n in dir(ember) if n.startswith("_foreach")) == \
        sorted(n for n in dir(torch) if n.startswith("_foreach"))


@pytest.mark.parametrize("ord_", [0, 1, 2, 3, 0.5, float("inf"), -1])
def test_foreach_powsum(ord_):
    """_foreach_powsum (in no database): the sum of |x| ** ord per tensor, in the dtype asked for."""
    xs = [torch.tensor([0.0, 1.0, -2.0, 0.5]), torch.randn(3, 2, generator=torch.Generator().manual_seed(1))]
    assert_same(to_torch(ember._foreach_powsum(to_ember(xs), ord_)), torch._foreach_powsum(xs, ord_))
    assert_same(to_torch(ember._foreach_powsum(to_ember(xs), ord_, dtype=ember.float64)),
                torch._foreach_powsum(xs, ord_, dtype=torch.float64))


# calls outside the databases' samples: torch's argument parsing (which overload, what it refuses) and the
# ways programs call these (timm's EMA by lerp_ or mul_/add_ with alpha=, gradient clipping by a 0-dim tensor)
CALLS = ["_foreach_add(a, 1, alpha=2)", "_foreach_add(a, b, 2)", "_foreach_add(a[0], 1)", "_foreach_add(a, 'x')",
         "_foreach_add(a, [1, b[0]])", "_foreach_add(a, z1)", "_foreach_mul(a, z1)", "_foreach_add(a, z0, alpha=2)",
         "_foreach_sub(a, z0)", "_foreach_maximum(a, z0)", "_foreach_add(a, [1, 2.5j])", "_foreach_add(a, other=b)",
         "_foreach_add(a, scalar=2)", "_foreach_add(a, [])", "_foreach_addcmul(a, b, b, z2)",
         "_foreach_addcmul(a, b, b, z2.reshape(1, 2))", "_foreach_addcmul(a, b, b, z1.expand(3))",
         "_foreach_addcdiv_(a, b, c, value=-0.5)", "_foreach_lerp_(a, b, weight=0.25)", "_foreach_lerp(a, b, z0)",
         "_foreach_mul_(a, 0.9)", "_foreach_add_(a, b, alpha=0.1)", "_foreach_mul_(a, z0)", "_foreach_norm(a, 'fro')",
         "_foreach_norm(a, 2.0, float64)", "_foreach_norm(a, ord=inf)", "_foreach_pow(2, a)", "_foreach_pow(2, [])",
         "_foreach_copy_(a, b, True)", "_foreach_copy_(a, [b[0], z1])", "_foreach_clone(a, memory_format=cf)",
         "_foreach_max([z1[:0]])", "_foreach_zero_(tuple(a))", "_foreach_mm(a, b)", "_foreach_exp(a, 1)"]


@pytest.mark.parametrize("call", CALLS)
def test_foreach_call(call):
    """One call on torch and on ember: the same result (and lists written in place), or torch's exception class."""
    gen = torch.Generator().manual_seed(2)
    lists = {k: [torch.randn(2, 3, generator=gen), torch.rand(2, generator=gen) + 0.5] for k in "abc"}
    env = {**lists, "z0": torch.tensor(0.5), "z1": torch.tensor([0.5]), "z2": torch.tensor([2.0, -1.0]),
           "inf": float("inf"), "float64": torch.float64, "cf": torch.contiguous_format}
    mine = to_ember(env)
    try:
        want = eval("torch." + call, {"torch": torch}, env)
    except Exception as exc:
        with pytest.raises(type(exc)):
            eval("ember." + call, {"ember": ember}, mine)
        return
    got = eval("ember." + call, {"ember": ember}, mine)
    assert_same(to_torch(got), want, call)
    assert_same(to_torch([mine[k] for k in "abc"]), [env[k] for k in "abc"], f"{call}: lists after")
