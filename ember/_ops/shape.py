"""Shape and view ops: reshape, permute, cat/split, flip, diagonal, ...

A few primitives carry their own backward (Reshape, Expand, Permute, Cat/Split,
Unbind, Flip, Roll, Tril, Diagonal and its scatter, a take along a dim); every
other op here is a composition of them. Views share memory with their input as
torch's do (reshape when possible, permute, split, unbind, diagonal); flip, roll,
cat and repeat copy.
"""
from __future__ import annotations

import itertools

import math

from .. import _dtype
from .._backend import xp
from .._tensor import Tensor, Size
from ..autograd.function import Op, _root
from .common import (FUNCTIONS, register, norm_dims, wrap_dim, broadcast_error, sum_to, check_inplace, inplace_method,
                     _offsets, _type_name, write_out)


def _shape_arg(shape) -> tuple:
    """Sizes or dims given as varargs or as one sequence."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, Size)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _ints(x) -> tuple:
    """An int or a sequence of ints as a tuple."""
    return (int(x),) if isinstance(x, (int, xp.integer, Tensor)) else tuple(int(v) for v in x)


# ----------------------------------------------------------------------------- reshape, view, expand
class Reshape(Op):
    batching = "reshape"

    @staticmethod
    def forward(x, shape):
        return x.reshape(shape)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.in_shape = inputs[0]._data.shape

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None

    @staticmethod
    def jvp(inputs, out, t, _):  # linear, as every shape op
        return Reshape.apply(t, inputs[1])


def _infer(shape, numel, op):
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    for s in shape:
        if s < -1:
            raise RuntimeError(f"invalid shape dimension {s}")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


@register()
def reshape(input, *shape) -> Tensor:
    """The same elements in a new shape (a view when possible)."""
    shape = _infer(_shape_arg(shape), input._data.size, "reshape")
    if shape == input._data.shape:
        return input
    return Reshape.apply(input, shape)


@register(function=False)
def view(self, *shape) -> Tensor:
    """The same elements in a new shape, sharing memory (or the same bits as another dtype)."""
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int, xp.integer)):
        dt = _dtype.as_dtype(shape[0])
        if dt.np == self._data.dtype:
            return self
        try:
            out = Tensor._make(self._data.view(dt.np))
            out._vc = self._vc  # not a differentiable view (torch's neither), but its writes are self's
            return out
        except ValueError as e:
            raise RuntimeError(f"view: cannot view a {self.dtype} tensor of shape {list(self.shape)} as "
                               f"{dt}: {e}") from None
    shape = _infer(_shape_arg(shape), self._data.size, "view")
    if not self._data.flags.c_contiguous and shape != self._data.shape:
        try:
            xp.reshape(self._data, shape, copy=False)
        except ValueError:
            raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                               "dimension spans across two contiguous subspaces). Use .reshape(...) instead.") \
                from None
    return Reshape.apply(self, shape)


@register(function=False)
def view_as(self, other: Tensor) -> Tensor:
    """``self.view(other.shape)``."""
    return view(self, other._data.shape)


@register(function=False)
def reshape_as(self, other: Tensor) -> Tensor:
    """``self.reshape(other.shape)``."""
    return reshape(self, other._data.shape)


class Expand(Op):
    batching = "expand"

    @staticmethod
    def forward(x, shape):
        return xp.broadcast_to(x, shape)

    setup_context = Reshape.setup_context

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.in_shape), None

    @staticmethod
    def jvp(inputs, out, t, _):
        return Expand.apply(t, inputs[1])


@register(function=False)
def expand(self, *sizes) -> Tensor:
    """A broadcast view with size-1 dims repeated (``-1`` keeps a size)."""
    sizes = _shape_arg(sizes)
    nd = self._data.ndim
    if len(sizes) < nd:
        raise RuntimeError(f"expand({self.type()}{{{list(self._data.shape)}}}, size={list(sizes)}): the number of "
                           f"sizes provided ({len(sizes)}) must be greater or equal to the number of dimensions in "
                           f"the tensor ({nd})")
    lead = len(sizes) - nd
    shape = []
    for i, s in enumerate(sizes):
        if i >= lead:
            cur = self._data.shape[i - lead]
            if s == -1:
                s = cur
            elif cur != 1 and cur != s:
                raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                                   f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                                   f"{list(self._data.shape)}")
        elif s < 0:
            raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a leading, non-existing "
                               "dimension 0")
        shape.append(s)
    shape = tuple(shape)
    if shape == self._data.shape:
        return self
    return Expand.apply(self, shape)


@register(function=False)
def expand_as(self, other: Tensor) -> Tensor:
    """``self.expand(other.shape)``."""
    return expand(self, other._data.shape)


@register()
def broadcast_to(input, size) -> Tensor:
    """``input.expand(size)``."""
    return expand(input, tuple(size))


def _broadcast_pair(a: tuple, b: tuple):
    """The broadcast of two shapes, or the negative dim where they clash."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y and x != 1 and y != 1:
            return i - n
        out.append(y if x == 1 else x)
    return tuple(out)


@register(method=False)
def broadcast_shapes(*shapes) -> Size:
    """The shape that all the given shapes broadcast to."""
    out = ()
    for i, s in enumerate(shapes):
        s = _ints(s)
        r = _broadcast_pair(out, s)
        if type(r) is int:
            raise RuntimeError(f"Attempting to broadcast a dimension of length {s[r]} at {r}! Mismatching argument "
                               f"at index {i} had {tuple(s)}; but expected shape should be broadcastable to "
                               f"{list(out)}")
        out = r
    return Size(out)


