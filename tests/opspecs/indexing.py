"""Specs of the indexing ops (ember/_ops/indexing.py): x[idx], x[idx] = v, gather/scatter, index_*, masks."""
import numpy as np

from opinfo import OpSpec, Sample, arr, distinct

I64 = np.int64
S = slice


def idx(*values):
    return np.array(values, dtype=I64)


# ---------------------------------------------------------------- x[key]
BASIC_KEYS = [1, -1, (S(None), 1), (S(1, 3), S(None, None, 2)), (None, Ellipsis, 0), (Ellipsis, None),
              (1, S(None), None, -2), (S(5, 9),), (0, 0, 0), True]


def basic_samples(rng, dtype):
    return [Sample((arr(rng, (3, 4, 2), dtype),), {"key": k}, name=repr(k)) for k in BASIC_KEYS]


# advanced forms: (callable on x and index arrays, index arrays); repeats check that gradients add up
ADV_FORMS = {
    "rows": lambda x, i, j: x[i],
    "cols": lambda x, i, j: x[:, i],
    "pair": lambda x, i, j: x[i, j],
    "split": lambda x, i, j: x[i, :, j],
    "tail": lambda x, i, j: x[..., i],
    "slice_then": lambda x, i, j: x[1:, i],
    "int_and_array": lambda x, i, j: x[0, i],
    "int_slice_array": lambda x, i, j: x[0, :, i],   # torch applies the int first: no NumPy broadcast
    "int_ellipsis_array": lambda x, i, j: x[i, ..., 1],
    "list": lambda x, i, j: x[[2, 0, 2]],
    "nested_2d": lambda x, i, j: x[i.reshape(2, 2)],
    "mask": lambda x, i, j: x[j],
    "mask_cols": lambda x, i, j: x[:, j],
    "mask_and_slice": lambda x, i, j: x[j, 1:],
}


def adv_samples(rng, dtype):
    out = []
    for form in ADV_FORMS:
        i = idx(2, 0, 2, -1)
        j = np.array([True, False, True], bool) if form.startswith("mask") else idx(1, 1, 0, 1)
        out.append(Sample((arr(rng, (3, 3, 3), dtype), i, j), {"form": form}, name=form, grad=(True, False, False)))
    return out


# ---------------------------------------------------------------- x[key] = v
SET_FORMS = {  # form: (assignment, value shape); ``i`` is rows [0, 2], or a mask for the mask forms
    "row_scalar": (lambda y, v, i: y.__setitem__(1, 2.5), ()),
    "row": (lambda y, v, i: y.__setitem__(1, v), (4,)),
    "col_broadcast": (lambda y, v, i: y.__setitem__((S(None), 2), v), (1,)),
    "block": (lambda y, v, i: y.__setitem__((S(0, 2), S(1, 3)), v), (2, 2)),
    "rows": (lambda y, v, i: y.__setitem__(i, v), (2, 4)),
    "rows_leading_one": (lambda y, v, i: y.__setitem__(i, v), (1, 1, 4)),
    "rows_cols": (lambda y, v, i: y.__setitem__((i, S(1, None)), v), (3,)),
    "mask": (lambda y, v, i: y.__setitem__(i, v), ()),
    "mask_rows": (lambda y, v, i: y.__setitem__(i[:, 0], v), (4,)),
}


def _set_fn(lib, x, v, i, form):
    y = x.clone()
    SET_FORMS[form][0](y, v, i)
    return y


def set_samples(rng, dtype):
    mask = np.array([[True, False, True, True], [False] * 4, [True, True, False, False]])
    return [Sample((arr(rng, (3, 4), dtype), arr(rng, vs, dtype), mask if f.startswith("mask") else idx(0, 2)),
                   {"form": f}, name=f, grad=(True, True, False)) for f, (_, vs) in SET_FORMS.items()]


# ---------------------------------------------------------------- gather / scatter
def gather_samples(rng, dtype):
    return [Sample((arr(rng, (3, 4), dtype), rng.integers(0, 3, (4, 4)).astype(I64)), {"dim": 0}, "dim0 bigger"),
            Sample((arr(rng, (3, 4), dtype), rng.integers(0, 4, (2, 3)).astype(I64)), {"dim": 1}, "dim1 smaller"),
            Sample((arr(rng, (2, 3, 2), dtype), rng.integers(0, 3, (2, 2, 2)).astype(I64)), {"dim": -2}, "3d"),
            Sample((arr(rng, (), dtype), idx(0).reshape(())), {"dim": 0}, "0-dim")]


