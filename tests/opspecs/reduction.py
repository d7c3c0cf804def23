"""Specs of the reductions (ember/_ops/reduction.py)."""
import numpy as np

from opinfo import OpSpec, Sample, arr, distinct

INTS = (np.int64, np.int32, np.uint8, np.bool_)


def cases(*items, gen=arr):
    """Samples from (shape, kwargs) pairs, one input each."""
    def samples(rng, dtype):
        return [Sample((gen(rng, s, dtype),), dict(kw), name=f"{s} {kw}") for s, kw in items]
    return samples


def tied(rng, shape, dtype):
    """Small integers: many ties, where max/median split or pick among equals."""
    return rng.integers(-2, 3, size=shape).astype(dtype)


def with_zeros(rng, shape, dtype):
    """Values with some exact zeros (one row of them has two), where prod's out / x fails."""
    x = arr(rng, shape, dtype)
    flat = x.reshape(-1)
    flat[:: 3] = 0
    return x


def with_nans(rng, shape, dtype):
    x = arr(rng, shape, dtype)
    x.reshape(-1)[1::4] = np.nan
    return x


def large(rng, shape, dtype):
    """Values whose exp overflows unless logsumexp shifts by the max."""
    return arr(rng, shape, dtype) + 200


# every way to name reduced dims
DIMS = [((), {}), ((5,), {}), ((3, 4), {"dim": 1}), ((3, 4), {"dim": -1, "keepdim": True}),
        ((2, 3, 4), {"dim": (0, 2)}), ((2, 3, 4), {"dim": (-1, 0), "keepdim": True}), ((), {"dim": 0}),
        ((2, 0, 3), {"dim": 1}), ((2, 0, 3), {})]
# ops taking one int dim
ONE_DIM = [((), {}), ((5,), {}), ((3, 4), {"dim": 1}), ((3, 4), {"dim": -2, "keepdim": True}),
           ((2, 3, 4), {"dim": 1}), ((), {"dim": 0})]
# ops that need a non-empty reduced dim, with one int dim
PICK = [((5,), {"dim": 0}), ((3, 4), {"dim": 1}), ((3, 4), {"dim": -2, "keepdim": True}),
        ((2, 3, 4), {"dim": 1}), ((), {"dim": 0}), ((0, 3), {"dim": 1})]
ALONG = [((5,), {}), ((3, 4), {"dim": 0}), ((2, 3, 4), {"dim": -2}), ((), {}), ((2, 0), {"dim": 1})]
CUM = [((5,), {"dim": 0}), ((3, 4), {"dim": 1}), ((2, 3, 4), {"dim": -2}), ((), {"dim": 0}), ((2, 0), {"dim": 0})]


def call(name):
    return lambda lib, x, **kw: getattr(lib, name)(x, **kw)


def method(name):
    return lambda lib, x, **kw: getattr(x, name)(**kw)


