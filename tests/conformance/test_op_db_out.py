"""``out=`` on every op_db entry torch marks ``supports_out``, run on ember and torch with torch's sample inputs.

For the first samples in float32, float64 and one integer dtype each entry is called with an ``out`` of the
result's shape and dtype; both libraries must agree on the values written, the dtype and shape of ``out``,
whether the returned object is ``out`` itself (each element of a tuple ``out``) and how far ``out``'s version
counter moved, or raise the same exception class. On the first float32 sample it is also called with a
misshapen ``out`` (torch resizes it, warning when it held elements) and with an ``out`` of another dtype
(cast where torch's rule allows, else RuntimeError). An entry that fails must be listed in ``GAPS`` with its
reason, and a listed one that passes fails the suite, so the list only shrinks.
"""
from __future__ import annotations

import itertools
import warnings

import pytest
import torch
from torch.testing._internal.common_methods_invocations import op_db

import ember
from .harness import Unconvertible, assert_same, short, to_ember, to_torch
from .test_op_db import (CANON, DRAWS, INT_DTYPES, RANDOM, Missing, _arbitrated, _as_accurate, _seeded_call,
                         ember_callable, key)

SAMPLES = 2
OUT_OPS = {key(op): op for op in op_db if op.supports_out}

# entries whose out= ember does not match yet: name -> reason
_SILENT_RESIZE = "torch resizes a misshapen out without its deprecation warning; ember warns"
_PRIVATE = "aten-level op whose ember function takes no out= (it is not published through ember.X)"
GAPS: dict = {
    "torch._scaled_mm": "no ember counterpart", "torch._scaled_mm_v2": "no ember counterpart",
    "_chunk_cat": _PRIVATE, "_native_batch_norm_legit": _PRIVATE, "native_batch_norm": _PRIVATE,
    "_batch_norm_with_update": "torch's binding matches no schema with out= (RuntimeError); ember: TypeError",
    "addbmm": _SILENT_RESIZE, "lu": _SILENT_RESIZE, "narrow_copy": _SILENT_RESIZE,
    "nn.functional.logsigmoid": _SILENT_RESIZE,
    "nn.functional.linear": "torch warns of a resize even for an out of the right shape; ember does not",
    "kron": "torch's kron writes out without moving its version counter; ember's write moves it",
    "complex": "an empty out is left misshapen (ember.complex's own out= does not resize it)",
    "hash_tensor": "torch wants a uint64 out exactly; ember casts into another dtype",
    "nansum": "an integer out: torch's nansum has no integer kernel (NotImplementedError); ember sums",
    "nanmean": "an integer out: torch raises NotImplementedError (nansum), ember RuntimeError",
    "nonzero": "as_tuple=True: torch refuses a tuple out (TypeError); ember writes it",
    "sparse.sampled_addmm": "torch wants a sparse CSR out; ember writes a strided one",
}


def _out_like(result, dtype=None, shape=None):
    """A zero-filled ``out`` for ``result`` (a tensor or a tuple of them), optionally of another dtype/shape."""
    if isinstance(result, (tuple, list)):
        return tuple(_out_like(r, dtype if i == 0 else None, shape) for i, r in enumerate(result))
    return torch.zeros(result.shape if shape is None else shape, dtype=dtype or result.dtype)


def _flat(x) -> list:
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _outcome(lib, fn, args, kwargs, out, random: bool):
    """What one call with ``out=`` does: (the exception or None, whether each returned tensor is its out, whether
    each out's version moved, whether it warned of a resize)."""
    before = [o._version for o in _flat(out)]
    call = _seeded_call(fn, lib) if random else fn
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            returned = call(*args, **kwargs, out=out)
        except Exception as exc:  # noqa: BLE001  (compared with the other library's)
            return exc, None, None, None
    resized = any("was resized" in str(w.message) for w in seen)
    same = [r is o for r, o in zip(_flat(returned), _flat(out))] if isinstance(returned, (tuple, list)) \
        else [returned is out]
    # whether out's version moved (by how much is torch's implementation detail: a composite writes out twice)
    return None, same, [o._version > b for o, b in zip(_flat(out), before)], resized


def _compare(op, efn, sample, out_t, what: str, computed=None) -> None:
    """One call with ``out=`` on both libraries; ``out_t`` is torch's out (ember gets a copy of it). ``computed``:
    the dtypes the result is computed in before its cast into out, whose tolerance the values are held to."""
    random = key(op) in DRAWS or key(op) in RANDOM
    ein, eargs, ekw = to_ember((sample.input, sample.args, sample.kwargs))
    out_e = to_ember(tuple(o.clone() for o in out_t)) if isinstance(out_t, tuple) else to_ember(out_t.clone())
    exc, same, steps, resized = _outcome(torch, op.op, (sample.input, *sample.args), sample.kwargs, out_t, random)
    mine = _outcome(ember, efn, (ein, *eargs), ekw, out_e, random)
    if exc is not None:
        assert isinstance(mine[0], type(exc)), \
            f"{what}: {short(mine[0]) if mine[0] else 'no error'}; torch raises {short(exc)}"
        return
    if mine[0] is not None:
        raise AssertionError(f"{what}: raised {short(mine[0])}; torch writes out") from None
    assert mine[1] == same, f"{what}: returned-is-out {mine[1]} != torch's {same}"
    assert mine[2] == steps, f"{what}: out's version moved {mine[2]}, torch's {steps}"
    assert mine[3] == resized, f"{what}: resize warning {mine[3]}, torch's {resized}"
    expected, actual = _flat(out_t), [to_torch(o) for o in _flat(out_e)]
    assert [t.dtype for t in actual] == [t.dtype for t in expected], f"{what}: out's dtype changed"
    if random:  # values drawn: shapes and dtypes only
        expected, actual = ([torch.zeros(t.shape, dtype=t.dtype) for t in ts] for ts in (expected, actual))
    if computed:
        expected, actual = ([t.to(d) for t, d in zip(ts, computed)] for ts in (expected, actual))
    canon = CANON.get(key(op))
    if canon is not None and len(expected) > 1 and not computed:  # ties, eigenvector phases: as op_db compares
        expected, actual = canon(sample, expected), canon(sample, actual)
    try:
        assert_same(actual, expected, what)
    except AssertionError:  # op_db's own arbitration of float results that differ from torch's
        if not (len(actual) == 1 and (_as_accurate(op.op, sample, actual[0], expected[0])
                                      or _arbitrated(op, sample, actual[0], expected[0]))):
            raise


