"""``axis=`` for ``dim=`` (torch's argument parser takes both) and ``Tensor.cuda``'s keywords, against torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from ember._ops.axis import NAMES


def _same(a, b) -> None:
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


_EXTRA = {"kthvalue": dict(k=1), "index_select": dict(index=[1]), "gather": dict(index=[[0], [1]]),
          "narrow": dict(start=1, length=1), "select": dict(index=0)}


@pytest.mark.parametrize("name", NAMES)
def test_axis_is_dim(name):
    v = np.array([[1.0, 5.0, 2.0], [3.0, 0.0, 9.0]], dtype=np.float32)
    joins = name in ("cat", "concat", "concatenate", "stack")
    for lib in (ember, torch):
        kw = {k: lib.tensor(i) if isinstance(i, list) else i for k, i in _EXTRA.get(name, {}).items()}
        x = lib.tensor(v)
        if joins:
            out = getattr(lib, name)([x, x], axis=1)
            ref = getattr(lib, name)([x, x], dim=1)
        else:
            out = getattr(x, name)(axis=1, **kw)
            ref = getattr(lib, name)(x, dim=1, **kw)
        results = (out, ref) if lib is ember else results + (out, ref)
    ours, ours_dim, theirs, theirs_dim = results
    _same(ours, ours_dim)
    _same(ours, theirs)


def test_axis_and_dim_together_refused():
    for lib in (ember, torch):
        with pytest.raises(TypeError):
            lib.ones(2, 3).sum(dim=1, axis=1)


def test_cuda_keywords_refused_as_torch_cpu_build():
    for lib in (ember, torch):
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            lib.ones(2).cuda(non_blocking=True)
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            lib.ones(2).cuda(memory_format=lib.contiguous_format)
