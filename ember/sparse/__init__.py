"""Sparse tensors in COO and CSR layouts, and ``ember.sparse``'s products, as torch's.

A sparse tensor here is two plain parts: integer coordinates (``indices``, or ``crow_indices`` and
``col_indices`` for CSR) and an ember tensor of ``values``. Every operation is written with ember ops on
the values (gathers, ``index_add``, ``index_put``), so gradients reach the values and the dense operands
through ordinary autograd; the coordinates never carry gradients. ``SparseTensor`` is not an
``ember.Tensor``: only the operations below accept it.
"""
from __future__ import annotations

import ember
from .._backend import xp
from .._ops.conversion import layout
from .._tensor import Size, Tensor

sparse_coo = layout("sparse_coo")
sparse_csr = layout("sparse_csr")

__all__ = ["SparseTensor", "addmm", "mm", "sampled_addmm", "spmm", "sparse_coo", "sparse_coo_tensor", "sparse_csr",
           "sparse_csr_tensor"]


class SparseTensor:
    """A sparse COO or CSR tensor: integer coordinates plus a values tensor (which carries autograd)."""

    def __init__(self, layout_: layout, shape, values: Tensor, indices=None, crow=None, col=None,
                 coalesced: bool = False) -> None:
        self.layout, self.shape, self._values_t, self._coalesced = layout_, Size(shape), values, coalesced
        self._indices_t, self._crow, self._col = indices, crow, col

    # ------------------------------------------------------------------ metadata
    @property
    def dtype(self):
        return self._values_t.dtype

    @property
    def device(self):
        return self._values_t.device

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        """Number of dimensions (sparse and dense)."""
        return len(self.shape)

    def size(self, dim: int | None = None):
        """The shape, or the length of one dimension."""
        return self.shape if dim is None else self.shape[dim]

    @property
    def is_sparse(self) -> bool:
        return self.layout is sparse_coo

    @property
    def is_sparse_csr(self) -> bool:
        return self.layout is sparse_csr

    def sparse_dim(self) -> int:
        """How many leading dimensions the coordinates address."""
        return 2 if self.layout is sparse_csr else int(self._indices_t.shape[0])

    def dense_dim(self) -> int:
        """How many trailing dimensions each stored value has."""
        return self.ndim - self.sparse_dim()

    def _nnz(self) -> int:
        return int(self._values_t.shape[0])

    def is_coalesced(self) -> bool:
        """True when the coordinates are sorted and unique (COO only)."""
        if self.layout is not sparse_coo:
            raise RuntimeError(f"is_coalesced expected sparse coordinate tensor layout but got {self.layout}")
        return self._coalesced

    # ------------------------------------------------------------------ autograd, through the values
    @property
    def requires_grad(self) -> bool:
        return self._values_t.requires_grad

    @property
    def grad_fn(self):
        return self._values_t.grad_fn

    @property
    def is_leaf(self) -> bool:
        return self._values_t.is_leaf

    def requires_grad_(self, requires_grad: bool = True) -> "SparseTensor":
        """Record operations on the values (a leaf only)."""
        self._values_t.requires_grad_(requires_grad)
        return self

    @property
    def grad(self):
        """The gradient of a leaf, with this tensor's sparsity pattern."""
        g = self._values_t.grad
        return None if g is None else self._with_values(g)

    def detach(self) -> "SparseTensor":
        """The same coordinates with detached values."""
        return self._with_values(self._values_t.detach())

    def _with_values(self, values: Tensor) -> "SparseTensor":
        return SparseTensor(self.layout, self.shape, values, self._indices_t, self._crow, self._col,
                            self._coalesced)

    # ------------------------------------------------------------------ parts
    def _need(self, lay: layout, what: str) -> None:
        if self.layout is not lay:
            raise RuntimeError(f"{what} expected sparse {'coordinate' if lay is sparse_coo else 'row compressed'} "
                               f"tensor layout but got {self.layout}")

    def indices(self) -> Tensor:
        """The (sparse_dim, nnz) coordinates of a coalesced COO tensor."""
        self._need(sparse_coo, "indices")
        if not self._coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
        return self._indices_t

    def values(self) -> Tensor:
        """The stored values (differentiable)."""
        if self.layout is sparse_coo and not self._coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
        return self._values_t

    def _indices(self) -> Tensor:
        self._need(sparse_coo, "_indices")
        return self._indices_t

    def _values(self) -> Tensor:
        return self._values_t

    def crow_indices(self) -> Tensor:
        """CSR: where each row's entries start in ``col_indices`` and ``values``."""
        self._need(sparse_csr, "crow_indices")
        return self._crow

    def col_indices(self) -> Tensor:
        """CSR: the column of each stored value."""
        self._need(sparse_csr, "col_indices")
        return self._col

    def _coo_parts(self):
        """(coordinates array of shape (sparse_dim, nnz), values) in either layout."""
        if self.layout is sparse_coo:
            return self._indices_t._data, self._values_t
        return xp.stack([_csr_rows(self._crow._data), self._col._data]), self._values_t

    # ------------------------------------------------------------------ conversions
    def coalesce(self) -> "SparseTensor":
        """Coordinates sorted and unique, the values of repeated coordinates summed."""
        self._need(sparse_coo, "coalesce")
        if self._coalesced:
            return self
        idx = self._indices_t._data
        dims = tuple(self.shape[:idx.shape[0]])
        # one flat position per stored value (all 0 without sparse dims); sorted unique positions are the
        # coalesced coordinates, and each value is added into its position's slot
        flat = xp.ravel_multi_index(tuple(idx), dims) if dims else xp.zeros(idx.shape[1], xp.int64)
        uniq, inverse = xp.unique(flat, return_inverse=True)
        values = self._values_t.new_zeros((len(uniq),) + tuple(self._values_t.shape[1:]))
        values = values.index_add(0, Tensor._make(inverse.reshape(-1).astype(xp.int64)), self._values_t)
        new_idx = xp.stack(xp.unravel_index(uniq, dims)) if dims else xp.zeros((0, len(uniq)))
        return SparseTensor(sparse_coo, self.shape, values, Tensor._make(new_idx.astype(xp.int64)), coalesced=True)

    def to_dense(self, dtype=None, *, masked_grad=None) -> Tensor:
        """The dense tensor (zeros where nothing is stored; repeated coordinates add up)."""
        idx, values = self._coo_parts()
        if not idx.shape[0]:  # no sparse dims: every stored value is the whole (dense) tensor
            out = values.sum(0, dtype=values.dtype)
            return out if dtype is None else out.to(dtype)
        out = ember.zeros(self.shape, dtype=values.dtype)
        out = out.index_put(tuple(Tensor._make(i) for i in idx), values, accumulate=True)
        return out if dtype is None else out.to(dtype)

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None) -> "SparseTensor":
        """This tensor in COO layout."""
        if self.layout is sparse_coo and layout in (None, sparse_coo):
            return self
        idx, values = self._coo_parts()
        coo = SparseTensor(sparse_coo, self.shape, values, Tensor._make(idx.astype(xp.int64)), coalesced=True)
        return coo if layout in (None, sparse_coo) else coo.to_sparse_csr()

    def to_sparse_csr(self, dense_dim=None) -> "SparseTensor":
        """This (2-D) tensor in CSR layout."""
        if self.layout is sparse_csr:
            return self
        if self.ndim != 2 or self.dense_dim():
            raise RuntimeError(f"to_sparse_csr: expected a 2-D tensor without dense dimensions, got shape "
                               f"{list(self.shape)} with {self.dense_dim()} dense dimensions")
        coo = self.coalesce()
        rows, cols = coo._indices_t._data
        crow = xp.concatenate([[0], xp.cumsum(xp.bincount(rows, minlength=self.shape[0]))]).astype(xp.int64)
        return SparseTensor(sparse_csr, self.shape, coo._values_t, crow=Tensor._make(crow),
                            col=Tensor._make(cols.astype(xp.int64)))

    def to_sparse_coo(self) -> "SparseTensor":
        """This tensor in COO layout (itself when it is COO)."""
        return self.to_sparse()

    def smm(self, mat: Tensor) -> "SparseTensor":
        """``self @ mat`` (sparse COO times dense) as a sparse COO tensor."""
        return mm(self, mat).to_sparse()

    def sspaddmm(self, mat1: "SparseTensor", mat2: Tensor, *, beta: float = 1, alpha: float = 1) -> "SparseTensor":
        """``beta * self + alpha * (mat1 @ mat2)`` (``mat1`` sparse, ``mat2`` dense) as a sparse COO tensor."""
        if not isinstance(mat1, SparseTensor):
            raise RuntimeError("sspaddmm: expected 'mat1' to have sparse layout, got 'mat1' with layout Strided")
        return (beta * self.to_dense() + alpha * mm(mat1, mat2)).to_sparse()

    # ------------------------------------------------------------------ as a gradient (Embedding(sparse=True))
    __array_ufunc__ = None  # ``array + sparse`` defers to __radd__: a gradient buffer's dense sum

    def __add__(self, other):
        if isinstance(other, SparseTensor):
            return _sparse_add(self, other)
        raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")

    def __radd__(self, other):
        return dense_add(other, self)

    def __neg__(self) -> "SparseTensor":
        return self._with_values(-self._values_t)

    def __mul__(self, other) -> "SparseTensor":
        return self._with_values(self._values_t * other)

    __rmul__ = __mul__

    def add_(self, other: "SparseTensor", *, alpha: float = 1) -> "SparseTensor":
        """``self += alpha * other`` in place, for a sparse ``other`` (torch's rule in ``_sparse_add``)."""
        if not isinstance(other, SparseTensor):
            raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")
        return self._adopt(_sparse_add(self, other if alpha == 1 else other * alpha))

    def mul_(self, other) -> "SparseTensor":
        """Scale the stored values in place."""
        self._values_t = self._values_t * other
        return self

    def zero_(self) -> "SparseTensor":
        """No stored entries (torch's zero_ empties a sparse tensor rather than storing zeros)."""
        idx = xp.zeros((self.sparse_dim(), 0), xp.int64)
        return self._adopt(SparseTensor(sparse_coo, self.shape, self._values_t.detach()[:0], Tensor._make(idx),
                                        coalesced=True))

    def clone(self) -> "SparseTensor":
        """A copy with its own values."""
        return self._with_values(self._values_t.clone())

    def _adopt(self, other: "SparseTensor") -> "SparseTensor":
        self._indices_t, self._values_t, self._coalesced = other._indices_t, other._values_t, other._coalesced
        return self

    def __matmul__(self, other):
        return mm(self, other)

    def __rmatmul__(self, other):
        return mm(other, self)

    def to(self, *args, **kwargs) -> "SparseTensor":
        """This tensor on ``device`` (the CPU) and/or in ``dtype``, as Tensor.to."""
        dtype = kwargs.get("dtype", next((a for a in args if isinstance(a, ember.dtype)), None))
        device = kwargs.get("device", next((a for a in args if isinstance(a, (str, ember.device))), None))
        if device is not None and str(device).split(":")[0] != "cpu":
            from ..cuda import unavailable
            raise unavailable(device)
        return self if dtype is None or dtype == self.dtype else self._with_values(self._values_t.to(dtype))

    def t(self) -> "SparseTensor":
        """The transpose of a 2-D COO tensor."""
        self._need(sparse_coo, "t")
        return SparseTensor(sparse_coo, self.shape[::-1], self._values_t, Tensor._make(self._indices_t._data[::-1]))

    def __repr__(self) -> str:
        if self.layout is sparse_coo:
            parts = f"indices={self._indices_t!r},\n       values={self._values_t!r}"
        else:
            parts = (f"crow_indices={self._crow!r},\n       col_indices={self._col!r},\n"
                     f"       values={self._values_t!r}")
        return f"tensor({parts}, size={tuple(self.shape)}, nnz={self._nnz()}, layout={self.layout})"