SPECS = [
    OpSpec("sum_dims", call("sum"), cases(*DIMS)),
    OpSpec("sum_dtype", lambda lib, x: x.sum(1, dtype=lib.float64), cases(((3, 4), {}))),
    OpSpec("sum_int", call("sum"), cases(*DIMS), dtypes=INTS, differentiable=False),
    OpSpec("mean", method("mean"), cases(*DIMS[:-1])),
    OpSpec("prod", call("prod"), cases(*ONE_DIM, ((2, 0, 3), {"dim": 1}))),
    OpSpec("prod_zeros", call("prod"), cases(((6,), {}), ((3, 4), {"dim": 1}), ((4, 3), {"dim": 0, "keepdim": True}),
                                             ((2, 3, 2), {"dim": 1}), gen=with_zeros)),
    OpSpec("prod_int", call("prod"), cases(*ONE_DIM), dtypes=INTS, differentiable=False),
    OpSpec("amax", call("amax"), cases(*DIMS[:-2], gen=distinct)),
    OpSpec("amin", method("amin"), cases(*DIMS[:-2], gen=distinct)),
    OpSpec("amax_ties", call("amax"), cases(*DIMS[:-2], gen=tied), gradcheck=False),
    OpSpec("amin_ties", call("amin"), cases(*DIMS[:-2], gen=tied), gradcheck=False),
    OpSpec("max_all", lambda lib, x: lib.max(x), cases(((), {}), ((5,), {}), ((3, 4), {}), gen=distinct)),
    OpSpec("min_all", lambda lib, x: x.min(), cases(((), {}), ((5,), {}), ((3, 4), {}), gen=distinct)),
    OpSpec("max_all_ties", lambda lib, x: lib.max(x), cases(((6,), {}), ((3, 4), {}), gen=tied), gradcheck=False),
    OpSpec("min_all_ties", lambda lib, x: x.min(), cases(((6,), {}), ((3, 4), {}), gen=tied), gradcheck=False),
    OpSpec("max_dim", call("max"), cases(*PICK[:-1], gen=distinct)),
    OpSpec("min_dim", method("min"), cases(*PICK[:-1], gen=distinct)),
    OpSpec("max_dim_ties", call("max"), cases(*PICK, gen=tied), gradcheck=False),
    OpSpec("min_dim_ties", call("min"), cases(*PICK, gen=tied), gradcheck=False),
    OpSpec("max_int", call("max"), cases(*PICK, gen=tied), dtypes=INTS, differentiable=False),
    OpSpec("amax_int", call("amax"), cases(*DIMS[:-2], gen=tied), dtypes=INTS, differentiable=False),
    OpSpec("argmax", call("argmax"), cases(*PICK[:-1], ((3, 4), {}), ((3, 4), {"keepdim": True}), gen=tied),
           dtypes=(np.float32, np.int64), differentiable=False),
    OpSpec("argmin", method("argmin"), cases(*PICK[:-1], ((3, 4), {}), ((2, 3), {"dim": None, "keepdim": True}),
                                             gen=tied), dtypes=(np.float32, np.uint8), differentiable=False),
    OpSpec("var", call("var"), cases(*DIMS[1:-3], ((3, 4), {"dim": 1, "correction": 0}),
                                     ((2, 3, 4), {"dim": (0, 1), "correction": 2}), ((3, 4), {"unbiased": False}),
                                     ((3, 4), {"dim": 0, "unbiased": True, "keepdim": True}),
                                     ((), {"correction": 0}))),
    OpSpec("std", method("std"), cases(*DIMS[1:-3], ((3, 4), {"dim": 1, "correction": 0}),
                                       ((2, 3, 4), {"dim": (0, 1), "correction": 2}), ((3, 4), {"unbiased": False}),
                                       ((3, 4), {"dim": 0, "unbiased": True, "keepdim": True}))),
    # fewer elements than the correction: NaN or inf, as torch (with its warning)
    OpSpec("var_degenerate", call("var"), cases(((), {}), ((3,), {"correction": 3}), ((2, 3), {"dim": 0, "correction": 4}),
                                                ((2, 0), {"dim": 1})), differentiable=False),
    OpSpec("std_degenerate", call("std"), cases(((), {}), ((3,), {"correction": 3}), ((2, 0), {"dim": 1})),
           differentiable=False),
    OpSpec("var_mean", call("var_mean"), cases(((5,), {}), ((3, 4), {"dim": 1, "correction": 0}),
                                               ((2, 3, 4), {"dim": (0, -1), "keepdim": True}))),
    OpSpec("std_mean", call("std_mean"), cases(((5,), {}), ((3, 4), {"dim": -1, "unbiased": False}),
                                               ((2, 3, 4), {"dim": (1, 2), "keepdim": True}))),
    OpSpec("logsumexp", call("logsumexp"), cases(*[(s, {"dim": 0, **kw}) if "dim" not in kw else (s, kw)
                                                   for s, kw in DIMS if s != ()], ((), {"dim": 0}))),
    OpSpec("logsumexp_large", method("logsumexp"), cases(((5,), {"dim": 0}), ((3, 4), {"dim": (0, 1)}), gen=large),
           atol=1e-4),
    OpSpec("cumsum", call("cumsum"), cases(*CUM)),
    OpSpec("cumsum_dtype", lambda lib, x: x.cumsum(1, dtype=lib.float64), cases(((3, 4), {}))),
    OpSpec("cumsum_int", call("cumsum"), cases(*CUM), dtypes=INTS, differentiable=False),
    OpSpec("cumprod", call("cumprod"), cases(*CUM)),
    OpSpec("cumprod_zeros", method("cumprod"), cases(((6,), {"dim": 0}), ((3, 4), {"dim": 1}), ((4, 3), {"dim": 0}),
                                                     ((2, 3, 2), {"dim": -2}), gen=with_zeros)),
    OpSpec("cumprod_int", call("cumprod"), cases(*CUM, gen=tied), dtypes=INTS, differentiable=False),
    OpSpec("median_all", lambda lib, x: lib.median(x), cases(((), {}), ((5,), {}), ((3, 4), {}), gen=distinct)),
    OpSpec("median_all_ties", lambda lib, x: x.median(), cases(((5,), {}), ((3, 4), {}), gen=tied), gradcheck=False),
    OpSpec("median_dim", call("median"), cases(*PICK[:-1], ((4, 5), {"dim": 0}), gen=distinct)),
    OpSpec("sort", call("sort"), cases(*ALONG, ((3, 4), {"descending": True}), ((2, 3, 4), {"dim": 0, "descending": True}),
                                       gen=distinct)),
    OpSpec("sort_stable", lambda lib, x, **kw: lib.sort(x, stable=True, **kw),
           cases(((8,), {}), ((3, 5), {"descending": True}), ((4, 3), {"dim": 0, "descending": True}), gen=tied),
           gradcheck=False),
    OpSpec("argsort", lambda lib, x, **kw: lib.argsort(x, stable=True, **kw),
           cases(((8,), {}), ((3, 5), {"descending": True}), ((4, 3), {"dim": 0}), gen=tied),
           dtypes=(np.float64, np.int64, np.bool_), differentiable=False),
    OpSpec("topk", lambda lib, x, k, **kw: lib.topk(x, k, **kw),
           lambda rng, dt: [Sample((distinct(rng, s, dt), k), kw, name=f"{s} k={k} {kw}") for s, k, kw in
                            [((5,), 2, {}), ((3, 4), 3, {"dim": 0}), ((3, 4), 1, {"largest": False}),
                             ((2, 3, 4), 2, {"dim": -2, "largest": False}), ((), 1, {}), ((3, 4), 0, {}),
                             ((2, 5), 5, {"dim": 1})]]),
    OpSpec("kthvalue", lambda lib, x, k, **kw: lib.kthvalue(x, k, **kw),
           lambda rng, dt: [Sample((distinct(rng, s, dt), k), kw, name=f"{s} k={k} {kw}") for s, k, kw in
                            [((5,), 2, {}), ((3, 4), 3, {"dim": 0}), ((3, 4), 1, {"keepdim": True}),
                             ((2, 3, 4), 4, {"dim": -1}), ((), 1, {})]]),
    OpSpec("aminmax", lambda lib, x, **kw: tuple(lib.aminmax(x, **kw)),
           cases(((5,), {}), ((3, 4), {"dim": 1}), ((2, 3, 4), {"dim": -2, "keepdim": True}), gen=distinct)),
    OpSpec("cummax", call("cummax"), cases(*CUM, gen=distinct)),
    OpSpec("cummin", method("cummin"), cases(*CUM, gen=distinct)),
    # ties: the gradient of a value repeated along the run accumulates at its index
    OpSpec("cummax_ties", call("cummax"), cases(((8,), {"dim": 0}), ((3, 5), {"dim": 1}), gen=tied), gradcheck=False),
    OpSpec("cummin_ties", call("cummin"), cases(((8,), {"dim": 0}), ((4, 3), {"dim": 0}), gen=tied), gradcheck=False),
    OpSpec("nansum", call("nansum"), cases(((5,), {}), ((3, 4), {"dim": 1}), ((2, 3, 4), {"dim": (0, 2)}))),
    OpSpec("nanmean", method("nanmean"), cases(((5,), {}), ((3, 4), {"dim": 1, "keepdim": True}))),
    OpSpec("nansum_nan", call("nansum"), cases(((6,), {}), ((3, 4), {"dim": 0}), gen=with_nans), gradcheck=False),
    OpSpec("nanmean_nan", call("nanmean"), cases(((6,), {}), ((3, 4), {"dim": -1}), gen=with_nans),
           gradcheck=False),
    OpSpec("count_nonzero", call("count_nonzero"), cases(*[(s, {k: v for k, v in kw.items() if k != "keepdim"})
                                                           for s, kw in DIMS], gen=tied),
           dtypes=(np.float32, np.int64, np.bool_), differentiable=False),
    OpSpec("all", call("all"), cases(((), {}), ((3, 4), {}), ((3, 4), {"dim": 1}), ((2, 3, 4), {"dim": -1, "keepdim": True}),
                                     ((2, 3, 4), {"dim": (0, 2)}), ((2, 0), {"dim": 1}), ((2, 0), {}), gen=tied),
           dtypes=(np.float32, np.int64, np.uint8, np.bool_), differentiable=False),
    OpSpec("any", method("any"), cases(((), {}), ((3, 4), {}), ((3, 4), {"dim": 0}), ((2, 3, 4), {"dim": 1, "keepdim": True}),
                                       ((2, 3, 4), {"dim": (0, 2)}), ((2, 0), {"dim": 1}), ((2, 0), {}), gen=tied),
           dtypes=(np.float32, np.int64, np.uint8, np.bool_), differentiable=False),
]


