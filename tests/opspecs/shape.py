"""Specs of the shape and view ops (ember/_ops/shape.py)."""
import numpy as np

from opinfo import OpSpec, Sample, arr


def cases(*items):
    """Samples from ``(shapes, kwargs)`` pairs: one random array per shape."""
    def samples(rng, dtype):
        return [Sample(tuple(arr(rng, s, dtype) for s in shapes), dict(kw), name=f"{shapes} {kw}")
                for shapes, kw in items]
    return samples


def one(*items):
    """Samples of a one-input op from ``(shape, kwargs)`` pairs."""
    return cases(*[((s,), kw) for s, kw in items])


def with_int(rng, dtype):
    """A float and an integer tensor: cat promotes to the float dtype."""
    return [Sample((arr(rng, (2, 3), dtype), np.arange(6, dtype=np.int64).reshape(2, 3)), name="float+int")]


M23, B234 = (2, 3), (2, 3, 4)

SPECS = [
    # reshape and views
    OpSpec("reshape", lambda lib, x, shape: x.reshape(shape),
           one((M23, {"shape": (3, 2)}), (B234, {"shape": (-1, 4)}), ((), {"shape": (1,)}),
               ((0, 3), {"shape": (3, 0)}), ((4,), {"shape": (2, 1, 2)}))),
    OpSpec("reshape_fn", lambda lib, x: lib.reshape(x, (6,)), one((M23, {}))),
    OpSpec("view", lambda lib, x, shape: x.view(*shape), one((M23, {"shape": (6,)}), (B234, {"shape": (4, -1)}))),
    OpSpec("view_as", lambda lib, x, y: x.view_as(y), cases(([M23, (6, 1)], {})), gradcheck=True),
    OpSpec("reshape_as", lambda lib, x, y: x.t().reshape_as(y), cases(([M23, (6,)], {}))),
    OpSpec("expand", lambda lib, x, size: x.expand(*size),
           one(((3, 1), {"size": (2, 3, 4)}), ((), {"size": (3,)}), ((2, 1), {"size": (-1, 3)}),
               ((1, 3), {"size": (0, 3)}))),
    OpSpec("expand_as", lambda lib, x, y: x.expand_as(y), cases(([(3, 1), (2, 3, 2)], {}))),
    OpSpec("broadcast_to", lambda lib, x: lib.broadcast_to(x, (2, 3)), one(((3,), {}), ((2, 1), {}))),
    OpSpec("broadcast_tensors", lambda lib, a, b: lib.broadcast_tensors(a, b),
           cases(([(2, 1), (3,)], {}), ([(), (2, 2)], {}))),
    OpSpec("squeeze", lambda lib, x, **kw: x.squeeze(**kw),
           one(((1, 3, 1), {}), ((1, 3, 1), {"dim": -1}), ((1, 3, 1), {"dim": (0, 2)}), ((2, 3), {"dim": 0}),
               ((), {}), ((), {"dim": 0}), ((1, 0), {}))),
    OpSpec("unsqueeze", lambda lib, x, dim: lib.unsqueeze(x, dim),
           one((M23, {"dim": 0}), (M23, {"dim": -1}), (M23, {"dim": 1}), ((), {"dim": 0}), ((0,), {"dim": 1}))),
    OpSpec("flatten", lambda lib, x, **kw: lib.flatten(x, **kw),
           one((B234, {}), (B234, {"start_dim": 1}), (B234, {"start_dim": 0, "end_dim": -2}), ((), {}),
               ((2, 0, 3), {"start_dim": 1}))),
    OpSpec("unflatten", lambda lib, x, dim, sizes: x.unflatten(dim, sizes),
           one(((2, 6), {"dim": 1, "sizes": (2, 3)}), ((2, 6), {"dim": -1, "sizes": (-1, 2)}),
               ((4,), {"dim": 0, "sizes": (2, 2)}))),
    # permutations
    OpSpec("permute", lambda lib, x, dims: x.permute(dims),
           one((B234, {"dims": (2, 0, 1)}), (B234, {"dims": (-1, -3, 1)}), (M23, {"dims": (1, 0)}),
               ((), {"dims": ()}), ((0, 2), {"dims": (1, 0)}))),
    OpSpec("permute_fn", lambda lib, x: lib.permute(x, (1, 2, 0)), one((B234, {}))),
    OpSpec("permute_varargs", lambda lib, x: x.permute(2, -3, 1), one((B234, {}))),
    OpSpec("transpose", lambda lib, x, d0, d1: x.transpose(d0, d1),
           one((B234, {"d0": 0, "d1": 2}), (B234, {"d0": -1, "d1": 1}), (M23, {"d0": 0, "d1": 0}),
               ((), {"d0": 0, "d1": -1}))),
    OpSpec("swapaxes", lambda lib, x: lib.swapaxes(x, 0, 1), one((M23, {}))),
    OpSpec("swapdims", lambda lib, x: x.swapdims(-1, 0), one((B234, {}))),
    OpSpec("movedim", lambda lib, x, src, dst: lib.movedim(x, src, dst),
           one((B234, {"src": 0, "dst": -1}), (B234, {"src": (0, 1), "dst": (2, 0)}), (B234, {"src": -1, "dst": 0}))),
    OpSpec("moveaxis", lambda lib, x: x.moveaxis(1, 0), one((B234, {}))),
    OpSpec("t", lambda lib, x: x.t(), one((M23, {}), ((3,), {}), ((), {}))),
    OpSpec("T", lambda lib, x: x.T, one((M23, {}), ((3,), {}))),
    OpSpec("mT", lambda lib, x: x.mT, one((B234, {}), ((2, 2), {}))),
    OpSpec("mH", lambda lib, x: x.mH, one((B234, {}),)),
    OpSpec("H", lambda lib, x: x.H, one((M23, {}),)),
    # joining
    OpSpec("cat", lambda lib, a, b, c, **kw: lib.cat([a, b, c], **kw),
           cases(([M23, (1, 3), (3, 3)], {}), ([M23, (2, 1), (2, 2)], {"dim": 1}),
                 ([(2, 2, 1), (2, 2, 2), (2, 2, 0)], {"dim": -1}), ([M23, (0,), (1, 3)], {}),
                 ([(2,), (3,), (0,)], {}))),
    OpSpec("cat_one", lambda lib, x: lib.cat((x,), 0), one((M23, {}))),
    OpSpec("cat_promote", lambda lib, a, b: lib.cat([a, b], 1), with_int),
    OpSpec("concat", lambda lib, a, b: lib.concat([a, b], dim=0), cases(([(2,), (3,)], {}))),
    OpSpec("concatenate", lambda lib, a, b: lib.concatenate([a, b], 1), cases(([M23, M23], {}))),
    OpSpec("stack", lambda lib, a, b, **kw: lib.stack([a, b], **kw),
           cases(([M23, M23], {}), ([M23, M23], {"dim": -1}), ([M23, M23], {"dim": 1}), ([(), ()], {}),
                 ([(0, 2), (0, 2)], {"dim": 2}))),
    OpSpec("hstack", lambda lib, a, b: lib.hstack([a, b]), cases(([(2,), (3,)], {}), ([M23, (2, 1)], {}),
                                                                  ([(), ()], {}))),
    OpSpec("vstack", lambda lib, a, b: lib.vstack([a, b]), cases(([(3,), (3,)], {}), ([M23, (1, 3)], {}))),
    OpSpec("dstack", lambda lib, a, b: lib.dstack([a, b]), cases(([(3,), (3,)], {}), ([M23, M23], {}),
                                                                  ([(2, 2, 1), (2, 2, 2)], {}))),
    OpSpec("column_stack", lambda lib, a, b: lib.column_stack([a, b]), cases(([(3,), (3, 2)], {}))),
    OpSpec("atleast_1d", lambda lib, x: lib.atleast_1d(x), one(((), {}), (M23, {}))),
    OpSpec("atleast_2d", lambda lib, a, b: lib.atleast_2d(a, b), cases(([(), (3,)], {}))),
    OpSpec("atleast_3d", lambda lib, a, b, c: lib.atleast_3d([a, b, c]), cases(([(), (3,), M23], {}))),
    # splitting (the "_part" specs use only some outputs: the unused ones get zero gradients)
    OpSpec("split", lambda lib, x, size, **kw: lib.split(x, size, **kw),
           one(((5, 2), {"size": 2}), ((5, 2), {"size": [1, 4]}), ((2, 5), {"size": 3, "dim": -1}),
               ((2, 4), {"size": [0, 3, 1], "dim": 1}), ((0, 2), {"size": 2}), ((4,), {"size": 4}))),
    OpSpec("split_part", lambda lib, x: x.split(2)[1] * 2, one(((5, 2), {}))),
    OpSpec("split_two_parts", lambda lib, x: x.split([1, 2, 2], 1)[0] * x.split([1, 2, 2], 1)[2].sum(),
           one(((2, 5), {}))),
    OpSpec("chunk", lambda lib, x, chunks, **kw: x.chunk(chunks, **kw),
           one(((5, 2), {"chunks": 3}), ((6, 2), {"chunks": 4}), ((2, 3), {"chunks": 5, "dim": -1}),
               ((0, 2), {"chunks": 2}))),
    OpSpec("chunk_part", lambda lib, x: lib.chunk(x, 3)[-1], one(((7,), {}))),
    OpSpec("tensor_split", lambda lib, x, sec, **kw: lib.tensor_split(x, sec, **kw),
           one(((7,), {"sec": 3}), ((2, 5), {"sec": [1, 3], "dim": 1}), ((6,), {"sec": [4, 2]}),
               ((5,), {"sec": [-2, 9]}))),
    OpSpec("unbind", lambda lib, x, **kw: x.unbind(**kw), one((M23, {}), (B234, {"dim": -1}), ((3,), {}))),
    OpSpec("unbind_part", lambda lib, x: lib.unbind(x, 1)[1], one((B234, {}))),
    OpSpec("narrow", lambda lib, x, dim, start, length: x.narrow(dim, start, length),
           one(((5, 2), {"dim": 0, "start": 1, "length": 3}), ((2, 5), {"dim": -1, "start": -2, "length": 2}),
               ((4,), {"dim": 0, "start": 4, "length": 0}))),
    # repetition
    OpSpec("repeat", lambda lib, x, reps: x.repeat(*reps),
           one((M23, {"reps": (2, 1)}), ((3,), {"reps": (2, 2)}), ((), {"reps": (3,)}), (M23, {"reps": (1, 1)}),
               ((2,), {"reps": (0, 2)}))),
    OpSpec("tile", lambda lib, x, reps: lib.tile(x, reps), one((M23, {"reps": (2,)}), ((3,), {"reps": (2, 1, 2)}))),
    OpSpec("repeat_interleave", lambda lib, x, **kw: lib.repeat_interleave(x, **kw),
           one((M23, {"repeats": 2}), (M23, {"repeats": 2, "dim": -1}), ((), {"repeats": 3}),
               ((3,), {"repeats": 0}))),
    OpSpec("repeat_interleave_tensor", lambda lib, x: x.repeat_interleave(lib.tensor([1, 0, 3]), dim=1),
           one((M23, {}))),
    # reordering
    OpSpec("flip", lambda lib, x, dims: x.flip(dims),
           one((B234, {"dims": (0, 2)}), (B234, {"dims": (-1,)}), ((), {"dims": ()}), ((0, 3), {"dims": (1,)}))),
    OpSpec("flip_varargs", lambda lib, x: x.flip(0, 1), one((M23, {}))),
    OpSpec("fliplr", lambda lib, x: lib.fliplr(x), one((M23, {}))),
    OpSpec("flipud", lambda lib, x: x.flipud(), one(((3,), {}), (M23, {}))),
    OpSpec("roll", lambda lib, x, shifts, **kw: x.roll(shifts, **kw),
           one((M23, {"shifts": 1}), (M23, {"shifts": 4, "dims": 1}), (B234, {"shifts": (1, -2), "dims": (0, -1)}),
               ((), {"shifts": 2}))),
    # triangles and diagonals
    OpSpec("tril", lambda lib, x, **kw: lib.tril(x, **kw),
           one(((3, 4), {}), ((3, 4), {"diagonal": -1}), ((2, 3, 3), {"diagonal": 1}), ((0, 2), {}))),
    OpSpec("triu", lambda lib, x, **kw: x.triu(**kw),
           one(((3, 4), {}), ((4, 3), {"diagonal": 2}), ((2, 3, 3), {"diagonal": -1}))),
    OpSpec("diagonal", lambda lib, x, **kw: x.diagonal(**kw),
           one(((3, 4), {}), ((3, 4), {"offset": 1}), ((3, 4), {"offset": -2}), ((3, 4), {"offset": 5}),
               (B234, {"dim1": -1, "dim2": 0}), (B234, {"offset": -1, "dim1": 2, "dim2": 1}))),
    OpSpec("diag", lambda lib, x, **kw: lib.diag(x, **kw),
           one(((3,), {}), ((3,), {"diagonal": -1}), ((3, 4), {}), ((3, 4), {"diagonal": 2}), ((0,), {}))),
    OpSpec("ravel", lambda lib, x: x.ravel(), one((M23, {}), ((), {}))),
    OpSpec("rot90", lambda lib, x, **kw: lib.rot90(x, **kw),
           one((M23, {}), (M23, {"k": 2}), (B234, {"k": -1, "dims": (2, 0)}), (M23, {"k": 4}))),
    OpSpec("meshgrid", lambda lib, a, b, **kw: lib.meshgrid(a, b, **kw),
           cases(([(3,), (2,)], {"indexing": "ij"}), ([(3,), (2,)], {"indexing": "xy"}),
                 ([(), (2,)], {"indexing": "ij"}))),
    OpSpec("unfold", lambda lib, x, dim, size, step: x.unfold(dim, size, step),
           one(((2, 6), {"dim": 1, "size": 3, "step": 1}), ((7,), {"dim": 0, "size": 2, "step": 3}),
               ((5, 2), {"dim": -2, "size": 4, "step": 2}), ((3, 2), {"dim": 0, "size": 0, "step": 1}),
               ((), {"dim": 0, "size": 1, "step": 1}))),
    OpSpec("diag_embed", lambda lib, x, **kw: lib.diag_embed(x, **kw),
           one((M23, {}), (M23, {"offset": 1}), (M23, {"offset": -1, "dim1": 0, "dim2": 2}), ((3,), {}))),
]