def _sparse_add(t: SparseTensor, s: SparseTensor) -> SparseTensor:
    """``t + s`` for two COO tensors, as torch's CPU kernel adds them: when both values are contiguous, the
    two entry lists are merged as sorted lists would be (the heads compared, equal heads summed), whatever
    their order; otherwise (a value block broadcast from a sum's gradient) the entries are concatenated,
    and coalesced once they outnumber the dense tensor's elements."""
    if tuple(t.shape) != tuple(s.shape):
        raise RuntimeError(f"add: expected sizes of 'self' and 'other' to match, but {list(t.shape)} != "
                           f"{list(s.shape)}")
    if not s._nnz():
        return t._with_values(t._values_t.clone())
    if not t._nnz():
        return s._with_values(s._values_t.clone())
    ti, si = t._indices_t._data, s._indices_t._data
    tv, sv = t._values_t, s._values_t
    if tv._data.flags.c_contiguous and sv._data.flags.c_contiguous:
        dims = tuple(t.shape[:ti.shape[0]])
        tk, sk = (xp.ravel_multi_index(tuple(i), dims).tolist() for i in (ti, si))
        t_at, s_at, keys = [], [], []
        a = b = 0
        while a < len(tk) or b < len(sk):  # one output entry per turn: the smaller head, or both when equal
            x = tk[a] if a < len(tk) else None
            y = sk[b] if b < len(sk) else None
            if y is None or (x is not None and x <= y):
                t_at.append(len(keys))
                a += 1
            if x is None or (y is not None and y <= x):
                s_at.append(len(keys))
                b += 1
            keys.append(x if y is None or (x is not None and x <= y) else y)
        values = tv.new_zeros((len(keys),) + tuple(tv.shape[1:]))
        values = values.index_add(0, Tensor._make(xp.array(t_at, xp.int64)), tv)
        values = values.index_add(0, Tensor._make(xp.array(s_at, xp.int64)), sv)
        idx = xp.stack(xp.unravel_index(xp.array(keys, xp.int64), dims)).astype(xp.int64)
        return SparseTensor(sparse_coo, t.shape, values, Tensor._make(idx), coalesced=t._coalesced and s._coalesced)
    idx = Tensor._make(xp.concatenate([ti, si], axis=1))
    out = SparseTensor(sparse_coo, t.shape, ember.cat([tv, sv]), idx)
    if out._nnz() > _numel(out.shape):  # torch's bound on the growth of nnz (its flag stays uncoalesced)
        c = out.coalesce()
        out = SparseTensor(sparse_coo, t.shape, c._values_t, c._indices_t)
    return out


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def dense_add(dense, s: SparseTensor):
    """``dense + s`` (an array or a tensor, with the same kind out): the stored values are added one by one,
    in order, into a copy of ``dense``, as torch's CPU kernel does."""
    idx = s._coo_parts()[0]
    if isinstance(dense, Tensor):
        return dense.index_put(tuple(Tensor._make(i) for i in idx), s._values_t.to(dense.dtype), accumulate=True)
    out = xp.array(dense, dtype=xp.result_type(dense, s._values_t._data), copy=True)
    xp.add.at(out, tuple(idx), s._values_t._data)
    return out


