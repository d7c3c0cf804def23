"""Differential audit harness: run one small program under torch and under ember and compare what it saw.

A program is ``fn(lib, rec)``; ``rec(t)`` snapshots a tensor (values, grad, ``_version``, ``is_leaf``,
``grad_fn is None``, ``requires_grad``), ``rec.raises(fn)`` records the builtin exception class ``fn``
raises (or "ok"), ``rec.val(x)`` records a plain value. A program that raises records its class too.
"""
import numpy as np


def _exc_class(e: BaseException) -> str:
    """The first builtin exception class in ``e``'s MRO (torch's own subclasses compare by their base)."""
    for cls in type(e).__mro__:
        if cls.__module__ == "builtins":
            return cls.__name__
    return type(e).__name__


def _arr(t):
    if t is None:
        return None
    return np.array(t.detach().resolve_conj().numpy() if hasattr(t, "resolve_conj") else t.detach().numpy(), copy=True)


def leaf(lib, arr):
    """A float64 leaf that requires grad, in ``lib``."""
    return lib.tensor(arr, dtype=lib.float64, requires_grad=True)


def _plain(x):
    """``x`` with every tensor in it (nested in tuples and lists) as a NumPy array."""
    if hasattr(x, "is_leaf"):
        return _arr(x)
    if isinstance(x, (tuple, list)):
        return type(x)(_plain(i) for i in x)
    return x


class Recorder:
    """Collects what a program observes, in order."""

    def __init__(self, lib):
        self.lib, self.log = lib, []

    def __call__(self, t, grad: bool = True):
        if t is None or not hasattr(t, "is_leaf"):
            self.log.append(("none" if t is None else "value", None if t is None else t))
            return t
        try:
            ver = t._version
        except RuntimeError:  # inference tensors have no version counter
            ver = "RuntimeError"
        snap = {"value": _arr(t), "rg": t.requires_grad, "leaf": t.is_leaf,
                "fn_none": t.grad_fn is None, "ver": ver}
        if grad and t.is_leaf:
            snap["grad"] = _arr(t.grad)
        self.log.append(("tensor", snap))
        return t

    def val(self, x):
        self.log.append(("value", _plain(x)))  # returns None, so hooks may read ``rec.val(g) or g * 2``

    def raises(self, fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - the class is what is compared
            self.log.append(("raised", _exc_class(e)))
            return
        self.log.append(("raised", "ok"))


def run(lib, program):
    rec = Recorder(lib)
    try:
        program(lib, rec)
    except Exception as e:  # noqa: BLE001
        rec.log.append(("program raised", _exc_class(e)))
    return rec.log


def _same_value(g, w, where):
    if isinstance(w, np.ndarray) or isinstance(g, np.ndarray):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, f"{where}: shape {g.shape} vs torch {w.shape}"
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=where)
    elif isinstance(w, float) or isinstance(g, float):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12, err_msg=where)
    elif isinstance(w, (list, tuple)):
        assert len(g) == len(w), f"{where}: {g!r} vs torch {w!r}"
        for i, (a, b) in enumerate(zip(g, w)):
            _same_value(a, b, f"{where}[{i}]")
    else:
        assert g == w, f"{where}: ember {g!r} vs torch {w!r}"


def compare(program, torch_mod, ember_mod) -> None:
    """Assert ember's observations of ``program`` equal torch's, entry by entry."""
    want, got = run(torch_mod, program), run(ember_mod, program)
    for i, (w, g) in enumerate(zip(want, got)):
        where = f"{program.__name__} entry {i}"
        assert g[0] == w[0], f"{where}: ember {g!r} vs torch {w!r}"
        if w[0] == "tensor":
            for k in w[1]:
                assert k in g[1], f"{where}: {k} missing"
                _same_value(g[1][k], w[1][k], f"{where} {k}")
        else:
            _same_value(g[1], w[1], where)
    assert len(got) == len(want), (f"{program.__name__}: ember logged {len(got)} entries, torch {len(want)}: "
                                   f"{got[len(want):] or want[len(got):]}")