def _unique_index(rng, n, shape):
    """Distinct positions along dim 0 in every column, so a non-accumulating scatter is well defined."""
    cols = [rng.permutation(n)[:shape[0]] for _ in range(int(np.prod(shape[1:])))]
    return np.stack(cols, axis=1).reshape(shape).astype(I64)


def scatter_samples(rng, dtype):
    # torch's backward fails when src is bigger than index (ember's is checked by gradcheck in test_indexing_extra)
    return [Sample((arr(rng, (4, 3), dtype), _unique_index(rng, 4, (2, 3)), arr(rng, (2, 3), dtype)), {}, "same"),
            Sample((arr(rng, (4, 3), dtype), _unique_index(rng, 4, (3, 2)), arr(rng, (3, 2), dtype)), {},
                   "index narrower")]


def scatter_add_samples(rng, dtype):
    return [Sample((arr(rng, (3, 3), dtype), rng.integers(0, 3, (4, 3)).astype(I64), arr(rng, (4, 3), dtype)), {},
                   "repeats"),
            Sample((arr(rng, (3, 4), dtype), rng.integers(0, 3, (2, 2)).astype(I64), arr(rng, (2, 2), dtype)), {},
                   "index narrower")]


def reduce_samples(rng, dtype):
    out = []
    for include_self in (True, False):
        x, src = distinct(rng, (3, 4), dtype), distinct(rng, (5, 4), dtype) + np.asarray(0.11, dtype)
        out.append(Sample((x, rng.integers(0, 3, (5, 4)).astype(I64), src), {"include_self": include_self},
                          f"include_self={include_self}"))
    return out


def _reduce_spec(reduce):
    return OpSpec(f"scatter_reduce_{reduce}",
                  lambda lib, x, i, s, include_self: x.scatter_reduce(0, i, s, reduce, include_self=include_self),
                  reduce_samples, atol=1e-4)


# ---------------------------------------------------------------- index_* along a dim
def select_samples(rng, dtype):
    return [Sample((arr(rng, (3, 4), dtype), idx(2, 0, 2)), {"dim": 0}, "repeats"),
            Sample((arr(rng, (3, 4), dtype), idx(3, 1)), {"dim": 1}, "dim 1"),
            Sample((arr(rng, (2, 3, 2), dtype), idx(1).reshape(())), {"dim": 1}, "0-dim index")]


def index_source_samples(unique):
    def samples(rng, dtype):
        i = idx(2, 0) if unique else idx(2, 0, 2)
        return [Sample((arr(rng, (3, 4), dtype), i, arr(rng, (i.size, 4), dtype)), {"dim": 0}, "dim0"),
                Sample((arr(rng, (4, 3), dtype), i, arr(rng, (4, i.size), dtype)), {"dim": -1}, "dim -1")]
    return samples


def fill_samples(rng, dtype):
    return [Sample((arr(rng, (3, 4), dtype), idx(2, 0), 1.5), {"dim": 0}, "scalar"),
            Sample((arr(rng, (3, 4), dtype), idx(1, 3), arr(rng, (), dtype)), {"dim": 1}, "0-dim tensor")]


# ---------------------------------------------------------------- masks and flat positions
def mask_samples(rng, dtype):
    return [Sample((arr(rng, (3, 4), dtype), rng.random((3, 4)) > 0.5, -1.0), name="scalar"),
            Sample((arr(rng, (3, 4), dtype), rng.random((4,)) > 0.5, arr(rng, (), dtype)), name="tensor value"),
            Sample((arr(rng, (3, 1), dtype), rng.random((3, 4)) > 0.5, 2.0), name="broadcast input")]


def select_mask_samples(rng, dtype):
    return [Sample((arr(rng, (3, 4), dtype), rng.random((3, 4)) > 0.5), name="same"),
            Sample((arr(rng, (3, 1), dtype), rng.random((1, 4)) > 0.5), name="broadcast")]


def take_samples(rng, dtype):
    return [Sample((arr(rng, (3, 4), dtype), idx(11, 0, -1, 5, 5).reshape(5)), name="repeats"),
            Sample((arr(rng, (2, 3), dtype), idx(1, 2, 0, 1).reshape(2, 2)), name="2d index")]


def along_samples(rng, dtype):
    return [Sample((arr(rng, (3, 4), dtype), rng.integers(0, 3, (2, 4)).astype(I64)), {"dim": 0}, "dim0"),
            Sample((arr(rng, (3, 4), dtype), rng.integers(0, 4, (3, 1)).astype(I64)), {"dim": 1}, "broadcast idx"),
            Sample((arr(rng, (3, 1), dtype), rng.integers(0, 3, (2, 4)).astype(I64)), {"dim": 0}, "broadcast x"),
            Sample((arr(rng, (3, 4), dtype), idx(11, 0, 3)), {"dim": None}, "flat")]