def sparse_embedding_grad(g: Tensor, indices: xp.ndarray, num: int, keep=None) -> SparseTensor:
    """An embedding weight's sparse gradient, as torch's: one entry per lookup, in lookup order, the
    ``keep`` mask's entries only; indices of shape (1, nnz), values (nnz, dim), uncoalesced unless nnz < 2."""
    flat = indices.reshape(-1).astype(xp.int64)
    dim = g.shape[-1]
    values = g.reshape(flat.size, dim)
    if keep is not None and not keep.all():
        flat = flat[keep]
        values = values[Tensor._make(xp.flatnonzero(keep))]
    return SparseTensor(sparse_coo, (num, dim), values, Tensor._make(flat.reshape(1, -1)), coalesced=flat.size < 2)


def stored_at(g: SparseTensor):
    """A coalesced ``g``'s entries as (an index into the dense array, the values in that index's shape): an
    optimizer's update of only the stored rows. Without sparse dims the one entry is the whole tensor."""
    idx, values = g._indices_t._data, g._values_t._data
    if not idx.shape[0]:
        return (Ellipsis,), values.reshape(values.shape[1:])
    return tuple(idx), values


def accumulate_sparse(var: Tensor, g, create_graph: bool, hooked: bool = False) -> None:
    """Add ``g`` into ``var.grad`` where either is sparse, as torch's AccumulateGrad: a first sparse gradient
    is kept with values of its own, a sparse one added to a sparse ``.grad`` in place (``_sparse_add``), to a
    dense one in place, entry by entry; a dense one added to a sparse ``.grad`` makes it dense."""
    for fn in list(var._hooks.values()) if var._hooks and not hooked else ():  # they see it sparse, as torch's
        new = fn(g)
        g = g if new is None else new
    old = var._grad
    if isinstance(g, SparseTensor):
        if old is None:
            values = g._values_t.clone() if create_graph else Tensor._make(xp.array(g._values_t._data, copy=True))
            var._grad = SparseTensor(sparse_coo, g.shape, values, g._indices_t, coalesced=g._coalesced)
        elif isinstance(old, SparseTensor):
            if create_graph:
                var._grad = old + g
            else:
                old.add_(g.detach())
        elif create_graph:
            var._grad = dense_add(old, g)
        else:
            xp.add.at(old._data, tuple(g._indices_t._data), g._values_t._data)
            old._version += 1
        return
    dense = g if create_graph else g._data if isinstance(g, Tensor) else g
    total = dense_add(dense, old)
    var._grad = total if isinstance(total, Tensor) else Tensor._make(total)


