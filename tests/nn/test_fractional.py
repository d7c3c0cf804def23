"""Fractional max pooling (functional and modules) against torch 2.13.0, given the same random samples."""
import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from torch_compare import compare

TF = torch.nn.functional

CASES = [  # dims, input shape, kernel, output_size / output_ratio
    (2, (2, 3, 9, 11), 3, dict(output_size=(4, 5))),
    (2, (1, 2, 10, 7), (2, 3), dict(output_ratio=(0.5, 0.6))),
    (2, (3, 7, 6), (2, 3), dict(output_size=(4, 3))),  # unbatched
    (3, (2, 2, 7, 6, 7), (2, 3, 4), dict(output_size=(3, 2, 3))),
    (3, (1, 2, 16, 7, 5), (4, 2, 3), dict(output_size=(10, 3, 2))),
    (3, (2, 6, 5, 6), 2, dict(output_ratio=(0.5, 0.5, 0.5))),  # unbatched
]


def _samples(rng, shape, dims, dtype):
    n = shape[0] if len(shape) == dims + 2 else 1
    return rng.random((n, shape[-dims - 1], dims)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dims, shape, k, kw", CASES)
def test_fractional_max_pool_vs_torch(rng, dtype, dims, shape, k, kw):
    x, u = rng.standard_normal(shape).astype(dtype), _samples(rng, shape, dims, dtype)
    ef, tf = (F.fractional_max_pool2d, TF.fractional_max_pool2d) if dims == 2 else \
        (F.fractional_max_pool3d, TF.fractional_max_pool3d)
    eo, to = compare(lambda a, s: ef(a, k, return_indices=True, _random_samples=s, **kw),
                     lambda a, s: tf(a, k, return_indices=True, _random_samples=s, **kw), x, u, grad=[0])
    assert eo[1].dtype == ember.int64 and np.array_equal(eo[1].numpy(), to[1].numpy())


def test_fractional_max_pool_ties_and_nan_as_torch(rng):
    x = np.zeros((1, 2, 8, 8))
    x[0, 1, ::3, ::2] = np.nan  # NaN wins its window (the last one seen)
    u = rng.random((1, 2, 2))
    compare(lambda a, s: F.fractional_max_pool2d(a, 3, (3, 3), return_indices=True, _random_samples=s),
            lambda a, s: TF.fractional_max_pool2d(a, 3, (3, 3), return_indices=True, _random_samples=s), x, u,
            grad=[0])


def test_fractional_max_pool_gradgradcheck(rng):
    x = ember.tensor(rng.permutation(2 * 7 * 6).reshape(1, 2, 7, 6) * 0.1, requires_grad=True)
    u = ember.tensor(rng.random((1, 2, 2)))
    fn = lambda a: F.fractional_max_pool2d(a, 2, output_size=(3, 4), _random_samples=u)  # noqa: E731
    assert gradcheck(fn, (x,)) and gradgradcheck(fn, (x,))


@pytest.mark.parametrize("dims", [2, 3])
def test_fractional_max_pool_modules_vs_torch(rng, dims):
    shape = (2, 3, 7, 9) if dims == 2 else (2, 3, 6, 7, 5)
    u = torch.tensor(_samples(rng, shape, dims, np.float64))
    name = f"FractionalMaxPool{dims}d"
    tm = getattr(torch.nn, name)(2, output_ratio=0.5, _random_samples=u, return_indices=True).float()
    em = getattr(nn, name)(2, output_ratio=0.5, _random_samples=ember.tensor(u.numpy()), return_indices=True).float()
    assert list(em.state_dict()) == list(tm.state_dict()) == ["_random_samples"]
    assert em._random_samples.dtype == ember.float32
    compare(em, tm, rng.standard_normal(shape).astype(np.float32))


def test_fractional_max_pool_draws_its_own_samples(rng):
    x = ember.tensor(rng.standard_normal((2, 3, 9, 9)))
    ember.manual_seed(3)
    a, ia = F.fractional_max_pool2d(x, 2, output_size=5, return_indices=True)
    ember.manual_seed(3)
    b = F.fractional_max_pool2d(x, 2, output_size=5)
    assert tuple(a.shape) == (2, 3, 5, 5) and np.array_equal(a.numpy(), b.numpy())
    # every value is the input at its index, and the last window ends at the input's end
    flat = x.numpy().reshape(2, 3, -1)
    assert np.array_equal(np.take_along_axis(flat, ia.numpy().reshape(2, 3, -1), 2), a.numpy().reshape(2, 3, -1))
    assert np.all(ia.numpy()[..., -1, -1] // 9 >= 7)


@pytest.mark.parametrize("call, exc", [
    (lambda lib: lib.nn.functional.fractional_max_pool2d(lib.ones(1, 2, 5, 7), 3, output_size=(5, 7),
                                                         _random_samples=lib.ones(1, 2, 2) / 2), RuntimeError),
    (lambda lib: lib.nn.functional.fractional_max_pool2d(lib.ones(1, 2, 5, 7), 2), ValueError),
    (lambda lib: lib.nn.functional.fractional_max_pool2d(lib.ones(1, 2, 5, 7), 2, output_size=2,
                                                         _random_samples=lib.ones(1, 3, 2) / 2), RuntimeError),
    (lambda lib: lib.nn.functional.fractional_max_pool3d(lib.ones(1, 2, 5, 7, 4), 2, output_size=2,
                                                         _random_samples=lib.ones(1, 2, 3, dtype=lib.float64)),
     RuntimeError),
    (lambda lib: lib.nn.FractionalMaxPool2d(2, output_ratio=1.5), ValueError),
    (lambda lib: lib.nn.FractionalMaxPool3d(2, output_size=2, output_ratio=0.5), ValueError),
])
def test_fractional_max_pool_errors_as_torch(call, exc):
    with pytest.raises(exc):
        call(torch)
    with pytest.raises(exc):
        call(ember)