def put_samples(rng, dtype):
    return [Sample((arr(rng, (3, 4), dtype), idx(1, 5, -1), arr(rng, (3,), dtype)), {"accumulate": False}, "copy"),
            Sample((arr(rng, (3, 4), dtype), idx(1, 1, 5), arr(rng, (3,), dtype)), {"accumulate": True}, "add")]


def index_put_samples(rng, dtype):
    return [Sample((arr(rng, (3, 4), dtype), idx(0, 2), idx(1, 3), arr(rng, (2,), dtype)), {"accumulate": False},
                   "pairs", grad=(True, False, False, True)),
            Sample((arr(rng, (3, 4), dtype), idx(0, 0), idx(1, 1), arr(rng, (1,), dtype)), {"accumulate": True},
                   "repeats add", grad=(True, False, False, True))]


def nonzero_samples(rng, dtype):
    return [Sample((np.where(rng.random(s) > 0.5, arr(rng, s, dtype), 0).astype(dtype),), name=f"{s}")
            for s in [(5,), (3, 4), (2, 0, 3), (2, 2, 3)]] + [Sample((np.ones((), dtype),), name="0-dim")]


SPECS = [
    OpSpec("getitem_basic", lambda lib, x, key: x[key], basic_samples),
    OpSpec("getitem_advanced", lambda lib, x, i, j, form: ADV_FORMS[form](x, i, j), adv_samples),
    OpSpec("setitem", _set_fn, set_samples),
    OpSpec("gather", lambda lib, x, i, dim: lib.gather(x, dim, i), gather_samples),
    OpSpec("scatter", lambda lib, x, i, s: x.scatter(0, i, s), scatter_samples),
    OpSpec("scatter_value", lambda lib, x, i, s: lib.scatter(x, 0, i, value=-0.5), scatter_samples,
           note="src unused: a number is written"),
    OpSpec("scatter_add", lambda lib, x, i, s: lib.scatter_add(x, 0, i, s), scatter_add_samples),
    *[_reduce_spec(r) for r in ("sum", "mean", "amax", "amin", "prod")],
    OpSpec("index_select", lambda lib, x, i, dim: x.index_select(dim, i), select_samples),
    OpSpec("index_add", lambda lib, x, i, s, dim: x.index_add(dim, i, s, alpha=0.5), index_source_samples(False)),
    OpSpec("index_copy", lambda lib, x, i, s, dim: lib.index_copy(x, dim, i, s), index_source_samples(True)),
    OpSpec("index_fill", lambda lib, x, i, v, dim: x.index_fill(dim, i, v), fill_samples),
    OpSpec("masked_fill", lambda lib, x, m, v: x.masked_fill(m, v), mask_samples),
    OpSpec("masked_select", lambda lib, x, m: lib.masked_select(x, m), select_mask_samples),
    OpSpec("take", lambda lib, x, i: lib.take(x, i), take_samples),
    OpSpec("take_along_dim", lambda lib, x, i, dim: lib.take_along_dim(x, i, dim), along_samples),
    OpSpec("put", lambda lib, x, i, s, accumulate: x.put(i, s, accumulate), put_samples),
    OpSpec("index_put", lambda lib, x, i, j, v, accumulate: lib.index_put(x, (i, j), v, accumulate),
           index_put_samples),
    OpSpec("nonzero", lambda lib, x: lib.nonzero(x), nonzero_samples, differentiable=False),
    OpSpec("nonzero_tuple", lambda lib, x: lib.nonzero(x, as_tuple=True), nonzero_samples, differentiable=False),
    OpSpec("argwhere", lambda lib, x: lib.argwhere(x), nonzero_samples, differentiable=False),
]


def _bool_mask(rng, shape):
    return np.asarray(rng.random(shape) > 0.5)


def _index_reduce_samples(rng, dt):
    return [Sample((arr(rng, (4, 3), dt), 0, idx(0, 2, 0, 3, 2), arr(rng, (5, 3), dt)), name="dim0 repeats"),
            Sample((arr(rng, (2, 5), dt), 1, idx(4, 0, 4), arr(rng, (2, 3), dt)), name="dim1"),
            Sample((arr(rng, (2, 3, 4), dt), -1, idx(1, 1), arr(rng, (2, 3, 2), dt)), name="3d")]