# ----------------------------------------------------------------------------- round 2: quantiles, scans, searching
def _q_samples(gen):
    def samples(rng, dt):
        out = []
        for shape, q, kw in [((7,), 0.3, {}), ((3, 5), 0.5, {"dim": 1}), ((3, 5), [0.0, 0.25, 1.0], {"dim": 0}),
                             ((2, 3, 4), [0.1, 0.9], {"dim": -1, "keepdim": True}), ((3, 4), 0.7, {"keepdim": True}),
                             ((3, 4), [0.4], {}), ((), 0.2, {})]:
            qa = np.asarray(q, dtype=dt) if isinstance(q, list) else q
            out.append(Sample((gen(rng, shape, dt), qa), kw, name=f"{shape} q={q} {kw}", grad=(True, False)))
        return out
    return samples


def _interp_samples(rng, dt):
    return [Sample((distinct(rng, (3, 6), dt), np.asarray([0.1, 0.5, 0.77], dtype=dt)), {"dim": 1, "interpolation": m},
                   name=m, grad=(True, False)) for m in ("linear", "lower", "higher", "midpoint", "nearest")]


def some_nans(rng, shape, dtype):
    """Distinct values with a NaN in most rows (never a whole row of them)."""
    x = distinct(rng, shape, dtype)
    if x.ndim:
        x.reshape(-1, x.shape[-1])[::2, 0] = np.nan
    return x


