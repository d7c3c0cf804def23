"""torch's ``_foreach_*`` functions: an op applied to each tensor of a list, written once as a table.

Each entry names ember's single-tensor op and the kinds of argument its last operand may be; the function
(``_foreach_add``) and its in-place form (``_foreach_add_``, which returns its ``self`` list as torch's
does) are generated from it. Every element goes through that op, so dtypes, broadcasting, per-tensor
errors and autograd are the op's own; only the list checks (lengths, element types) are torch's foreach ones.
"""
from __future__ import annotations

import numbers

from .._tensor import Tensor
from .common import FUNCTIONS

# kinds of the rightmost operand: S a number (a 0-dim tensor read as one), L a list of numbers, T a list of
# tensors, t one 0-dim tensor, P a 1-D tensor of numbers ("packed" scalars, one per list element)
_UNARY = ("abs acos asin atan ceil cos cosh erf erfc exp expm1 floor frac lgamma log log10 log1p log2 neg "
          "reciprocal round rsqrt sigmoid sign sin sinh sqrt tan tanh trunc").split()

# name -> (ember op, parameter names of the tensor lists, {kind: parameter name} of the rightmost operand,
#          default of the rightmost operand, further parameters with their defaults (those in KEYWORD_ONLY
#          by keyword only), has an in-place form)
TABLE: dict = {n: (n, ("self",), {}, None, {}, True) for n in _UNARY}
TABLE.update({
    "add": ("add", ("self",), {"L": "scalars", "T": "other", "t": "other", "S": "scalar"}, None, {"alpha": 1}, True),
    "sub": ("sub", ("self",), {"L": "scalars", "T": "other", "S": "scalar"}, None, {"alpha": 1}, True),
    "mul": ("mul", ("self",), {"L": "scalars", "t": "other", "S": "scalar", "T": "other"}, None, {}, True),
    "div": ("div", ("self",), {"L": "scalars", "t": "other", "S": "scalar", "T": "other"}, None, {}, True),
    "clamp_min": ("clamp_min", ("self",), {"L": "scalars", "S": "scalar", "T": "other"}, None, {}, True),
    "clamp_max": ("clamp_max", ("self",), {"L": "scalars", "S": "scalar", "T": "other"}, None, {}, True),
    # torch's own reference for these is clamp (which has an in-place form; maximum has none)
    "maximum": ("clamp_min", ("self",), {"L": "scalars", "S": "scalar", "T": "other"}, None, {}, True),
    "minimum": ("clamp_max", ("self",), {"L": "scalars", "S": "scalar", "T": "other"}, None, {}, True),
    "pow": ("pow", ("self",), {"L": "exponent", "S": "exponent", "T": "exponent"}, None, {}, True),
    "addcmul": ("addcmul", ("self", "tensor1", "tensor2"), {"S": "value", "L": "scalars", "P": "scalars"}, 1, {},
                True),
    "addcdiv": ("addcdiv", ("self", "tensor1", "tensor2"), {"S": "value", "L": "scalars", "P": "scalars"}, 1, {},
                True),
    "lerp": ("lerp", ("self", "tensors1"), {"S": "weight", "L": "weight", "T": "weights"}, None, {}, True),
    "mm": ("mm", ("self", "mat2"), {}, None, {}, False),
    "clone": ("clone", ("self",), {}, None, {"memory_format": None}, False),
    "max": ("max", ("self",), {}, None, {}, False),
    "norm": ("norm", ("self",), {}, None, {"ord": 2, "dtype": None}, False),
    "powsum": ("powsum", ("self",), {}, None, {"ord": 2, "dtype": None}, False),
})
# in-place only, under torch's names
INPLACE_ONLY = {"zero_": ("zero", ("self",), {}, None, {}),
                "copy_": ("copy", ("self", "src"), {}, None, {"non_blocking": False})}
KEYWORD_ONLY = {"alpha", "memory_format"}
# single-tensor ops that take the rightmost operand only by keyword
LAST_BY_KEYWORD = {"addcmul": "value", "addcdiv": "value"}


def _is_number(x) -> bool:
    return isinstance(x, numbers.Number) and not isinstance(x, Tensor)