def _csr_rows(crow) -> "xp.ndarray":
    """The row of each stored value, from CSR's row pointers."""
    return xp.repeat(xp.arange(len(crow) - 1), xp.diff(crow)).astype(xp.int64)


def _as_tensor(x, dtype=None, integer: bool = False) -> Tensor:
    t = x if isinstance(x, Tensor) else ember.tensor(x)
    if integer and t.dtype not in (ember.int64, ember.int32):
        raise RuntimeError(f"indices must be an int64 or int32 tensor, got {t.dtype}")
    return t if dtype is None else t.to(dtype)


def _leaf(values: Tensor, requires_grad: bool) -> Tensor:
    return values.detach().requires_grad_(True) if requires_grad else values


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, pin_memory: bool = False,
                      requires_grad: bool = False, check_invariants=None, is_coalesced=None) -> SparseTensor:
    """A COO tensor: ``values[k]`` at coordinates ``indices[:, k]``; ``size`` inferred when absent."""
    idx = _as_tensor(indices, integer=True).to(ember.int64)
    values = _as_tensor(values, dtype)
    if idx.ndim != 2 or idx.shape[1] != values.shape[0]:
        raise RuntimeError(f"sparse_coo_tensor: indices of shape {list(idx.shape)} do not match values of shape "
                           f"{list(values.shape)} (expected (sparse_dim, nnz) and (nnz, ...))")
    arr = idx._data
    if size is None:
        size = tuple(int(m) + 1 for m in (arr.max(axis=1) if arr.shape[1] else [-1] * arr.shape[0]))
        size += tuple(values.shape[1:])
    size = tuple(size)
    if len(size) != arr.shape[0] + values.ndim - 1 or tuple(size[arr.shape[0]:]) != tuple(values.shape[1:]):
        raise RuntimeError(f"sparse_coo_tensor: size {list(size)} does not match indices {list(idx.shape)} and "
                           f"values {list(values.shape)}")
    if arr.shape[1] and ((arr < 0).any() or (arr.max(axis=1) >= xp.array(size[:arr.shape[0]])).any()):
        raise RuntimeError(f"sparse_coo_tensor: size {list(size)} is inconsistent with indices (an index is "
                           f"negative or out of bounds)")
    # torch calls fewer than two entries coalesced, unless told otherwise
    coalesced = arr.shape[1] < 2 if is_coalesced is None else bool(is_coalesced)
    return SparseTensor(sparse_coo, size, _leaf(values, requires_grad), idx, coalesced=coalesced)