SPECS += [
    OpSpec("select", lambda lib, x, dim, i: lib.select(x, dim, i),
           lambda rng, dt: [Sample((arr(rng, (3, 4), dt), 1, -1)), Sample((arr(rng, (2, 3, 4), dt), 0, 1)),
                            Sample((arr(rng, (5,), dt), 0, 2))]),
    OpSpec("select_method", lambda lib, x: x.select(-1, 0), cases([((3, 4),), {}], [((2, 3, 4),), {}])),
    OpSpec("split_with_sizes", lambda lib, x, **kw: x.split_with_sizes(**kw),
           cases([((5, 3),), {"split_sizes": [2, 0, 3]}], [((2, 6),), {"split_sizes": (1, 5), "dim": 1}])),
    OpSpec("hsplit", lambda lib, x, parts: lib.hsplit(x, parts),
           cases([((3, 4),), {"parts": 2}], [((6,),), {"parts": [1, 4]}],
                 [((2, 5, 3),), {"parts": [2]}])),
    OpSpec("vsplit", lambda lib, x, parts: lib.vsplit(x, parts),
           cases([((4, 3),), {"parts": 2}], [((5, 2),), {"parts": [1, 3]}])),
    OpSpec("dsplit", lambda lib, x, parts: x.dsplit(parts),
           cases([((2, 3, 4),), {"parts": 2}], [((1, 2, 5),), {"parts": [3]}])),
    OpSpec("diagflat", lambda lib, x, **kw: lib.diagflat(x, **kw),
           cases([((3,),), {}], [((2, 2),), {"offset": 1}], [((4,),), {"offset": -2}], [((),), {}])),
    OpSpec("diagonal_scatter", lambda lib, x, s, **kw: lib.diagonal_scatter(x, s, **kw),
           cases([((3, 4), (3,)), {}], [((3, 4), (3,)), {"offset": 1}], [((4, 3), (2,)), {"offset": -2}],
                 [((2, 3, 4), (4, 2)), {"dim1": 0, "dim2": 1}], [((2, 3, 3), (2, 3)), {"dim1": -1, "dim2": -2}])),
    OpSpec("fill_diagonal_", lambda lib, x, **kw: (x * 1).fill_diagonal_(0.5, **kw),
           cases([((3, 4),), {}], [((7, 3),), {"wrap": True}], [((7, 3),), {}], [((3, 3, 3),), {}])),
    OpSpec("sum_to_size", lambda lib, x, *size: x.sum_to_size(*size),
           lambda rng, dt: [Sample((arr(rng, (3, 4), dt), 1, 4)), Sample((arr(rng, (2, 3, 4), dt), (3, 1))),
                            Sample((arr(rng, (2, 3), dt), 2, 3))]),
    OpSpec("narrow_copy", lambda lib, x: lib.narrow_copy(x, 1, 1, 2), cases([((3, 4),), {}], [((2, 3, 4),), {}])),
]


