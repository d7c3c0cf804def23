"""Convolutions over an empty batch, and weights without output channels, as torch 2.13."""
import numpy as np
import pytest
import torch

import ember

CASES = [("conv1d", (0, 3, 5), (4, 3, 3), 1), ("conv2d", (0, 3, 5, 5), (4, 3, 3, 3), 1),
         ("conv2d", (0, 4, 5, 5), (4, 2, 3, 3), 2), ("conv3d", (0, 3, 4, 4, 4), (2, 3, 3, 3, 3), 1),
         ("conv_transpose1d", (0, 3, 5), (3, 4, 3), 1), ("conv_transpose2d", (0, 3, 5, 5), (3, 4, 3, 3), 1)]


@pytest.mark.parametrize("name,xs,ws,groups", CASES)
def test_empty_batch_forward_and_gradients_match_torch(name, xs, ws, groups):
    results = []
    for lib in (torch, ember):
        x = lib.ones(xs, dtype=lib.float64, requires_grad=True)
        w = lib.ones(ws, dtype=lib.float64, requires_grad=True)
        b = lib.ones(ws[1] * groups if "transpose" in name else ws[0], dtype=lib.float64, requires_grad=True)
        y = getattr(lib.nn.functional, name)(x, w, b, padding=1, groups=groups)
        (y * y).sum().backward()
        results.append([t.detach().numpy() for t in (y, x.grad, w.grad, b.grad)])
    for ours, theirs in zip(results[1], results[0]):
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("groups", [1, 2])
def test_weight_without_output_channels_raises_as_torch(groups):
    messages = []
    for lib in (torch, ember):
        x, w = lib.ones(2, 4, 5, 5), lib.ones(0, 4 // groups, 3, 3)
        with pytest.raises(RuntimeError) as err:
            lib.nn.functional.conv2d(x, w, groups=groups)
        messages.append(str(err.value))
    assert messages[1] == messages[0]