def sparse_csr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None, layout=None, device=None,
                      pin_memory: bool = False, requires_grad: bool = False, check_invariants=None) -> SparseTensor:
    """A CSR tensor: row ``i`` holds ``values[crow[i]:crow[i+1]]`` at columns ``col_indices[crow[i]:crow[i+1]]``."""
    crow = _as_tensor(crow_indices, integer=True).to(ember.int64)
    col = _as_tensor(col_indices, integer=True).to(ember.int64)
    values = _as_tensor(values, dtype)
    c, k = crow._data, col._data
    if crow.ndim != 1 or col.ndim != 1 or len(k) != values.shape[0] or len(c) == 0 or c[-1] != len(k) \
            or (xp.diff(c) < 0).any():
        raise RuntimeError(f"sparse_csr_tensor: crow_indices {list(crow.shape)}, col_indices {list(col.shape)} "
                           f"and values {list(values.shape)} do not describe a CSR matrix")
    if size is None:
        size = (len(c) - 1, int(k.max()) + 1 if len(k) else 0)
    if len(size) != 2 or size[0] != len(c) - 1 or (len(k) and (k.min() < 0 or k.max() >= size[1])):
        raise RuntimeError(f"sparse_csr_tensor: size {list(size)} is inconsistent with the indices")
    return SparseTensor(sparse_csr, size, _leaf(values, requires_grad), crow=crow, col=col)