def _search_samples(rng, dt):
    seq = np.sort(rng.integers(-5, 6, size=(8,))).astype(dt)
    seq2 = np.sort(rng.integers(-5, 6, size=(2, 3, 6)), -1).astype(dt)
    vals = rng.integers(-6, 7, size=(3, 4)).astype(dt)
    return [Sample((seq, vals), {}, "1-d"), Sample((seq, vals), {"right": True}, "right"),
            Sample((seq, vals), {"side": "right", "out_int32": True}, "side"),
            Sample((seq2, rng.integers(-6, 7, size=(2, 3, 5)).astype(dt)), {}, "batched"),
            Sample((seq, 2), {}, "scalar")]


def _sorter_samples(rng, dt):
    seq = rng.permutation(8).astype(dt)
    return [Sample((seq, np.argsort(seq).astype(np.int64), rng.integers(-1, 9, size=(5,)).astype(dt)), name="sorter")]


def _isin_samples(rng, dt):
    a = rng.integers(0, 6, size=(3, 4)).astype(dt)
    b = rng.integers(0, 6, size=(5,)).astype(dt)
    return [Sample((a, b), {}, "tensors"), Sample((a, b), {"invert": True}, "invert"),
            Sample((a, 3), {}, "scalar test"), Sample((np.unique(b), b), {"assume_unique": True}, "unique")]


def _runs(rng, shape, dt):
    return np.repeat(rng.integers(0, 3, size=shape), 2, axis=-1).astype(dt)


def _trap_samples(rng, dt):
    y = arr(rng, (3, 5), dt)
    x1 = np.sort(arr(rng, (5,), dt))
    return [Sample((y,), {}, "dx=1"), Sample((y,), {"dx": 0.5, "dim": 0}, "dx"),
            Sample((y, x1), {}, "x 1-d"), Sample((y, np.sort(arr(rng, (3, 5), dt), 0)), {"dim": 0}, "x n-d"),
            Sample((arr(rng, (2, 0), dt),), {}, "empty")]


