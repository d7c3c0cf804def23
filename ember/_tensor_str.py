"""Printing tensors the way torch does: ``tensor([1., 2.], requires_grad=True)``."""
from __future__ import annotations

import numpy as np


class _Options:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None) -> None:
    """Set how tensors print, as torch.set_printoptions."""
    for k, v in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                 ("linewidth", linewidth)):
        if v is not None:
            setattr(_Options, k, v)
    _Options.sci_mode = sci_mode


def _float_formatter(a: np.ndarray):
    finite = a[np.isfinite(a)]
    p = _Options.precision
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.{p}f}"
    ints = np.all(finite == np.ceil(finite))
    absf = np.abs(finite.astype(np.float64))
    nz = absf[absf > 0]
    amax = absf.max()
    amin = nz.min() if nz.size else 0.0
    if ints:
        if amax > 1e8 and _Options.sci_mode is not False:
            return lambda v: _special(v) or f"{v:.{p}e}"
        return lambda v: _special(v) or f"{v:.0f}."
    sci = _Options.sci_mode
    if sci is None:
        sci = (nz.size and (amax / amin > 1000.0 or amax > 1e8 or amin < 1e-4))
    if sci:
        return lambda v: _special(v) or f"{v:.{p}e}"
    return lambda v: _special(v) or f"{v:.{p}f}"


def _special(v) -> str:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return ""


def _complex_formatter(a: np.ndarray, values: np.ndarray):
    """torch's complex format: the real parts padded to one width, each imaginary part with its sign and 'j'."""
    fr, fi = _float_formatter(a.real), _float_formatter(a.imag)
    wr = max((len(fr(v)) for v in values.real), default=1)

    def fmt(v) -> str:
        imag = fi(v.imag) + "j"
        return fr(v.real).rjust(wr) + ("" if imag[0] in "+-" else "+") + imag
    return fmt


def _format_array(a: np.ndarray, indent: int) -> str:
    summarize = a.size > _Options.threshold
    if a.dtype.kind == "c":
        fmt = _complex_formatter(a, _edge_values(a, summarize))
    elif a.dtype.kind in "fV":  # "V": bfloat16
        fmt = _float_formatter(a)
    elif a.dtype.kind == "b":
        fmt = lambda v: "True" if v else "False"
    else:
        fmt = lambda v: str(int(v))
    if a.ndim == 0:
        return fmt(a.item())
    flat = _edge_values(a, summarize)
    width = max((len(fmt(v)) for v in flat), default=1)
    return _fmt_nd(a, fmt, width, indent, summarize, 0 if a.dtype.kind == "c" else width)


def _edge_values(a, summarize):
    if not summarize:
        return a.reshape(-1)
    e = _Options.edgeitems
    idx = tuple(np.r_[0:min(e, s), max(s - e, min(e, s)):s] for s in a.shape)
    return a[np.ix_(*idx)].reshape(-1)


def _fmt_nd(a, fmt, width, indent, summarize, cell) -> str:
    e = _Options.edgeitems
    if a.ndim == 1:  # each item right-justified to ``cell`` (complex items are not: torch's)
        items = [fmt(v).rjust(cell) for v in a] if not summarize or a.shape[0] <= 2 * e else \
            [fmt(v).rjust(cell) for v in a[:e]] + ["..."] + [fmt(v).rjust(cell) for v in a[-e:]]
        per_line = max(1, (_Options.linewidth - indent) // (width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = list(range(a.shape[0]))
    if summarize and a.shape[0] > 2 * e:
        rows = rows[:e] + [None] + rows[-e:]
    parts = [("..." if r is None else _fmt_nd(a[r], fmt, width, indent + 1, summarize, cell)) for r in rows]
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(parts) + "]"


def tensor_repr(t) -> str:
    """torch-style repr of a tensor."""
    from . import _complex32, _dtype
    a = t._data
    if a.dtype.names:  # complex32, printed from its exact complex64 values
        a = _complex32.widen(a)
    prefix = "tensor("
    body = _format_array(a, len(prefix)) if a.size or a.ndim == 0 else "[]"
    extras = []
    default_dt = _dtype.get_default_dtype()
    dt = t.dtype
    if (a.size == 0 and a.ndim != 1) or (a.size == 0 and a.shape != (0,)):
        extras.append(f"size={tuple(a.shape)}")
    if dt not in (default_dt, default_dt.to_complex(), _dtype.int64, _dtype.bool_) or (a.size == 0 and dt is not default_dt):
        extras.append(f"dtype={dt!r}".replace("ember.", "ember."))
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    out = prefix + body
    line = len(out) - out.rfind("\n") + 1
    for e in extras:  # torch starts a new line for a suffix that would pass the line width
        if line + len(e) + 2 > _Options.linewidth:
            out, line = out + ",\n" + " " * len(prefix) + e, len(prefix) + len(e)
        else:
            out, line = out + ", " + e, line + len(e) + 2
    return out + ")"
