"""Property: for random broadcastable shapes, every binary op's gradients have the inputs' shapes
and equal torch's."""
import numpy as np
import torch
from hypothesis import given, settings, strategies as st

import ember

OPS = {
    "add": lambda lib, a, b: a + b,
    "sub": lambda lib, a, b: a - b,
    "mul": lambda lib, a, b: a * b,
    "div": lambda lib, a, b: a / (b * b + 1),
    "pow": lambda lib, a, b: (a * a + 1) ** b,
    "maximum": lambda lib, a, b: lib.maximum(a, b),
    "minimum": lambda lib, a, b: lib.minimum(a, b),
    "atan2": lambda lib, a, b: lib.atan2(a, b + 3),
    "hypot": lambda lib, a, b: lib.hypot(a, b + 3),
    "where": lambda lib, a, b: lib.where(a > 0, a, b),
    "lerp": lambda lib, a, b: lib.lerp(a, b, 0.3),
    "matmul_like_sum": lambda lib, a, b: (a * b).sum(-1, keepdim=True) * a,
}


@st.composite
def broadcastable_pair(draw):
    ndim = draw(st.integers(0, 4))
    out = [draw(st.integers(1, 4)) for _ in range(ndim)]
    def shrink(shape):
        keep = draw(st.integers(0, len(shape)))
        shape = shape[len(shape) - keep:]
        return tuple(1 if draw(st.booleans()) else s for s in shape)
    a, b = shrink(out), shrink(out)
    if draw(st.booleans()):
        a, b = b, a
    return a, b


@settings(max_examples=25, deadline=None)
@given(shapes=broadcastable_pair(), op=st.sampled_from(sorted(OPS)), seed=st.integers(0, 2 ** 16))
def test_binary_gradients_match_torch_and_shapes(shapes, op, seed):
    rng = np.random.default_rng(seed)
    a0 = rng.uniform(-2, 2, shapes[0]).astype(np.float64)
    b0 = rng.uniform(-2, 2, shapes[1]).astype(np.float64)
    ea, eb = ember.tensor(a0, requires_grad=True), ember.tensor(b0, requires_grad=True)
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    eo, to = OPS[op](ember, ea, eb), OPS[op](torch, ta, tb)
    g = rng.standard_normal(tuple(to.shape))
    eo.backward(ember.tensor(g))
    to.backward(torch.tensor(g))
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert ea.grad.shape == ea.shape and eb.grad.shape == eb.shape
    np.testing.assert_allclose(ea.grad.numpy(), ta.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(eb.grad.numpy(), tb.grad.numpy(), rtol=1e-9, atol=1e-12)