SPECS += [
    OpSpec("quantile", lambda lib, x, q, **kw: lib.quantile(x, q, **kw), _q_samples(distinct)),
    OpSpec("quantile_interpolation", lambda lib, x, q, **kw: x.quantile(q, **kw), _interp_samples),
    OpSpec("nanquantile", lambda lib, x, q, **kw: lib.nanquantile(x, q, **kw), _q_samples(some_nans)),
    OpSpec("quantile_nan", lambda lib, x, q, **kw: x.quantile(q, **kw), _q_samples(some_nans), differentiable=False),
    OpSpec("mode", call("mode"), cases(((8,), {}), ((3, 6), {"dim": 1}), ((4, 3), {"dim": 0, "keepdim": True}),
                                       ((2, 3, 5), {}), ((), {}), gen=tied), gradcheck=False),
    OpSpec("mode_distinct", method("mode"), cases(((5,), {}), ((3, 4), {"dim": 0}), gen=distinct)),
    OpSpec("mode_int", call("mode"), cases(((8,), {}), ((3, 6), {"dim": 1}), gen=tied), dtypes=(np.int64, np.uint8),
           differentiable=False),
    OpSpec("nanmedian_all", lambda lib, x: x.nanmedian(), cases(((), {}), ((5,), {}), ((3, 4), {}), gen=some_nans)),
    OpSpec("nanmedian_dim", call("nanmedian"), cases(((5,), {"dim": 0}), ((3, 4), {"dim": 1}),
                                                     ((4, 3), {"dim": 1, "keepdim": True}), ((2, 3, 4), {"dim": -1}),
                                                     ((), {"dim": 0}), gen=some_nans)),
    OpSpec("msort", lambda lib, x: lib.msort(x), cases(((5,), {}), ((4, 3), {}), gen=distinct)),
    OpSpec("logcumsumexp", call("logcumsumexp"), cases(*CUM)),
    OpSpec("logcumsumexp_large", method("logcumsumexp"), cases(((6,), {"dim": 0}), ((3, 4), {"dim": 1}), gen=large),
           atol=1e-4),
    OpSpec("diff", call("diff"), cases(((5,), {}), ((3, 4), {"dim": 0}), ((3, 6), {"n": 2}), ((2, 3, 4), {"n": 3, "dim": 1}),
                                       ((4,), {"n": 6}), ((3, 4), {"n": 0}))),
    OpSpec("diff_prepend", lambda lib, x, p, a, **kw: lib.diff(x, prepend=p, append=a, **kw),
           lambda rng, dt: [Sample((arr(rng, (3, 4), dt), arr(rng, (3, 2), dt), arr(rng, (3, 1), dt))),
                            Sample((arr(rng, (3, 4), dt), arr(rng, (1, 4), dt), arr(rng, (2, 4), dt)), {"dim": 0, "n": 2})]),
    OpSpec("diff_int", call("diff"), cases(((6,), {}), ((3, 4), {"dim": 0, "n": 2}), gen=tied),
           dtypes=(np.int64, np.bool_), differentiable=False),
    OpSpec("trapezoid", lambda lib, y, x=None, **kw: lib.trapezoid(y, x, **kw) if x is not None else lib.trapezoid(y, **kw),
           _trap_samples),
    OpSpec("trapz", lambda lib, y, x=None, **kw: lib.trapz(y, x, **kw) if x is not None else lib.trapz(y, **kw),
           lambda rng, dt: _trap_samples(rng, dt)[:4]),
    OpSpec("cumulative_trapezoid", lambda lib, y, x=None, **kw: lib.cumulative_trapezoid(y, x, **kw) if x is not None
           else lib.cumulative_trapezoid(y, **kw), _trap_samples),
    OpSpec("searchsorted", lambda lib, s, v, **kw: lib.searchsorted(s, v, **kw), _search_samples,
           dtypes=(np.float32, np.int64), differentiable=False),
    OpSpec("searchsorted_sorter", lambda lib, s, o, v: lib.searchsorted(s, v, sorter=o), _sorter_samples,
           dtypes=(np.float64,), differentiable=False),
    OpSpec("bucketize", lambda lib, s, v, **kw: lib.bucketize(v, s, **kw),
           lambda rng, dt: [s for s in _search_samples(rng, dt) if s.name not in ("batched", "side")],
           dtypes=(np.float32, np.int64), differentiable=False),
    OpSpec("isin", lambda lib, a, b, **kw: lib.isin(a, b, **kw), _isin_samples, dtypes=(np.float32, np.int64),
           differentiable=False),
    OpSpec("unique_consecutive", lambda lib, x, **kw: lib.unique_consecutive(x, return_inverse=True, return_counts=True,
                                                                           **kw),
           cases(((8,), {}), ((3, 4), {}), ((3, 4), {"dim": 1}), ((4, 2), {"dim": 0}), ((0,), {}), gen=_runs),
           dtypes=(np.float32, np.int64), differentiable=False),
    OpSpec("histc", lambda lib, x, **kw: lib.histc(x, **kw), cases(((20,), {}), ((4, 5), {"bins": 7}),
                                                                 ((30,), {"bins": 4, "min": -1, "max": 1}),
                                                                 ((3,), {"bins": 3, "min": 2, "max": 2})),
           differentiable=False),
    OpSpec("histogram", lambda lib, x, **kw: tuple(x.histogram(**kw)),
           cases(((20,), {"bins": 5}), ((4, 5), {"bins": 3, "range": (-1.0, 1.0)}), ((10,), {"bins": 4, "density": True})),
           differentiable=False),
    OpSpec("histogram_edges", lambda lib, x, e, w: tuple(lib.histogram(x, e, weight=w)),
           lambda rng, dt: [Sample((arr(rng, (12,), dt), np.array([-2, -0.5, 0, 1.5, 2], dt), arr(rng, (12,), dt, 0, 1)))],
           differentiable=False),
]