@register(method=False)
def broadcast_tensors(*tensors) -> tuple:
    """The tensors expanded to their common broadcast shape."""
    tensors = _tensor_list(tensors)
    out = ()
    for t in tensors:
        r = _broadcast_pair(out, t._data.shape)
        if type(r) is int:
            raise broadcast_error("broadcast_tensors", out, t._data.shape)
        out = r
    return tuple(expand(t, out) for t in tensors)


def _tensor_list(tensors) -> tuple:
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        return tuple(tensors[0])
    return tuple(tensors)


# ----------------------------------------------------------------------------- squeeze, flatten
@register()
def squeeze(input, dim=None) -> Tensor:
    """Drop size-1 dims (all of them, or those among ``dim``)."""
    shape = input._data.shape
    dims = norm_dims(dim, input._data.ndim, "squeeze")
    return reshape(input, tuple(s for i, s in enumerate(shape) if not (s == 1 and i in dims)))


@register()
def unsqueeze(input, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim``."""
    shape = list(input._data.shape)
    shape.insert(wrap_dim(dim, len(shape) + 1, "unsqueeze"), 1)
    return Reshape.apply(input, tuple(shape))


@register()
def flatten(input, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    shape = input._data.shape
    if not shape:
        return reshape(input, (1,))
    s, e = wrap_dim(start_dim, len(shape)), wrap_dim(end_dim, len(shape))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    return reshape(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


@register()
def unflatten(input, dim: int, sizes) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one of which may be -1)."""
    shape = input._data.shape
    d = wrap_dim(dim, len(shape))
    sizes = _ints(sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    if -1 in sizes:
        sizes = _infer(sizes, shape[d], "unflatten")
    elif math.prod(sizes) != shape[d]:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
                           f"({shape[d]}) in the input tensor")
    return reshape(input, shape[:d] + tuple(sizes) + shape[d + 1:])


# ----------------------------------------------------------------------------- permutations
class Permute(Op):
    batching = "permute"

    @staticmethod
    def forward(x, dims):
        return x.transpose(dims)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.dims = inputs[1]

    @staticmethod
    def backward(ctx, g):
        return Permute.apply(g, tuple(xp.argsort(ctx.dims).tolist())), None

    @staticmethod
    def jvp(inputs, out, t, _):
        return Permute.apply(t, inputs[1])


@register()
def permute(input, *dims) -> Tensor:
    """A view with the dims reordered."""
    dims = _shape_arg(dims)
    nd = input._data.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the length "
                           f"of the desired ordering of dimensions i.e. input.dim() = {nd} is not equal to "
                           f"len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, nd) for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    if dims == tuple(range(nd)):
        return input
    return Permute.apply(input, dims)


@register(aliases=("swapaxes", "swapdims"))
def transpose(input, dim0: int, dim1: int) -> Tensor:
    """A view with two dims swapped."""
    nd = input._data.ndim
    if nd == 0:
        wrap_dim(dim0, nd), wrap_dim(dim1, nd)
        return input
    order = list(range(nd))
    d0, d1 = wrap_dim(dim0, nd), wrap_dim(dim1, nd)
    order[d0], order[d1] = d1, d0
    return permute(input, order)


@register(aliases=("moveaxis",))
def movedim(input, source, destination) -> Tensor:
    """A view with the ``source`` dims moved to positions ``destination``, the others keeping their order."""
    nd = input._data.ndim
    given = {"source": list(_ints(source)), "destination": list(_ints(destination))}
    src, dst = ([wrap_dim(d, nd) for d in given[k]] for k in given)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({given['source']} dims) should "
                           f"contain the same number of dims as destination ({given['destination']} dims)")
    for name, ds in (("source", src), ("destination", dst)):
        if len(set(ds)) != len(ds):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({given[name]})")
    order = [None] * nd
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(nd) if i not in src)
    return permute(input, [o if o is not None else next(rest) for o in order])


@register()
def t(input) -> Tensor:
    """Transpose of a matrix; 0-D and 1-D tensors are returned as they are."""
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input._data.ndim}D")
    return transpose(input, 0, 1) if input._data.ndim == 2 else input


def _T(self) -> Tensor:
    return permute(self, tuple(range(self._data.ndim - 1, -1, -1)))


def _mT(self) -> Tensor:
    if self._data.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got "
                           f"{self._data.ndim}-D tensor.")
    return transpose(self, -2, -1)


def _H(self) -> Tensor:
    if self._data.ndim not in (0, 2):
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {self._data.ndim}-D tensor.")
    return _T(self).conj()


Tensor.T, Tensor.mT, Tensor.H = property(_T), property(_mT), property(_H)
Tensor.mH = property(lambda self: _mT(self).conj())


def _inplace_view(fn):
    """``fn_``: ``self`` takes the shape (and graph position) of ``fn(self, ...)``."""
    def method(self, *args, **kwargs):
        check_inplace(self, fn.__name__ + "_")
        out = fn(self, *args, **kwargs)
        self._data = out._data
        if out._requires_grad:
            self.grad_fn, self._output_nr = out.grad_fn, out._output_nr
        self._version += 1
        return self
    method.__name__ = fn.__name__ + "_"
    method.__doc__ = f"In-place version of :func:`{fn.__name__}`."
    return method