def _kind(x, kinds: dict, fname: str, pos: int) -> str:
    """Which overload the rightmost operand selects, as torch's argument parser picks it."""
    if isinstance(x, Tensor):
        for k in ("t", "P"):
            if k in kinds:
                return k
        if "S" in kinds and x.dim() == 0:
            return "S"
    elif isinstance(x, (list, tuple)):
        if x and all(isinstance(v, Tensor) for v in x) and "T" in kinds:
            return "T"
        if all(_is_number(v) for v in x) and "L" in kinds:
            return "L"
        if "T" in kinds and x and isinstance(x[0], Tensor):
            _check_tensors(x, pos, fname)
    elif _is_number(x) and "S" in kinds:
        return "S"
    raise TypeError(f"{fname}() received an invalid combination of arguments - got an argument {pos} of type "
                    f"{type(x).__name__}, but expected one of: {', '.join(sorted(set(kinds.values())))}")


def _check_tensors(xs, pos: int, fname: str) -> list:
    if not isinstance(xs, (list, tuple)):
        raise TypeError(f"{fname}(): argument {pos} must be tuple of Tensors, not {type(xs).__name__}")
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument {pos}, but got {type(x).__name__}")
    return list(xs)


def _bind(fname: str, names: tuple, args: tuple, kwargs: dict) -> list:
    """``args`` and ``kwargs`` as one value per parameter name (``None`` where not given)."""
    if len(args) > len(names):
        raise TypeError(f"{fname}() takes {len(names)} positional arguments but {len(args)} were given")
    vals = list(args) + [None] * (len(names) - len(args))
    for k, v in kwargs.items():
        if k not in names:
            raise TypeError(f"{fname}() got an unexpected keyword argument '{k}'")
        i = names.index(k)
        if i < len(args):
            raise TypeError(f"{fname}() got multiple values for argument '{k}'")
        vals[i] = v
    return vals


def _per_tensor(fname: str, lists: list, last, kind: str | None) -> list:
    """One tuple of operands per list element, after torch's foreach checks of the lists."""
    n = len(lists[0])
    if n == 0:
        raise RuntimeError("Tensor list must have at least one tensor.")
    for other in lists[1:]:
        if len(other) != n:
            raise RuntimeError(f"Tensor lists must have the same number of tensors, got {n} and {len(other)}")
    if kind == "T":
        if len(last) != n:
            raise RuntimeError(f"Tensor lists must have the same number of tensors, got {n} and {len(last)}")
    elif kind == "L":
        if len(last) != n:
            raise RuntimeError("Tensor list must have same number of elements as scalar list.")
    elif kind == "P":
        if last.dim() != 1:
            raise RuntimeError(f"Expected packed scalar Tensor to be of dimension 1. Got {last.dim()} instead.")
        if last.shape[0] != n:
            raise RuntimeError(f"Expected length of scalars to match input of length {n} but got {last.shape[0]} "
                               "instead.")
        last = last.tolist()
    elif kind == "t" and last.dim() != 0:
        raise RuntimeError(f"scalar tensor expected to be 0 dim but it has {last.dim()} dimensions and "
                           f"{last.numel()} elements.")
    elif kind == "S" and isinstance(last, Tensor):
        last = last.item()
    per = [list(ts) for ts in zip(*lists)]
    if kind is not None:
        for i, ops in enumerate(per):
            ops.append(last[i] if kind in ("T", "L", "P") else last)
    return per


