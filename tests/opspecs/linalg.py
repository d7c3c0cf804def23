"""Specs of the linear-algebra ops (ember/_ops/linalg.py, ember/linalg.py)."""
import numpy as np

from opinfo import OpSpec, Sample, arr

MATMUL_SHAPES = [((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 3)), ((3, 4), (4,)), ((2, 3, 4), (4, 5)),
                 ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((2, 1, 3, 4), (3, 4, 2)), ((3, 4), (2, 4, 2)),
                 ((0, 4), (4, 3))]


def pairs(shapes):
    def samples(rng, dtype):
        return [Sample(tuple(arr(rng, s, dtype) for s in ss), name="x".join(map(str, ss))) for ss in shapes]
    return samples


def spd(rng, n, dtype, batch=()):
    """A well-conditioned symmetric positive-definite matrix (batch)."""
    a = rng.uniform(-1, 1, size=batch + (n, n))
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)


def einsum_samples(rng, dtype):
    cases = [("ij,jk->ik", (3, 4), (4, 2)), ("ij,jk", (3, 4), (4, 2)), ("bij,bjk->bik", (2, 3, 4), (2, 4, 2)),
             ("...ij,...jk->...ik", (2, 3, 4), (4, 2)), ("ii->i", (3, 3)), ("ii", (3, 3)), ("ij->ji", (2, 3)),
             ("i,j->ij", (3,), (4,)), ("ij,ij->", (3, 4), (3, 4)), ("ijk->", (2, 3, 2)),
             ("bn,anm,bm->ba", (2, 3), (2, 3, 4), (2, 4)), ("ij,k->ik", (2, 3), (4,)), ("i...->...", (2, 3, 2)),
             ("iij->j", (3, 3, 2))]
    return [Sample((eq, *(arr(rng, s, dtype) for s in shapes)), name=eq) for eq, *shapes in cases]


SPECS = [
    OpSpec("matmul", lambda lib, a, b: a @ b, pairs(MATMUL_SHAPES)),
    OpSpec("rmatmul_array", lambda lib, a, b: lib.matmul(a, b), pairs([((2, 2, 3), (1, 3, 2))])),
    OpSpec("mm", lambda lib, a, b: lib.mm(a, b), pairs([((3, 4), (4, 5)), ((1, 3), (3, 1))])),
    OpSpec("bmm", lambda lib, a, b: lib.bmm(a, b), pairs([((2, 3, 4), (2, 4, 5))])),
    OpSpec("mv", lambda lib, a, b: lib.mv(a, b), pairs([((3, 4), (4,))])),
    OpSpec("dot", lambda lib, a, b: lib.dot(a, b), pairs([((5,), (5,))])),
    OpSpec("outer", lambda lib, a, b: lib.outer(a, b), pairs([((3,), (4,))])),
    OpSpec("addmm", lambda lib, c, a, b: lib.addmm(c, a, b, beta=0.5, alpha=2.0),
           pairs([((3, 5), (3, 4), (4, 5)), ((5,), (3, 4), (4, 5))])),
    OpSpec("addmm_default", lambda lib, c, a, b: lib.addmm(c, a, b), pairs([((1, 5), (3, 4), (4, 5))])),
    OpSpec("addmv", lambda lib, c, a, b: lib.addmv(c, a, b, alpha=0.5), pairs([((3,), (3, 4), (4,))])),
    OpSpec("addr", lambda lib, c, a, b: lib.addr(c, a, b, beta=2), pairs([((3, 4), (3,), (4,))])),
    OpSpec("baddbmm", lambda lib, c, a, b: lib.baddbmm(c, a, b, beta=0.5, alpha=-1.0),
           pairs([((2, 3, 5), (2, 3, 4), (2, 4, 5)), ((3, 5), (2, 3, 4), (2, 4, 5))])),
    OpSpec("einsum", lambda lib, eq, *ops: lib.einsum(eq, *ops), einsum_samples),
    OpSpec("tensordot", lambda lib, a, b: lib.tensordot(a, b, dims=2), pairs([((2, 3, 4), (3, 4, 2))])),
    OpSpec("tensordot_lists", lambda lib, a, b: lib.tensordot(a, b, dims=([0, 2], [2, 1])),
           pairs([((2, 3, 4), (5, 4, 2))])),
    OpSpec("kron", lambda lib, a, b: lib.kron(a, b), pairs([((2, 3), (2, 2)), ((3,), (2, 2)), ((2, 1, 2), (2, 3))])),
]
