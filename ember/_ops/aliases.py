"""In-place forms torch spells two ways (``arccos_`` for ``acos_``): one table, no second definitions."""
from .._tensor import Tensor
from .common import FUNCTIONS, inplace_method
from .complex import sgn as complex_sgn

# alias -> the method it names
INPLACE_ALIASES = {
    "absolute_": "abs_", "arccos_": "acos_", "arcsin_": "asin_", "arctan_": "atan_", "arctan2_": "atan2_",
    "arccosh_": "acosh_", "arcsinh_": "asinh_", "arctanh_": "atanh_", "divide_": "div_", "multiply_": "mul_",
    "subtract_": "sub_", "negative_": "neg_", "true_divide_": "div_", "fix_": "trunc_", "greater_": "gt_",
    "greater_equal_": "ge_", "less_": "lt_", "less_equal_": "le_", "not_equal_": "ne_",
}
for _alias, _target in INPLACE_ALIASES.items():
    setattr(Tensor, _alias, getattr(Tensor, _target))

# out-of-place ops whose in-place form is written into ``self`` the usual way
for _name in ("cumsum", "cumprod"):
    setattr(Tensor, _name + "_", inplace_method(FUNCTIONS[_name], _name + "_"))



def sgn(input: Tensor) -> Tensor:
    """The sign of a real tensor; ``z / |z|`` (0 at 0) of a complex one, with its gradient."""
    return complex_sgn(input) if input.is_complex() else FUNCTIONS["sign"](input)


FUNCTIONS["sgn"] = Tensor.sgn = sgn
Tensor.sgn_ = inplace_method(sgn, "sgn_")


def _untracked(pieces: tuple) -> tuple:
    """torch's unsafe_* split ops: the pieces share the input's memory but autograd does not track them as
    views, so an in-place op on one is allowed and does not rewrite the input's history."""
    for t in pieces:
        t._base = t._multi_view = None
        t._vc = [0]
    return pieces


def unsafe_split(input: Tensor, split_size, dim: int = 0) -> tuple:
    """:func:`split` whose pieces autograd does not track as views (``split_size``: one size or a list)."""
    return _untracked(FUNCTIONS["split"](input, split_size, dim))


def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """:func:`chunk` whose pieces autograd does not track as views."""
    return _untracked(FUNCTIONS["chunk"](input, chunks, dim))


for _fn in (unsafe_split, unsafe_chunk):
    FUNCTIONS[_fn.__name__] = _fn
    setattr(Tensor, _fn.__name__, _fn)


def _copy_of(name: str, view):
    """torch's ``<view>_copy``: the view op's result as new memory (a tuple of views, each copied)."""
    def fn(input: Tensor, *args, **kwargs):
        out = view(input, *args, **kwargs)
        return tuple(t.clone() for t in out) if isinstance(out, (tuple, list)) else out.clone()
    fn.__name__ = name + "_copy"
    fn.__doc__ = f"A copy of what ``{name}`` views, sharing no memory with ``input``."
    return fn


_VIEWS = {name: getattr(Tensor, name) for name in ("as_strided", "diagonal", "expand", "permute", "split_with_sizes",
                                                    "squeeze", "t", "transpose", "unbind", "unfold", "unsqueeze",
                                                    "view")}
_VIEWS["alias"] = lambda input: input.view_as(input)
for _name, _view in _VIEWS.items():
    FUNCTIONS[_name + "_copy"] = _copy_of(_name, _view)


def split(self: Tensor, split_size, dim: int = 0) -> tuple:
    """``Tensor.split``: torch's method names its sizes ``split_size`` (``torch.split``: ``split_size_or_sections``)."""
    return FUNCTIONS["split"](self, split_size, dim)


Tensor.split = split