# ----------------------------------------------------------------------------- round 2
def _with_zero(rng, shape, dt):
    x = arr(rng, shape, dt)
    x[0] = 0
    return x


SPECS += [
    OpSpec("block_diag", lambda lib, *ts: lib.block_diag(*ts),
           lambda rng, dt: [Sample(tuple(arr(rng, s, dt) for s in ss), name=str(ss))
                            for ss in [((2, 3), (1,), (), (2, 2)), ((3, 3),), ((2, 0), (1, 2))]]),
    OpSpec("block_diag_int", lambda lib, a, b: lib.block_diag(a, b),
           lambda rng, dt: [Sample((np.arange(4).reshape(2, 2).astype(dt), np.arange(3).astype(dt)))],
           dtypes=(np.int64, np.bool_), differentiable=False),
    OpSpec("vander", lambda lib, x, **kw: lib.vander(x, **kw),
           lambda rng, dt: [Sample((_with_zero(rng, (4,), dt),), kw, name=str(kw))
                            for kw in [{}, {"N": 3}, {"N": 5, "increasing": True}, {"N": 1}, {"N": 0}]],
           differentiable=False, note="torch 2.13's vander backward fails (an in-place cumprod); ember's gradients "
                                      "are checked by gradcheck in tests/_ops/test_round2.py"),
    OpSpec("vander_int", lambda lib, x: lib.vander(x, 4),
           lambda rng, dt: [Sample((np.arange(-2, 3).astype(dt),))], dtypes=(np.int64, np.int32), differentiable=False),
]