def _to_sparse(self: Tensor, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None) -> SparseTensor:
    """This dense tensor in COO layout (the leading ``sparse_dim`` dimensions addressed by coordinates)."""
    sd = self.ndim if sparse_dim is None else int(sparse_dim)
    if not 0 <= sd <= self.ndim:
        raise RuntimeError(f"to_sparse: sparse_dim argument must be in [0,{self.ndim}] range, but {sd} is given")
    if sd == 0 and self.ndim:
        raise RuntimeError(f"to_sparse: sparse_dim argument must be > 0 for a {self.ndim}-D tensor")
    if sd == 0:  # a 0-d tensor: one stored value unless it is zero
        keep = int(self._data != 0)
        return SparseTensor(sparse_coo, self.shape, self.reshape(1)[:keep], Tensor._make(xp.zeros((0, keep), xp.int64)),
                            coalesced=True)
    nz = self._data != 0
    nz = nz.any(axis=tuple(range(sd, self.ndim))) if sd < self.ndim else nz
    idx = xp.stack(xp.nonzero(nz)).astype(xp.int64).reshape(sd, -1)
    values = self[tuple(Tensor._make(i) for i in idx)]
    coo = SparseTensor(sparse_coo, self.shape, values, Tensor._make(idx), coalesced=True)
    return coo if layout in (None, sparse_coo) else coo.to_sparse_csr()


def _to_sparse_csr(self: Tensor, dense_dim=None) -> SparseTensor:
    """This dense 2-D tensor in CSR layout."""
    return _to_sparse(self).to_sparse_csr(dense_dim)


Tensor.to_sparse = _to_sparse
Tensor.to_sparse_csr = _to_sparse_csr


def _to_dense(self: Tensor, dtype=None, *, masked_grad=None) -> Tensor:
    """``self`` (in ``dtype``): a dense tensor is its own dense form."""
    return self if dtype is None else self.to(dtype)


Tensor.to_dense = _to_dense


# ---------------------------------------------------------------------------------- products
def _check_mm(a, b, op: str) -> None:
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise RuntimeError(f"{op}: mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                           f"{b.shape[0]}x{b.shape[1]})" if a.ndim == 2 and b.ndim == 2 else
                           f"{op}: expected 2-D matrices, got {list(a.shape)} and {list(b.shape)}")


def mm(mat1, mat2, reduce: str | None = None) -> Tensor:
    """``mat1 @ mat2`` with one operand sparse; ``reduce`` (CSR ``mat1``) combines each row's products by
    ``sum``, ``mean``, ``amax`` or ``amin`` instead of adding them."""
    _check_mm(mat1, mat2, "sparse.mm")
    if isinstance(mat2, SparseTensor) and not isinstance(mat1, SparseTensor):
        return mm(mat2.to_sparse().t(), mat1.mT).mT  # (A S) = (S^T A^T)^T
    if not isinstance(mat1, SparseTensor) or isinstance(mat2, SparseTensor):
        raise NotImplementedError("sparse.mm: ember multiplies a sparse matrix by a dense one only")
    idx, values = mat1._coo_parts()
    rows, cols = (Tensor._make(i) for i in idx)
    terms = values.unsqueeze(1) * mat2.index_select(0, cols)  # one row of products per stored value
    out = ember.zeros((mat1.shape[0], mat2.shape[1]), dtype=terms.dtype)
    if reduce is None or reduce == "sum":
        return out.index_add(0, rows, terms)
    if mat1.layout is not sparse_csr:
        raise RuntimeError("sparse.mm: reduce is supported for sparse CSR matrices only")
    if reduce == "mean":
        counts = xp.maximum(xp.diff(mat1._crow._data), 1).astype(terms._data.dtype)
        return out.index_add(0, rows, terms) / Tensor._make(counts.reshape(-1, 1))
    if reduce in ("amax", "amin", "max", "min"):
        return out.scatter_reduce(0, rows.unsqueeze(1).expand(terms.shape), terms, "a" + reduce.lstrip("a"),
                                  include_self=False)
    raise RuntimeError(f"sparse.mm: reduce type of {reduce} is not supported (sum, mean, amax or amin)")