for _fn in (squeeze, unsqueeze, transpose, t):
    setattr(Tensor, _fn.__name__ + "_", _inplace_view(_fn))
Tensor.swapaxes_ = Tensor.swapdims_ = Tensor.transpose_


@register()
def ravel(input) -> Tensor:
    """The elements as a 1-D tensor (a view when possible)."""
    return reshape(input, (-1,))


@register()
def rot90(input, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotation by ``k`` quarter turns in the plane of ``dims``, from the first towards the second."""
    dims = _ints(dims)
    nd = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if nd < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {nd}")
    d0, d1 = wrap_dim(dims[0], nd), wrap_dim(dims[1], nd)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k %= 4
    if k == 1:
        return transpose(flip(input, d1), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return transpose(flip(input, d0), d0, d1)
    return input.clone()


@register(method=False)
def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids (broadcast views) from 1-D tensors, with 'ij' (default) or 'xy' indexing."""
    ts = _tensor_list(tensors)
    if indexing is None:
        import warnings
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    for x in ts:
        if x._data.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {x.shape}")
    sizes = [x._data.size for x in ts]
    pos = list(range(len(ts)))
    if indexing == "xy" and len(ts) >= 2:  # the first two inputs vary along the other's axis
        pos[0], pos[1] = 1, 0
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for x, p in zip(ts, pos):
        shape = [1] * len(ts)
        shape[p] = x._data.size
        out.append(expand(reshape(x, tuple(shape)), tuple(sizes)))
    return tuple(out)


# ----------------------------------------------------------------------------- joining and splitting
class Cat(Op):
    batching = "cat"

    @staticmethod
    def forward(dim, *xs):
        return xp.concatenate(xs, axis=dim)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.dim = inputs[0]
        ctx.sizes = tuple(x._data.shape[ctx.dim] for x in inputs[1:])

    @staticmethod
    def backward(ctx, g):
        return (None, *Split.apply(g, ctx.sizes, ctx.dim))


class Split(Op):
    @staticmethod
    def forward(x, sizes, dim):
        return tuple(xp.split(x, xp.cumsum(sizes[:-1]).tolist(), axis=dim))

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.dim = inputs[2]

    @staticmethod
    def backward(ctx, *grads):
        # the engine gives zeros for outputs that were not used
        return Cat.apply(ctx.dim, *grads), None, None


@register(method=False, aliases=("concat", "concatenate"))
def cat(tensors, dim: int = 0, *, out: Tensor | None = None) -> Tensor:
    """Join tensors along an existing dim, promoting dtypes."""
    if isinstance(tensors, Tensor):
        raise TypeError("cat(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"cat(): argument 'tensors' must be tuple of Tensors, but found element of type "
                            f"{type(x).__name__} at pos {i}")
        if x._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    dt = tensors[0].dtype
    for x in tensors[1:]:
        dt = _dtype.promote_types(dt, x.dtype)
    # torch still skips 1-D empty tensors, whatever their shape
    kept = [(i, x) for i, x in enumerate(tensors) if x._data.shape != (0,)] or list(enumerate(tensors))
    ref = kept[0][1]._data.shape
    d = wrap_dim(dim, len(ref))
    for i, x in kept:
        s = x._data.shape
        if len(s) != len(ref):
            raise RuntimeError(f"Tensors must have same number of dimensions: got {len(ref)} and {len(s)}")
        for k in range(len(ref)):
            if k != d and s[k] != ref[k]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size {ref[k]} "
                                   f"but got size {s[k]} for tensor number {i} in the list.")
    if out is not None:
        _check_cat_out(tensors, out, dt)
    result = Cat.apply(d, *[x if x._data.dtype is dt.np else x.to(dt) for _, x in kept])
    return result if out is None else write_out("cat", result, out)  # copy_ refuses an expanded out


def _check_cat_out(tensors: list, out: Tensor, dt) -> None:
    """torch's checks of cat's ``out``: a dtype the result can be cast to, no memory shared with an input."""
    if not _dtype.can_cast(dt, out.dtype):
        raise TypeError(f"torch.cat(): input types can't be cast to the desired output type {_type_name(out.dtype)}")
    if any(out is x or xp.shares_memory(out._data, x._data) for x in tensors):
        raise RuntimeError("cat(): unsupported operation: some elements of the input tensor and the written-to tensor "
                           "refer to a single memory location. Please clone() the tensor before performing the "
                           "operation.")


@register(method=False)
def stack(tensors, dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    ref = tensors[0]._data.shape
    for i, x in enumerate(tensors):
        if x._data.shape != ref:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(ref)} at entry 0 and "
                               f"{list(x._data.shape)} at entry {i}")
    d = wrap_dim(dim, len(ref) + 1)
    return cat([unsqueeze(x, d) for x in tensors], d)


