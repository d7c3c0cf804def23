"""The operator specification table's vocabulary, in the spirit of PyTorch's OpInfo.

An ``OpSpec`` names an op, how to call it (one callable taking the library module
first, so the same code runs on ember and on torch), sample inputs, dtypes,
tolerances and what is differentiable. tests/test_ops.py generates the forward,
backward, double-backward, gradcheck and gradgradcheck tests from the table in
tests/op_db.py, and tools/gen_ops_doc.py writes docs/ops.md from it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class Sample:
    """One call: positional inputs (arrays become tensors), keyword arguments, a label."""
    args: tuple
    kwargs: dict = field(default_factory=dict)
    name: str = ""
    grad: tuple | None = None   # which args get requires_grad (default: every float array)


@dataclass
class OpSpec:
    name: str
    fn: Callable                       # fn(lib, *tensors, **kwargs): the same code for ember and torch
    samples: Callable[[np.random.Generator, Any], list]   # (rng, np dtype) -> [Sample]
    torch_fn: Callable | None = None   # when torch spells it differently
    dtypes: tuple = (np.float32, np.float64)
    differentiable: bool = True
    double_backward: bool = True
    gradcheck: bool = True
    atol: float = 1e-5
    rtol: float = 1.3e-6
    grad_atol: float | None = None
    grad_rtol: float | None = None
    category: str = ""
    note: str = ""

    def call(self, lib, *args, **kwargs):
        if lib.__name__ == "torch" and self.torch_fn is not None:
            return self.torch_fn(lib, *args, **kwargs)
        return self.fn(lib, *args, **kwargs)


# ---------------------------------------------------------------- sample generators
def arr(rng, shape, dtype, low=-2.0, high=2.0):
    """Uniform random values of a shape and dtype."""
    return rng.uniform(low, high, size=shape).astype(dtype)


def positive(rng, shape, dtype, low=0.5, high=2.5):
    return arr(rng, shape, dtype, low, high)


def away_from_ints(rng, shape, dtype):
    """Values not near integers, where floor/round/remainder are differentiable."""
    x = arr(rng, shape, dtype, -3, 3)
    return (np.floor(x) + 0.2 + 0.6 * rng.random(shape)).astype(dtype)


def distinct(rng, shape, dtype):
    """A random permutation of well-separated values (no ties for max/sort)."""
    n = int(np.prod(shape)) if shape else 1
    vals = (rng.permutation(n) - n / 2) * 0.37 + 0.05
    return vals.reshape(shape).astype(dtype)


UNARY_SHAPES = [(), (5,), (3, 4), (2, 0, 3), (2, 3, 4)]
BINARY_SHAPES = [((3, 4), (3, 4)), ((2, 3), (3,)), ((2, 3), (1, 3)), ((4, 1), (1, 5)), ((), (3,)),
                 ((2, 1, 3), (4, 1)), ((0, 3), (3,))]


def unary_samples(gen=arr, shapes=UNARY_SHAPES):
    def samples(rng, dtype):
        return [Sample((gen(rng, s, dtype),), name=f"{s}") for s in shapes]
    return samples


def binary_samples(gen_a=arr, gen_b=arr, shapes=BINARY_SHAPES, scalars=(2.5,)):
    def samples(rng, dtype):
        out = [Sample((gen_a(rng, a, dtype), gen_b(rng, b, dtype)), name=f"{a}x{b}") for a, b in shapes]
        for s in scalars:
            out.append(Sample((gen_a(rng, (3,), dtype), s), name=f"scalar {s}"))
        return out
    return samples