def check_entry(op) -> None:
    """Every out= case of one op_db entry; the first difference from torch raises AssertionError."""
    try:
        efn = ember_callable(op.op, op.name)
    except Missing:
        raise AssertionError("no ember counterpart") from None
    supported = op.supported_dtypes("cpu")
    dtypes = [d for d in (torch.float32, torch.float64) if d in supported]
    dtypes += [d for d in INT_DTYPES if d in supported][:1]
    for dtype in dtypes:
        cap = SAMPLES if dtype == dtypes[0] else 1
        samples = list(itertools.islice(op.sample_inputs("cpu", dtype, requires_grad=False), cap))
        for i, s in enumerate(samples):
            try:
                result = op.op(s.input, *s.args, **s.kwargs)
            except Exception:  # noqa: BLE001  (torch refuses the sample itself: op_db's forward checks cover it)
                continue
            if not all(isinstance(t, torch.Tensor) for t in _flat(result)) or not _flat(result):
                continue
            what = f"{dtype} sample {i}"
            try:
                _compare(op, efn, s, _out_like(result), what)
                if i == 0 and dtype == dtypes[0]:
                    _compare(op, efn, s, _out_like(result, shape=(0,)), what + " (empty out)")
                    _compare(op, efn, s, _out_like(result, shape=(3, 1)), what + " (misshapen out)")
                    for other in (torch.float64, torch.int64, torch.complex64):
                        if other != _flat(result)[0].dtype:
                            _compare(op, efn, s, _out_like(result, other), f"{what} (out of {other})",
                                     [t.dtype for t in _flat(result)])
            except Unconvertible:
                continue


@pytest.mark.parametrize("entry", list(OUT_OPS))
def test_out(entry):
    torch.manual_seed(0)
    with torch.random.fork_rng():
        try:
            check_entry(OUT_OPS[entry])
        except AssertionError as e:
            if entry in GAPS:
                return
            raise AssertionError(f"{entry}: {e}") from None
    assert entry not in GAPS, f"{entry} passes now: remove it from GAPS"


@pytest.mark.parametrize("name, call", [
    ("exp", lambda lib, x, out: lib.exp(x, out=out)),
    ("sum", lambda lib, x, out: lib.sum(x, 0, out=out)),
    ("stack", lambda lib, x, out: lib.stack([x, x], out=out)),
    ("sort", lambda lib, x, out: lib.sort(x, out=(out, lib.empty(0, dtype=lib.int64)))),
])
def test_out_refuses_autograd(name, call):
    """out= with an input that requires grad raises under grad mode and writes under no_grad, as torch's."""
    for lib in (torch, ember):
        x = lib.tensor([3.0, 1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
            call(lib, x, lib.empty(0))
    with torch.no_grad(), ember.no_grad():
        t, e = (call(lib, lib.tensor([3.0, 1.0, 2.0], requires_grad=True), lib.empty(0)) for lib in (torch, ember))
    assert_same(to_torch(e), t, name)


def test_out_resize_keeps_the_views_memory():
    """A misshapen out that is a view is resized contiguously from its offset in the same memory, which the
    tensor it views then shows (torch's deprecated resize of an output)."""
    for lib in (torch, ember):
        base = lib.zeros(8)
        with pytest.warns(UserWarning, match="was resized"):
            r = lib.sqrt(lib.tensor([4.0, 9.0, 16.0]), out=base[2::3])
        assert r.shape == (3,) and r.is_contiguous()
        assert base.tolist() == [0.0, 0.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("name, call", [
    ("exp", lambda lib, a, out: lib.exp(a, out=out)),
    ("cumsum", lambda lib, a, out: lib.cumsum(a, 0, out=out)),
    ("clamp", lambda lib, a, out: lib.clamp(a, 1.0, 3.0, out=out)),
])
def test_out_overlapping_an_input(name, call):
    """An out that partly overlaps an input is refused (RuntimeError); the input itself as out is written."""
    for lib in (torch, ember):
        x = lib.arange(6.0)
        with pytest.raises(RuntimeError, match="refer to a single memory location"):
            call(lib, x[:4], x[2:])
    t, e = torch.arange(6.0), ember.arange(6.0)
    assert call(torch, t, t) is t and call(ember, e, e) is e
    assert_same(to_torch(e), t, name)