SPECS += [
    OpSpec("select_scatter", lambda lib, x, s, dim, i: lib.select_scatter(x, s, dim, i),
           lambda rng, dt: [Sample((arr(rng, (3, 4), dt), arr(rng, (3,), dt), 1, -1)),
                            Sample((arr(rng, (2, 3, 4), dt), arr(rng, (3, 4), dt), 0, 1))]),
    OpSpec("slice_scatter", lambda lib, x, s, **kw: lib.slice_scatter(x, s, **kw),
           lambda rng, dt: [Sample((arr(rng, (6, 4), dt), arr(rng, (3, 4), dt)), {"start": 1, "end": 6, "step": 2}),
                            Sample((arr(rng, (3, 5), dt), arr(rng, (3, 2), dt)), {"dim": 1, "start": -2}),
                            Sample((arr(rng, (4,), dt), arr(rng, (4,), dt)), {})]),
    OpSpec("masked_scatter", lambda lib, x, m, s: lib.masked_scatter(x, m, s),
           lambda rng, dt: [Sample((arr(rng, (3, 4), dt), _bool_mask(rng, (3, 4)), arr(rng, (12,), dt))),
                            Sample((arr(rng, (3, 4), dt), _bool_mask(rng, (4,)), arr(rng, (4, 5), dt))),
                            Sample((arr(rng, (2, 1), dt), _bool_mask(rng, (2, 3)), arr(rng, (7,), dt)))]),
    OpSpec("masked_scatter_", lambda lib, x, m, s: (x * 1).masked_scatter_(m, s),
           lambda rng, dt: [Sample((arr(rng, (3, 4), dt), _bool_mask(rng, (3, 4)), arr(rng, (12,), dt)))]),
    OpSpec("index_reduce_prod", lambda lib, x, d, i, s: lib.index_reduce(x, d, i, s, "prod"), _index_reduce_samples),
    OpSpec("index_reduce_mean", lambda lib, x, d, i, s: x.index_reduce(d, i, s, "mean"), _index_reduce_samples),
    OpSpec("index_reduce_mean_exclude", lambda lib, x, d, i, s: lib.index_reduce(x, d, i, s, "mean",
                                                                                  include_self=False),
           _index_reduce_samples),
    OpSpec("index_reduce_amax", lambda lib, x, d, i, s: lib.index_reduce(x, d, i, s, "amax"), _index_reduce_samples),
    OpSpec("index_reduce_amin", lambda lib, x, d, i, s: lib.index_reduce(x, d, i, s, "amin", include_self=False),
           _index_reduce_samples),
]


# ----------------------------------------------------------------------------- round 2: index helpers
def _no_args(*kwargs_list):
    return lambda rng, dt: [Sample((), kw, name=str(kw)) for kw in kwargs_list]


SPECS += [
    OpSpec("tril_indices", lambda lib, **kw: lib.tril_indices(**kw),
           _no_args({"row": 3, "col": 4}, {"row": 4, "col": 3, "offset": 1}, {"row": 3, "col": 3, "offset": -1},
                    {"row": 0, "col": 2}, {"row": 3, "col": 5, "offset": 9}),
           dtypes=(np.int64,), differentiable=False),
    OpSpec("triu_indices", lambda lib, **kw: lib.triu_indices(**kw),
           _no_args({"row": 3, "col": 4}, {"row": 4, "col": 3, "offset": -1}, {"row": 5, "col": 2, "offset": 2},
                    {"row": 2, "col": 2, "offset": -5}), dtypes=(np.int64,), differentiable=False),
    OpSpec("tril_indices_dtype", lambda lib: lib.tril_indices(3, 3, dtype=lib.int32), _no_args({}),
           dtypes=(np.int64,), differentiable=False),
    OpSpec("unravel_index", lambda lib, i, shape: lib.unravel_index(i, shape),
           lambda rng, dt: [Sample((np.array([0, 4, 5, 23], dt), (2, 3, 4))), Sample((np.array(7, dt), 10)),
                            Sample((np.array([[1, -1], [9, 3]], dt), (2, 3)), name="wraps")],
           dtypes=(np.int64, np.int32), differentiable=False),
    OpSpec("cartesian_prod", lambda lib, *ts: lib.cartesian_prod(*ts),
           lambda rng, dt: [Sample(tuple(arr(rng, s, dt) for s in ss), name=str(ss))
                            for ss in [((3,), (2,)), ((2,), (3,), (2,)), ((4,),)]]),
    OpSpec("combinations", lambda lib, x, **kw: lib.combinations(x, **kw),
           lambda rng, dt: [Sample((arr(rng, (5,), dt),), kw, name=str(kw))
                            for kw in [{}, {"r": 3}, {"r": 2, "with_replacement": True}, {"r": 1}, {"r": 6}]]),
    OpSpec("combinations_r0", lambda lib, x: lib.combinations(x, 0),
           lambda rng, dt: [Sample((arr(rng, (3,), dt),))], differentiable=False),
]
