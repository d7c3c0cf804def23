"""Max pooling whose windows tile the input (kernel == stride), bit for bit against torch 2.13.0.

NaN windows (torch keeps the last NaN of a window), ties (the first maximum, also between 0.0 and
-0.0), non-finite upstream gradients, integer inputs, double backward, and the batch split between
threads and into chunks.
"""
import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember.nn._functional import pooling

TF = torch.nn.functional


def bits(a):
    """An array's raw bits, so that NaN payloads and the sign of zero are compared too."""
    a = np.ascontiguousarray(a.detach().numpy() if hasattr(a, "detach") else a)
    return a.view(f"u{a.itemsize}") if a.dtype.kind == "f" else a


def check(x, kernel, gy=None):
    """Pool x with return_indices in ember and torch; outputs, indices and input gradients must be identical."""
    one_d = np.ndim(kernel) == 0 and x.ndim in (2, 3) or np.ndim(kernel) == 1 and len(kernel) == 1
    fn, tfn = (F.max_pool1d, TF.max_pool1d) if one_d else (F.max_pool2d, TF.max_pool2d)
    grad = x.dtype.kind == "f"
    with ember.no_grad():  # evaluation's path: the values alone, with no offsets found
        eo = fn(ember.tensor(x.copy(), requires_grad=grad), kernel)
    np.testing.assert_array_equal(bits(eo), bits(tfn(torch.tensor(x.copy()), kernel)), err_msg="values, no_grad")
    e, t = ember.tensor(x.copy(), requires_grad=grad), torch.tensor(x.copy(), requires_grad=grad)
    (eo, ei), (to, ti) = fn(e, kernel, return_indices=True), tfn(t, kernel, return_indices=True)
    assert eo.dtype == e.dtype and tuple(eo.shape) == tuple(to.shape)
    np.testing.assert_array_equal(bits(eo), bits(to), err_msg="values")
    np.testing.assert_array_equal(ei.numpy(), ti.numpy(), err_msg="indices")
    if grad:
        g = np.random.default_rng(3).standard_normal(tuple(to.shape)) if gy is None else gy(tuple(to.shape))
        g = g.astype(x.dtype)
        eo.backward(ember.tensor(g))
        to.backward(torch.tensor(g))
        np.testing.assert_array_equal(bits(e.grad), bits(t.grad), err_msg="input gradient")


def with_nans(rng, x, share):
    """x with a share of NaNs, half of them negative and half with another payload."""
    nan = rng.random(x.shape) < share
    x = x.copy()
    x[nan] = np.nan
    raw = x.view(f"u{x.itemsize}")
    raw[nan & (rng.random(x.shape) < 0.5)] ^= np.array(1, raw.dtype) << (8 * x.itemsize - 1)
    raw[nan & (rng.random(x.shape) < 0.5)] ^= 1
    return x