def _atleast(nd: int, pad):
    def fn(*tensors):
        ts = _tensor_list(tensors)
        out = tuple(x if x._data.ndim >= nd else reshape(x, pad(x._data.shape)) for x in ts)
        return out[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else out
    fn.__name__ = f"atleast_{nd}d"
    fn.__doc__ = f"Tensors viewed with at least {nd} dims."
    return register(method=False)(fn)


atleast_1d = _atleast(1, lambda s: (1,))
atleast_2d = _atleast(2, lambda s: (1,) * (2 - len(s)) + s)
atleast_3d = _atleast(3, lambda s: {0: (1, 1, 1), 1: (1, *s, 1), 2: (*s, 1)}[len(s)])


def _nonempty(op: str, tensors) -> list:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{op} expects a non-empty TensorList")
    return tensors


@register(method=False)
def hstack(tensors) -> Tensor:
    """Join along dim 1 (dim 0 for 1-D tensors)."""
    ts = atleast_1d(_nonempty("hstack", tensors))
    return cat(ts, 0 if ts[0]._data.ndim == 1 else 1)


@register(method=False, aliases=("row_stack",))
def vstack(tensors) -> Tensor:
    """Join along dim 0, treating 1-D tensors as rows."""
    return cat(atleast_2d(_nonempty("vstack", tensors)), 0)


@register(method=False)
def dstack(tensors) -> Tensor:
    """Join along dim 2 (depth)."""
    return cat(atleast_3d(_nonempty("dstack", tensors)), 2)


@register(method=False)
def column_stack(tensors) -> Tensor:
    """Join along dim 1, treating 0-D and 1-D tensors as columns."""
    return cat([reshape(x, (x._data.size, 1)) if x._data.ndim <= 1 else x for x in _nonempty("column_stack", tensors)],
               1)


@register()
def split(tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Views of consecutive pieces along ``dim``: of one size (the last may be smaller), or of the given sizes."""
    if tensor._data.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = wrap_dim(dim, tensor._data.ndim)
    n = tensor._data.shape[d]
    if isinstance(split_size_or_sections, (int, xp.integer)):
        s = int(split_size_or_sections)
        if s < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={s}")
        if s == 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        sizes = [s] * (n // s) + ([n % s] if n % s else []) if n else [0]
    else:
        sizes = list(_ints(split_size_or_sections))
        if min(sizes, default=0) < 0:
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                               f"split_sizes={sizes}")
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                               f"dimension {d}), but got split_sizes={sizes}")
    return Split.apply(tensor, tuple(sizes), d)


@register()
def chunk(input, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of (nearly) equal size (fewer when they don't divide evenly)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if input._data.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    d = wrap_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    if n == 0:
        return Split.apply(input, (0,) * chunks, d)
    return split(input, -(-n // chunks), d)


@register()
def tensor_split(input, indices_or_sections, dim: int = 0) -> tuple:
    """Split into ``sections`` near-equal pieces, or at the given indices."""
    if input._data.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = wrap_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    if isinstance(indices_or_sections, Tensor):
        t = indices_or_sections
        if t.dtype.name != "int64":
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                               f"{t.dtype}")
        if t._data.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {t._data.ndim} dims")
        indices_or_sections = t._data.item() if t._data.ndim == 0 else t._data.tolist()
    if isinstance(indices_or_sections, (int, xp.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {k}")
        bounds = list(itertools.accumulate([n // k + 1] * (n % k) + [n // k] * (k - n % k - 1)))
    else:
        bounds = [min(max(i + n if i < 0 else i, 0), n) for i in _ints(indices_or_sections)]
    # each piece its own view, as torch's slices: unlike split's, they may be written in place
    return tuple(narrow(input, d, a, max(b - a, 0)) for a, b in zip([0, *bounds], [*bounds, n]))


class Unbind(Op):
    @staticmethod
    def forward(x, dim):
        lead = (slice(None),) * dim
        # the Ellipsis keeps a 1-D input's slices 0-d views: x[i] alone would give NumPy scalars, copies
        # that an in-place op on them would write to, losing the write
        return tuple(x[lead + (i, ...)] for i in range(x.shape[dim]))

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.dim = inputs[1]

    @staticmethod
    def backward(ctx, *grads):
        return stack(grads, ctx.dim), None


@register()
def unbind(input, dim: int = 0) -> tuple:
    """Views of the slices along ``dim``, with that dim removed."""
    if input._data.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    return Unbind.apply(input, wrap_dim(dim, input._data.ndim))


@register()
def narrow(input, dim: int, start, length: int) -> Tensor:
    """A view of ``length`` elements of ``dim`` from ``start``."""
    if input._data.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    if isinstance(start, Tensor) and (start._data.ndim or start._data.dtype.kind not in "iu"):
        raise RuntimeError("start must be an 0-dim integral Tensor.")
    start, length = int(start), int(length)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    if start < 0:
        start += n
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return input[(slice(None),) * d + (slice(start, start + length),)]


# ----------------------------------------------------------------------------- repetition
@register(function=False)
def repeat(self, *sizes) -> Tensor:
    """The tensor tiled ``sizes[i]`` times along each dim (a copy)."""
    reps = _shape_arg(sizes)
    nd = self._data.ndim
    if len(reps) < nd:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of "
                           "tensor")
    shape = (1,) * (len(reps) - nd) + self._data.shape
    out_shape = tuple(r * s for r, s in zip(reps, shape))
    if min(reps, default=0) < 0:
        bad = next(s for s in out_shape if s < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: {list(out_shape)}")
    if all(r == 1 for r in reps):
        return reshape(self, shape).clone()
    # (r, s) per dim: broadcast each dim of size s over a new leading axis of size r, then merge
    paired = reshape(self, tuple(v for s in shape for v in (1, s)))
    tiled = expand(paired, tuple(v for r, s in zip(reps, shape) for v in (r, s)))
    # NumPy may express the merge as a stride-0 view of the input: repeat must return fresh memory
    return reshape(tiled, out_shape).contiguous()


@register()
def tile(input, dims) -> Tensor:
    """``repeat``, with ``dims`` padded by leading ones to the tensor's rank."""
    dims = _ints(dims)
    return repeat(input, (1,) * (input._data.ndim - len(dims)) + dims)


class _Take(Op):
    """Entries ``idx`` along ``dim`` (index_select)."""

    @staticmethod
    def forward(x, idx, dim):
        return xp.take(x, idx, axis=dim)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, idx, ctx.dim = inputs
        ctx.in_shape = x._data.shape
        ctx.save_for_backward(idx)

    @staticmethod
    def backward(ctx, g):
        idx, = ctx.saved_tensors
        return _TakeGrad.apply(g, idx, ctx.dim, ctx.in_shape), None, None


class _TakeGrad(Op):
    """The gradient of a take: entries added back where they were taken from."""

    @staticmethod
    def forward(g, idx, dim, shape):
        out = xp.zeros(shape, g.dtype)
        xp.add.at(out, (slice(None),) * dim + (idx,), g)
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, idx, ctx.dim, _ = inputs
        ctx.save_for_backward(idx)

    @staticmethod
    def backward(ctx, g):
        idx, = ctx.saved_tensors
        return _Take.apply(g, idx, ctx.dim), None, None, None


@register()
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Each element repeated ``repeats`` times (an int, or one count per element along ``dim``)."""
    if repeats is None:  # repeat_interleave(counts): indices 0..n-1, each repeated by its count
        counts = input._data
        return Tensor._make(xp.repeat(xp.arange(counts.size, dtype=xp.int64), counts.reshape(-1)))
    if dim is None:
        input, d = flatten(input), 0
    else:
        d = wrap_dim(dim, input._data.ndim)
    n = input._data.shape[d] if input._data.ndim else 1
    if input._data.ndim == 0:
        input = reshape(input, (1,))
    reps = repeats._data.reshape(-1) if isinstance(repeats, Tensor) else xp.asarray([int(repeats)])
    if reps.size not in (1, n):
        raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                           f"{reps.size} and input.size({d}) = {n}")
    if reps.size and reps.min() < 0:
        raise RuntimeError("repeats can not be negative")
    idx = xp.repeat(xp.arange(n, dtype=xp.int64), reps if reps.size == n else int(reps[0]))
    return _Take.apply(input, Tensor._make(idx), d)


# ----------------------------------------------------------------------------- reordering elements
class Flip(Op):
    @staticmethod
    def forward(x, dims):
        return xp.flip(x, dims).copy()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.dims = inputs[1]

    @staticmethod
    def backward(ctx, g):
        return Flip.apply(g, ctx.dims), None


@register()
def flip(input, *args, dims=None) -> Tensor:
    """The elements in reverse order along ``dims`` (a copy); ``x.flip(0, 1)`` also takes them unpacked."""
    if dims is None:
        dims = _shape_arg(args)
    elif args:
        raise TypeError("flip() got multiple values for argument 'dims'")
    return Flip.apply(input, norm_dims(dims, input._data.ndim, "flip"))


@register()
def fliplr(input) -> Tensor:
    """Flip along dim 1."""
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return Flip.apply(input, (1,))


@register()
def flipud(input) -> Tensor:
    """Flip along dim 0."""
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return Flip.apply(input, (0,))


class Roll(Op):
    @staticmethod
    def forward(x, shifts, dims):
        return xp.roll(x, shifts, axis=dims)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, ctx.shifts, ctx.dims = inputs

    @staticmethod
    def backward(ctx, g):
        return Roll.apply(g, tuple(-s for s in ctx.shifts), ctx.dims), None, None


@register()
def roll(input, shifts, dims=None) -> Tensor:
    """Elements shifted cyclically along ``dims`` (over the flattened tensor when None)."""
    shifts = _ints(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        return Roll.apply(input, shifts, None)
    dims = _ints(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    return Roll.apply(input, shifts, tuple(wrap_dim(d, input._data.ndim) for d in dims))


# ----------------------------------------------------------------------------- triangles and diagonals
class Tri(Op):
    @staticmethod
    def forward(x, k, upper):
        return xp.triu(x, k) if upper else xp.tril(x, k)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, ctx.k, ctx.upper = inputs

    @staticmethod
    def backward(ctx, g):
        return Tri.apply(g, ctx.k, ctx.upper), None, None


def _tri(name: str, upper: bool):
    def fn(input, diagonal: int = 0) -> Tensor:
        if input._data.ndim < 2:
            raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
        return Tri.apply(input, int(diagonal), upper)
    fn.__name__ = name
    fn.__doc__ = f"The {'upper' if upper else 'lower'} triangle of the last two dims; the rest set to zero."
    return register(inplace=name + "_")(fn)


tril = _tri("tril", False)
triu = _tri("triu", True)


def _diag_view(a, offset: int, d1: int, d2: int):
    """A writable view of a diagonal (NumPy's is read-only), as torch's diagonal is."""
    v = xp.diagonal(a, offset, d1, d2)
    if a.flags.writeable:
        v.flags.writeable = True
    return v


class Diagonal(Op):
    @staticmethod
    def forward(x, offset, d1, d2):
        return _diag_view(x, offset, d1, d2)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.in_shape = inputs[0]._data.shape
        ctx.args = inputs[1:]

    @staticmethod
    def backward(ctx, g):
        return DiagScatter.apply(g, ctx.in_shape, *ctx.args), None, None, None


class DiagScatter(Op):
    """A zero tensor of ``shape`` with ``x`` on a diagonal (diag_embed, and diagonal's gradient)."""

    @staticmethod
    def forward(x, shape, offset, d1, d2):
        out = xp.zeros(shape, x.dtype)
        _diag_view(out, offset, d1, d2)[...] = x
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.args = inputs[2:]

    @staticmethod
    def backward(ctx, g):
        return Diagonal.apply(g, *ctx.args), None, None, None, None


def _diag_dims(d1: int, d2: int, nd: int) -> tuple:
    d1, d2 = wrap_dim(d1, nd), wrap_dim(d2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {d1}, {d2}")
    return d1, d2


@register()
def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A view of the diagonal of dims ``dim1``/``dim2`` (moved to the end), ``offset`` above the main one."""
    d1, d2 = _diag_dims(dim1, dim2, input._data.ndim)
    return Diagonal.apply(input, int(offset), d1, d2)


@register()
def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Tensors whose diagonals (of dims ``dim1``/``dim2``) are the last dim of ``input``, zeros elsewhere."""
    nd = input._data.ndim + 1
    d1, d2 = _diag_dims(dim1, dim2, nd)
    n = (input._data.shape[-1] if input._data.ndim else 1) + abs(int(offset))
    shape = list(input._data.shape[:-1])
    for d in sorted((d1, d2)):
        shape.insert(d, n)
    return DiagScatter.apply(input, tuple(shape), int(offset), d1, d2)


@register()
def diag(input, diagonal: int = 0) -> Tensor:
    """A 1-D tensor as a diagonal matrix, or the diagonal of a matrix."""
    nd = input._data.ndim
    if nd == 1:
        return diag_embed(input, diagonal, 0, 1)
    if nd == 2:
        return Diagonal.apply(input, int(diagonal), 0, 1).clone()  # torch.diag copies; diagonal() is the view
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {nd}D")


# ----------------------------------------------------------------------------- sliding windows
class Unfold(Op):
    @staticmethod
    def forward(x, dim, size, step):
        win = xp.lib.stride_tricks.sliding_window_view(x, size, axis=dim, writeable=x.flags.writeable)
        return win[(slice(None),) * dim + (slice(None, None, step),)]

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.in_shape = inputs[0]._data.shape
        ctx.args = inputs[1:]

    @staticmethod
    def backward(ctx, g):
        return UnfoldGrad.apply(g, ctx.in_shape, *ctx.args), None, None, None


class UnfoldGrad(Op):
    """Windows added back onto the positions they were taken from (they may overlap)."""

    @staticmethod
    def forward(g, shape, dim, size, step):
        out = xp.zeros(shape, g.dtype)
        n = g.shape[dim]
        lead = (slice(None),) * dim
        for k in range(size):  # the k-th element of every window at once
            out[lead + (slice(k, k + step * (n - 1) + 1, step),)] += g[..., k]
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.args = inputs[2:]

    @staticmethod
    def backward(ctx, g):
        return Unfold.apply(g, *ctx.args), None, None, None, None


@register(function=False)
def unfold(self, dimension: int, size: int, step: int) -> Tensor:
    """A view of all windows of ``size`` elements along ``dimension``, ``step`` apart, in a new last dim."""
    if self._data.ndim == 0:
        return reshape(unfold(reshape(self, (1,)), 0, size, step), (size,))
    d = wrap_dim(dimension, self._data.ndim)
    n = self._data.shape[d]
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return Unfold.apply(self, d, int(size), int(step))


# ----------------------------------------------------------------------------- more views and splits (torch's tail)
@register()
def select(input, dim: int, index: int) -> Tensor:
    """The slice at ``index`` of ``dim``, with that dim removed (a view)."""
    if input._data.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    if not -n <= int(index) < n:
        raise IndexError(f"select(): index {int(index)} out of range for tensor of size {list(input.shape)} at "
                         f"dimension {d}")
    return input[(slice(None),) * d + (int(index),)]


@register()
def split_with_sizes(input, split_sizes, dim: int = 0) -> tuple:
    """Views of consecutive pieces of the given sizes along ``dim``."""
    return split(input, list(_ints(split_sizes)), dim)


def _split_along(name: str, dim: int, min_dims: int, doc: str):
    def fn(input, indices_or_sections) -> tuple:
        nd = input._data.ndim
        if nd < min_dims:
            raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} dimension, but got a tensor "
                               f"with {nd} dimensions!")
        d = 0 if name == "hsplit" and nd == 1 else dim
        if not isinstance(indices_or_sections, (int, xp.integer, list, tuple)):
            raise TypeError(f"{name}() received an invalid combination of arguments - got (Tensor, "
                            f"{type(indices_or_sections).__name__}), but expected (Tensor input, int sections) or "
                            "(Tensor input, tuple of ints indices)")
        if isinstance(indices_or_sections, (int, xp.integer)):
            k, n = int(indices_or_sections), input._data.shape[d]
            if k == 0 or n % k:
                raise RuntimeError(f"torch.{name} attempted to split along dimension {d}, but the size of the "
                                   f"dimension {n} is not divisible by the split_size {k}!")
        return tensor_split(input, indices_or_sections, d)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return register(name)(fn)


hsplit = _split_along("hsplit", 1, 1, "Split along dim 1 (dim 0 for 1-D tensors), as NumPy's hsplit.")
vsplit = _split_along("vsplit", 0, 2, "Split along dim 0, as NumPy's vsplit.")
dsplit = _split_along("dsplit", 2, 3, "Split along dim 2, as NumPy's dsplit.")


@register()
def diagflat(input, offset: int = 0) -> Tensor:
    """A matrix with the flattened ``input`` on its ``offset`` diagonal."""
    return diag(reshape(input, (-1,)), offset)


@register()
def diagonal_scatter(input, src, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A copy of ``input`` with ``src`` written on the diagonal that :func:`diagonal` would select."""
    d1, d2 = _diag_dims(dim1, dim2, input._data.ndim)
    expected = _diag_view(xp.broadcast_to(xp.empty((), bool), input._data.shape), int(offset), d1, d2).shape  # shape only
    if src._data.shape != expected:
        raise RuntimeError(f"diagonal_scatter: expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(expected)}")
    mask = xp.zeros(input._data.shape, bool)
    _diag_view(mask, int(offset), d1, d2)[...] = True
    embedded = DiagScatter.apply(src.to(input.dtype), input._data.shape, int(offset), d1, d2)
    return FUNCTIONS["where"](Tensor._make(mask), embedded, input)


def _fill_diagonal(input, fill_value, wrap: bool = False) -> Tensor:
    nd = input._data.ndim
    if nd < 2:
        raise RuntimeError("dimensions must larger than 1")
    if nd > 2 and len(set(input._data.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    mask = xp.zeros(input._data.shape, bool)
    xp.fill_diagonal(mask, True, wrap=wrap)
    return FUNCTIONS["where"](Tensor._make(mask), xp.asarray(fill_value, input._data.dtype).item(), input)


Tensor.fill_diagonal_ = inplace_method(_fill_diagonal, "fill_diagonal_")
Tensor.fill_diagonal_.__doc__ = "Fill the main diagonal (wrapping for tall matrices when ``wrap``), in place."


@register(function=False)
def sum_to_size(self, *size) -> Tensor:
    """Sum ``self`` down to ``size`` (the reverse of expanding to ``self``'s shape)."""
    size = _shape_arg(size)
    shape = self._data.shape
    ok = len(size) <= len(shape) and all(s == t or s == 1 for s, t in zip(size[::-1], shape[::-1]))
    if not ok:
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    if not size:  # torch sums to no dims always, even a 0-d tensor: integers become int64
        return self.sum()
    return sum_to(self, size)


@register()
def narrow_copy(input, dim: int, start: int, length: int) -> Tensor:
    """A copy of :func:`narrow`'s view."""
    if input._data.ndim and dim >= input._data.ndim:  # torch's narrow_copy checks this one apart
        raise RuntimeError(f"narrow_copy(): Expected dim < static_cast<int64_t>(self_sizes.size()) to be true, but "
                           f"got false. (dim {dim}, {input._data.ndim} dims)")
    return narrow(input, dim, start, length).clone()


@register(method=False)
def block_diag(*tensors) -> Tensor:
    """The tensors (0-, 1- or 2-D) placed along the diagonal of one matrix, zeros elsewhere."""
    mats = []
    for i, t in enumerate(tensors):
        if t._data.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t._data.ndim} dimensions")
        mats.append(t.reshape(1, -1) if t._data.ndim < 2 else t)
    if not mats:
        return Tensor._make(xp.empty((1, 0), dtype=_dtype.get_default_dtype().np))
    dt = _dtype.result_type(*mats)
    mats = [m.to(dt) for m in mats]
    width = sum(m._data.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        r, c = m._data.shape
        pieces = [Tensor._make(xp.zeros((r, left), dt.np)), m, Tensor._make(xp.zeros((r, width - left - c), dt.np))]
        rows.append(cat(pieces, 1))
        left += c
    return cat(rows, 0)


@register(method=False)
def vander(x, N: int | None = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of a 1-D tensor: columns x^(N-1), ..., x, 1 (ascending powers if ``increasing``)."""
    if x._data.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x._data.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    if x._data.dtype.kind in "bui":
        x = x.to(_dtype.int64)
    if n == 0:
        return Tensor._make(xp.empty((x._data.shape[0], 0), dtype=x._data.dtype))
    # running products, not powers: their gradient is exact where x is 0
    ones = Tensor._make(xp.ones((x._data.shape[0], 1), dtype=x._data.dtype))
    powers = cat([ones, x.reshape(-1, 1).expand(x._data.shape[0], n - 1)], 1).cumprod(1)
    return powers if increasing else flip(powers, 1)


@register(name="slice", method=False)
def slice_(input, dim: int = 0, start: int | None = None, end: int | None = None, step: int = 1) -> Tensor:
    """``input[..., start:end:step]`` along ``dim`` (a view), as aten's ``slice``."""
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    d = wrap_dim(dim, input._data.ndim, "slice")
    return input[(slice(None),) * d + (slice(start, end, step),)]


# ----------------------------------------------------------------------------- as_strided: any geometry on the memory
# A tensor's storage is the memory of its root array (the one that owns it); as_strided lays a new size and
# stride over it from a storage offset, as torch's. Its gradient goes through the storage: the output's
# gradient is added at each element's storage position, and the input reads its own positions back.
def _storage(a):
    """The root array's memory as a flat array (what torch calls the storage)."""
    root = _root(a)
    if not (root.flags.c_contiguous or root.flags.f_contiguous):
        raise RuntimeError("as_strided: the tensor's memory is not one contiguous block")
    return xp.ndarray(root.size, root.dtype, buffer=root)


def _positions(size, stride, offset: int):
    """The storage position of each element of a ``size``/``stride`` geometry."""
    pos = xp.full(size, offset, dtype=xp.int64)
    for k, (n, st) in enumerate(zip(size, stride)):
        pos += (xp.arange(n, dtype=xp.int64) * st).reshape((-1,) + (1,) * (len(size) - k - 1))
    return pos


def _may_overlap(size, stride) -> bool:
    """False when no two elements can share a position: each dim's stride, smallest first, steps over
    everything the smaller ones span (the common case, checked without listing positions)."""
    span = 0
    for st, n in sorted((st, n) for n, st in zip(size, stride) if n > 1):
        if st <= span:
            return True
        span += (n - 1) * st
    return False


class AsStridedView(Op):
    @staticmethod
    def forward(x, size, stride, offset):
        flat = _storage(x)
        item = flat.itemsize
        out = xp.ndarray(size, flat.dtype, buffer=flat, offset=offset * item, strides=tuple(s * item for s in stride))
        if _may_overlap(size, stride) and xp.unique(_positions(size, stride, offset)).size < out.size:
            out.flags.writeable = False  # elements share memory: torch refuses to write into such a tensor
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, size, stride, offset = inputs
        flat = _storage(x._data)
        ctx.n, ctx.in_shape = flat.size, x._data.shape
        ctx.save_for_backward(Tensor._make(_positions(size, stride, offset).reshape(-1)),
                              Tensor._make(_offsets(x._data, flat).reshape(-1)))

    @staticmethod
    def backward(ctx, g):
        out_pos, in_pos = ctx.saved_tensors
        storage = Tensor._make(xp.zeros(ctx.n, g._data.dtype)).index_add(0, out_pos, g.reshape(-1))
        return storage.index_select(0, in_pos).reshape(ctx.in_shape), None, None, None


def _strided_args(op: str, input: Tensor, size, stride, storage_offset, n: int) -> tuple:
    """Checked ``(size, stride, offset)`` for an as_strided geometry over ``n`` storage elements."""
    size, stride = _ints(size), _ints(stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape (sizes {list(size)}, strides {list(stride)})")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"{op}: Negative strides are not supported at the moment, got strides: {list(stride)}")
    offset = int(storage_offset)
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    need = 0 if 0 in size else offset + sum((a - 1) * b for a, b in zip(size, stride)) + 1
    if need > n:
        item = input._data.itemsize
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, and "
                           f"itemsize {item} requiring a storage size of {need * item} are out of bounds for storage "
                           f"of size {n * item}")
    return size, stride, offset


@register()
def as_strided(input, size, stride, storage_offset: int | None = None) -> Tensor:
    """A view of ``input``'s memory with the given size and strides (in elements) from ``storage_offset``."""
    if storage_offset is None:
        storage_offset = input.storage_offset()
    args = _strided_args("as_strided", input, size, stride, storage_offset, _storage(input._data).size)
    return AsStridedView.apply(input, *args)


@register(function=False)
def as_strided_(self, size, stride, storage_offset: int | None = None) -> Tensor:
    """Give ``self`` the geometry :func:`as_strided` would view (same memory), in place."""
    self._data = as_strided(self.detach(), size, stride, storage_offset)._data
    return self


@register()
def as_strided_scatter(input, src, size, stride, storage_offset: int | None = None) -> Tensor:
    """A copy of ``input`` (read as its flat elements) with ``src`` written where :func:`as_strided` would view."""
    size, stride, offset = _strided_args("as_strided_scatter", input, size, stride, storage_offset or 0,
                                         input._data.size)
    if src._data.shape != size:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
                           f"slice size = {list(size)}")
    pos = Tensor._make(_positions(size, stride, offset).reshape(-1))
    flat = reshape(input, (-1,))
    return FUNCTIONS["index_put"](flat, (pos,), src.to(input.dtype).reshape(-1)).reshape(input._data.shape)


@register("_chunk_cat", method=False)
def chunk_cat(tensors, dim: int, num_chunks: int) -> Tensor:
    """Each tensor cut into ``num_chunks`` chunks along ``dim`` (zero-padded to equal chunks), each chunk
    flattened with the dims after ``dim``, and the chunks joined: ``(*lead, num_chunks, total)``."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("_chunk_cat expects a non-empty input tensor list")
    if num_chunks < 1:
        raise RuntimeError("_chunk_cat expects positive num_chunks")
    if any(t._data.size == 0 for t in tensors):
        raise RuntimeError("_chunk_cat expects non-empty tensor")
    nds = {t._data.ndim for t in tensors}
    if dim < 0 and len(nds) > 1:
        raise RuntimeError("_chunk_cat expects non-negative dim when input tensors have different ndims")
    if any(dim >= n for n in nds):
        raise RuntimeError("_chunk_cat expects dim < ndim for all input tensors")
    d = wrap_dim(dim, tensors[0]._data.ndim)
    lead = tensors[0]._data.shape[:d]
    if any(t._data.shape[:d] != lead for t in tensors):
        raise RuntimeError("_chunk_cat expects same sizes of 0,...,dim-1 dimensions for all tensors")
    pieces = []
    for t in tensors:
        n = t._data.shape[d]
        pad = -(-n // num_chunks) * num_chunks - n
        if pad:
            zeros = Tensor._make(xp.zeros(lead + (pad,) + t._data.shape[d + 1:], t._data.dtype))
            t = cat([t, zeros], d)
        pieces.append(reshape(t, lead + (num_chunks, -1)))
    return cat(pieces, d + 1)