def _make(name: str, op: str, lists: tuple, kinds: dict, default, keywords: dict, inplace: bool):
    """The generated ``_foreach_<name>`` (or its in-place form)."""
    fname = f"_foreach_{name}{'_' if inplace and not name.endswith('_') else ''}"
    last_names = tuple(dict.fromkeys(kinds.values()))
    names = lists + last_names[:1] + tuple(keywords)
    positional = [n for n in names if n not in KEYWORD_ONLY]

    def foreach(*args, **kwargs):
        for k in last_names[1:]:  # the overloads name their rightmost operand differently
            if k in kwargs:
                kwargs[last_names[0]] = kwargs.pop(k)
        if name == "pow" and not inplace and args and _is_number(args[0]):  # pow(number, list of exponents)
            exps = _check_tensors(args[1] if len(args) > 1 else kwargs.get("exponent"), 1, fname)
            return tuple(FUNCTIONS["pow"](args[0], *ops) for ops in _per_tensor(fname, [exps], None, None))
        if len(args) > len(positional):
            raise TypeError(f"{fname}() takes {len(positional)} positional arguments but {len(args)} were given")
        vals = _bind(fname, names, args, kwargs)
        for i, v in enumerate(vals[:len(lists)]):
            if v is None:
                raise TypeError(f"{fname}() missing required argument '{names[i]}' (pos {i + 1})")
            vals[i] = _check_tensors(v, i, fname)
        last, kind = None, None
        if kinds:
            last = vals[len(lists)]
            last = default if last is None else last
            if last is None:
                raise TypeError(f"{fname}() missing required argument '{last_names[0]}' (pos {len(lists) + 1})")
            kind = _kind(last, kinds, fname, len(lists))
        extra = dict(zip(keywords, vals[len(names) - len(keywords):]))
        extra = {k: (keywords[k] if v is None else v) for k, v in extra.items()}
        if "alpha" in extra and kind not in ("T", "t"):
            if "alpha" in kwargs:
                raise TypeError(f"{fname}() received an invalid combination of arguments - alpha= is taken only "
                                "with a tensor or a list of tensors")
            del extra["alpha"]
        per = _per_tensor(fname, vals[:len(lists)], last, kind)
        by_kw = LAST_BY_KEYWORD.get(op) if kind else None
        fn = _INPLACE.get(op, _method(op)) if inplace else _FUNCTIONS.get(op) or FUNCTIONS[op]
        results = tuple(fn(*ops[:-1], **{by_kw: ops[-1]}, **extra) if by_kw else fn(*ops, **extra) for ops in per)
        return (args[0] if args else kwargs["self"]) if inplace else results

    foreach.__name__ = foreach.__qualname__ = fname
    foreach.__doc__ = (f"torch.{fname}: {op}{'_' if inplace else ''} of each tensor of the list"
                       f"{' in place; returns the list' if inplace else ''}.")
    return foreach


def _method(op: str):
    return lambda t, *a, **k: getattr(t, op + "_")(*a, **k)


def _max(t: Tensor) -> Tensor:
    """The largest element of one tensor, refusing an empty one as torch's _foreach_max does."""
    if t.numel() == 0:
        raise RuntimeError("_foreach_max cannot compute the maximum of an empty tensor; max over zero elements is "
                           "undefined.")
    return t.max()


def _norm(t: Tensor, ord=2, dtype=None) -> Tensor:
    """linalg.vector_norm of one tensor, whose ``ord`` torch's foreach form takes only as a number."""
    if not _is_number(ord):
        raise TypeError(f"_foreach_norm(): argument 'ord' (position 2) must be Number, not {type(ord).__name__}")
    from ..linalg import vector_norm  # (ember.linalg loads after the op library)
    return vector_norm(t, ord, dtype=dtype)


def _powsum(t: Tensor, ord=2, dtype=None) -> Tensor:
    """The sum of ``|x| ** ord`` over one tensor (0 ** 0 counted as 1, as torch's _foreach_powsum)."""
    if not _is_number(ord):
        raise TypeError(f"_foreach_powsum(): argument 'ord' (position 2) must be Number, not {type(ord).__name__}")
    return (t if dtype is None else t.to(dtype)).abs().pow(ord).sum()


_FUNCTIONS = {"max": _max, "norm": _norm, "powsum": _powsum, "clone": lambda t, memory_format=None:
              t.clone(memory_format=memory_format) if memory_format is not None else t.clone()}
_INPLACE = {"copy": lambda t, src, non_blocking=False: t.copy_(src, non_blocking)}

for _name, (_op, _lists, _kinds, _default, _kw, _has_inplace) in TABLE.items():
    FUNCTIONS[f"_foreach_{_name}"] = _make(_name, _op, _lists, _kinds, _default, _kw, False)
    if _has_inplace:
        FUNCTIONS[f"_foreach_{_name}_"] = _make(_name, _op, _lists, _kinds, _default, _kw, True)
for _name, (_op, _lists, _kinds, _default, _kw) in INPLACE_ONLY.items():
    FUNCTIONS[f"_foreach_{_name}"] = _make(_name, _op, _lists, _kinds, _default, _kw, True)