SHAPES = [
    ((2, 3, 8, 8), 2),
    ((2, 3, 9, 7), 2),               # rows and columns past the last full tile
    ((2, 2, 9, 12), (3, 2)),
    ((2, 2, 8, 9), (2, 3)),
    ((1, 2, 10, 12), 5),             # kernels above 3x3 scan one view per window offset
    ((1, 2, 9, 13), (4, 6)),
    ((3, 7, 9), 2),                  # unbatched
    ((2, 3, 11), 3),                 # 1-D
    ((2, 2, 40), 40),                # 1-D, one window over the whole length
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("shape, kernel", SHAPES)
@pytest.mark.parametrize("share", [0.05, 0.4])
def test_nan_windows_keep_torchs_last_nan(rng, shape, kernel, dtype, share):
    check(with_nans(rng, rng.standard_normal(shape).astype(dtype), share), kernel)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("shape, kernel", SHAPES)
def test_ties_go_to_the_first_maximum_and_zero_keeps_its_sign(rng, shape, kernel, dtype):
    """ReLU-like inputs: mostly zeros, of both signs, and a few small integers."""
    x = np.maximum(rng.integers(-4, 3, shape), 0).astype(dtype)
    x[rng.random(shape) < 0.3] = -0.0
    check(x, kernel)


@pytest.mark.parametrize("shape, kernel", SHAPES)
def test_infinite_inputs(rng, shape, kernel):
    x = rng.choice(np.array([-np.inf, np.inf, 0.0, 1.0], np.float32), shape)
    check(x, kernel)


@pytest.mark.parametrize("shape, kernel", [((2, 3, 8, 8), 2), ((2, 2, 9, 7), 3), ((1, 2, 10, 12), 5), ((2, 3, 9), 2)])
def test_non_finite_and_negative_gradients_reach_only_the_maximum(rng, shape, kernel):
    """torch writes each gradient at its window's argmax and exact +0.0 everywhere else."""
    def gy(s):
        g = -np.abs(rng.standard_normal(s))
        g.flat[::3], g.flat[1::5], g.flat[2::7] = np.inf, -np.inf, np.nan
        return g
    check(rng.standard_normal(shape).astype(np.float32), kernel, gy)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_integer_inputs(rng, dtype):
    check(rng.integers(0, 4, (2, 3, 9, 8)).astype(dtype), 2)
    check(rng.integers(0, 4, (2, 3, 9, 8)).astype(dtype), (2, 3))


def test_non_contiguous_input(rng):
    x = rng.standard_normal((2, 3, 8, 10)).astype(np.float32)
    e, t = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    eo, ei = F.max_pool2d(e.transpose(2, 3), 2, return_indices=True)
    to, ti = TF.max_pool2d(t.transpose(2, 3), 2, return_indices=True)
    np.testing.assert_array_equal(bits(eo), bits(to))
    np.testing.assert_array_equal(ei.numpy(), ti.numpy())
    eo.sum().backward()
    to.sum().backward()
    np.testing.assert_array_equal(bits(e.grad), bits(t.grad))


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # 0 * inf in the test's own product
@pytest.mark.parametrize("shape, kernel", [((2, 3, 9, 7), 2), ((2, 2, 10, 12), 5), ((2, 3, 11), 3)])
def test_double_backward_matches_torch(rng, shape, kernel):
    """The gradient of the input gradient with respect to the output gradient: a gather at the maxima."""
    fn, tfn = (F.max_pool2d, TF.max_pool2d) if len(shape) == 4 else (F.max_pool1d, TF.max_pool1d)
    x = with_nans(rng, rng.standard_normal(shape), 0.1)
    e, t = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    eo, to = fn(e, kernel), tfn(t, kernel)
    g = rng.standard_normal(tuple(to.shape))
    eg, tg = ember.tensor(g, requires_grad=True), torch.tensor(g, requires_grad=True)
    (egx,) = ember.autograd.grad(eo, e, eg, create_graph=True)
    (tgx,) = torch.autograd.grad(to, t, tg, create_graph=True)
    v = rng.standard_normal(shape)
    v.flat[::4] = np.inf
    (egx * ember.tensor(v)).sum().backward()
    (tgx * torch.tensor(v)).sum().backward()
    np.testing.assert_array_equal(bits(egx), bits(tgx))
    np.testing.assert_array_equal(bits(eg.grad), bits(tg.grad))


@pytest.mark.parametrize("chunk_bytes", [1 << 21, 1000])
def test_batch_split_and_chunks(rng, batch_split, monkeypatch, chunk_bytes):
    """Threads and chunks each take some of the images; NaNs in only a few of them send only those
    through the exact scan."""
    monkeypatch.setattr(pooling, "_CHUNK_BYTES", chunk_bytes)
    x = np.maximum(rng.standard_normal((7, 3, 10, 12)), 0).astype(np.float32)
    x[2, 1, 3, 5] = x[5, 0, 8, 8] = x[5, 0, 9, 9] = np.nan
    check(x, 2)
    check(x, (5, 4))
    check(x[:, :, 0], 3)


def test_empty_batch():
    e, t = ember.zeros(0, 3, 8, 8, requires_grad=True), torch.zeros(0, 3, 8, 8, requires_grad=True)
    eo, to = F.max_pool2d(e, 2), TF.max_pool2d(t, 2)
    assert tuple(eo.shape) == tuple(to.shape)
    eo.sum().backward()
    assert tuple(e.grad.shape) == (0, 3, 8, 8)
