"""ember's fitted erf/erfc/normal-CDF kernels (ember/_ops/_erf.py) against torch over the whole range."""
import numpy as np
import pytest
import torch

import ember
from ember._ops import _erf


def _grid(dtype):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(20000) * 3, np.linspace(-12, 12, 20001), np.geomspace(1e-30, 30, 2000),
                        -np.geomspace(1e-30, 30, 2000), [0.0, -0.0, 0.75, -0.75, np.inf, -np.inf, np.nan]])
    return x.astype(dtype)


def _ulps(mine, ref, dtype):
    ok = np.isfinite(ref) & (ref != 0)
    return (np.abs(mine[ok].astype(np.float64) - ref[ok]) / np.spacing(np.abs(ref[ok]).astype(dtype))).max()


@pytest.mark.parametrize("dtype,max_ulps", [(np.float32, 1), (np.float64, 400)])
@pytest.mark.parametrize("name", ["erf", "erfc"])
def test_erf_erfc_against_torch(name, dtype, max_ulps):
    x = _grid(dtype)
    mine = getattr(_erf, name)(x)
    ref = getattr(torch, name)(torch.from_numpy(x)).numpy()
    assert mine.dtype == dtype
    np.testing.assert_array_equal(np.isnan(mine), np.isnan(ref))
    np.testing.assert_array_equal(mine[~np.isfinite(x)], ref[~np.isfinite(x)])
    assert _ulps(mine, ref, dtype) <= max_ulps
    assert np.array_equal(np.signbit(mine[ref == 0]), np.signbit(ref[ref == 0]))


@pytest.mark.parametrize("dtype,atol", [(np.float32, 3e-7), (np.float64, 1e-15)])
def test_gelu_whole_range(dtype, atol):
    x = _grid(dtype)
    ref_cdf = 0.5 * (1 + torch.erf(torch.from_numpy(x).double() / np.sqrt(2)))
    cdf = _erf.normal_cdf(x)
    assert np.nanmax(np.abs(cdf - ref_cdf.numpy())) <= atol
    out = ember.nn.functional.gelu(ember.tensor(x)).numpy()
    tout = torch.nn.functional.gelu(torch.from_numpy(x)).numpy()
    # at +inf torch's vectorised float32 kernel gives nan on AVX-512 CPUs (inf on AVX2, and in its scalar and
    # float64 paths); x * Phi(x) -> inf, which ember gives everywhere
    assert out[x == np.inf].tolist() == [np.inf]
    finite = x != np.inf
    np.testing.assert_allclose(out[finite], tout[finite], rtol=1e-6, atol=atol * 10)  # torch: 1 + erf(x) loses bits


@pytest.mark.parametrize("dtype,atol", [(np.float32, 3e-7), (np.float64, 1e-15)])
def test_gelu_gradient_whole_range(dtype, atol, batch_split):
    """GELU's fused op gives its derivative with the forward pass: it must be torch's backward (on one thread,
    and with the forward pass and the gradient's product split between three)."""
    x = _grid(dtype)
    tx = torch.from_numpy(x).requires_grad_()
    torch.nn.functional.gelu(tx).backward(torch.ones_like(tx))
    ex = ember.tensor(x, requires_grad=True)
    ember.nn.functional.gelu(ex).backward(ember.ones_like(ex))
    mine, ref = ex.grad.numpy(), tx.grad.numpy()
    np.testing.assert_array_equal(np.isnan(mine), np.isnan(ref))  # nan at +-inf, as torch
    np.testing.assert_allclose(mine, ref, rtol=1e-6, atol=atol * 10)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_gelu_half_precision(dtype):
    """Half-precision GELU is computed in float32 and rounded once, as torch's kernel: within an ulp."""
    x = torch.from_numpy(_grid(np.float32)[:24000]).to(getattr(torch, dtype))
    ref = torch.nn.functional.gelu(x).float().numpy()
    mine = ember.nn.functional.gelu(ember.tensor(x.float().numpy()).to(getattr(ember, dtype)))
    assert mine.dtype == getattr(ember, dtype)
    np.testing.assert_allclose(mine.float().numpy(), ref, rtol=torch.finfo(x.dtype).eps, atol=1e-5)