def spmm(mat1, mat2) -> Tensor:
    """``mat1 @ mat2`` for sparse ``mat1`` and dense ``mat2``."""
    return mm(mat1, mat2)


def addmm(mat: Tensor, mat1, mat2, *, beta: float = 1.0, alpha: float = 1.0) -> Tensor:
    """``beta * mat + alpha * (mat1 @ mat2)`` with sparse ``mat1``."""
    return beta * mat + alpha * mm(mat1, mat2)


def sampled_addmm(input: SparseTensor, mat1: Tensor, mat2: Tensor, *, beta: float = 1.0, alpha: float = 1.0,
                  out=None) -> SparseTensor:
    """``beta * input + alpha * (mat1 @ mat2)``, computed only where the CSR ``input`` stores a value."""
    if not isinstance(input, SparseTensor) or input.layout is not sparse_csr:
        raise RuntimeError(f"sampled_addmm: expected input to be a sparse CSR tensor, got "
                           f"{getattr(input, 'layout', type(input).__name__)}")
    _check_mm(mat1, mat2, "sampled_addmm")
    if tuple(input.shape) != (mat1.shape[0], mat2.shape[1]):
        raise RuntimeError(f"sampled_addmm: input of shape {list(input.shape)} does not match mat1 @ mat2 of "
                           f"shape {[mat1.shape[0], mat2.shape[1]]}")
    rows, cols = (Tensor._make(i) for i in input._coo_parts()[0])
    sampled = (mat1.index_select(0, rows) * mat2.index_select(1, cols).mT).sum(-1)
    result = input._with_values(beta * input._values_t + alpha * sampled)
    result._beta_of = (input, beta)  # torch's gradient of input: beta * the whole cotangent (see sparse_grad)
    return result


# ---------------------------------------------------------------------------------- autograd.grad
def _listed(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def sparse_grad(outputs, inputs, grad_outputs, **options):
    """``ember.autograd.grad`` when an output or an input is sparse (None otherwise): differentiated
    through the values; a sparse output's cotangent is read at its stored coordinates, and a sparse
    input's gradient has that input's sparsity pattern."""
    outs, ins = _listed(outputs), _listed(inputs)
    if not any(isinstance(t, SparseTensor) for t in outs + ins):
        return None
    given = [None] * len(outs) if grad_outputs is None else _listed(grad_outputs)
    gos = [_at_pattern(o, g) if isinstance(o, SparseTensor) and g is not None else g for o, g in zip(outs, given)]
    grads = ember.autograd.grad([o._values_t if isinstance(o, SparseTensor) else o for o in outs],
                                [i._values_t if isinstance(i, SparseTensor) else i for i in ins], gos, **options)
    grads = [i._with_values(g) if isinstance(i, SparseTensor) and g is not None else g for i, g in zip(ins, grads)]
    for o, g in zip(outs, given):
        # sampled_addmm's input receives beta * a dense cotangent whole, as in torch: a dense gradient whose
        # entries off the pattern come from the cotangent alone
        source, beta = getattr(o, "_beta_of", (None, None))
        if source is None or not isinstance(g, Tensor):
            continue
        for k, i in enumerate(ins):
            if i is source:
                done = grads[k].to_dense() if isinstance(grads[k], SparseTensor) else grads[k]
                off = beta * (g - o._with_values(_at_pattern(o, g)).to_dense())
                grads[k] = off if done is None else done + off
    return tuple(grads)


def _at_pattern(s: SparseTensor, g) -> Tensor:
    """A cotangent of ``s`` (dense or sparse) at the coordinates ``s`` stores."""
    dense = g.to_dense() if isinstance(g, SparseTensor) else g
    return dense[tuple(Tensor._make(i) for i in s._coo_parts()[0])]
