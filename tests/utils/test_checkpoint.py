"""ember.utils.checkpoint against torch: the segment runs again when backward reaches it (side effects such as
batch norm's running statistics happen twice), the rerun sees the forward's random state, and the gradients,
the reentrant variant's no-grad case and checkpoint_sequential's segments match torch."""
import warnings

import numpy as np
import pytest
import torch

import ember


def _run(lib, use_reentrant, x_requires_grad=True):
    lib.manual_seed(0)
    bn = lib.nn.BatchNorm1d(3)
    lin = lib.nn.Linear(3, 3)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(np.arange(9, dtype=np.float32).reshape(3, 3) / 10))
        lin.bias.zero_()
    calls = []

    def segment(a):
        calls.append(1)
        return lin(bn(a)).tanh()

    x = lib.tensor(np.linspace(-1, 2, 12, dtype=np.float32).reshape(4, 3), requires_grad=x_requires_grad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = lib.utils.checkpoint.checkpoint(segment, x, use_reentrant=use_reentrant)
    if y.requires_grad:
        y.pow(2).sum().backward()
    grads = [None if p.grad is None else p.grad.numpy() for p in (x, lin.weight, bn.weight)]
    return y.detach().numpy(), bn.running_mean.numpy(), int(bn.num_batches_tracked), len(calls), grads


@pytest.mark.parametrize("use_reentrant", [True, False])
@pytest.mark.parametrize("x_requires_grad", [True, False])
def test_checkpoint_reruns_segment_in_backward_as_torch(use_reentrant, x_requires_grad):
    t = _run(torch, use_reentrant, x_requires_grad)
    e = _run(ember, use_reentrant, x_requires_grad)
    for a, b in zip(e[:4], t[:4]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for a, b in zip(e[4], t[4]):
        assert (a is None) == (b is None)
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_checkpoint_rerun_sees_forward_random_state_and_keeps_stream():
    out = {}
    for lib in (torch, ember):
        seen = []

        def segment(a, lib=lib):
            seen.append(lib.rand(3))
            return a.sin() * seen[-1]

        lib.manual_seed(3)
        x = lib.ones(3, requires_grad=True)
        y = lib.utils.checkpoint.checkpoint(segment, x, use_reentrant=False)
        before = lib.get_rng_state()
        y.sum().backward()
        out[lib.__name__] = (len(seen), bool((seen[0] == seen[1]).all()), bool((lib.get_rng_state() == before).all()))
    assert out["ember"] == out["torch"] == (2, True, True)


def test_checkpoint_sequential_segments_as_torch():
    res = {}
    for lib in (torch, ember):
        lib.manual_seed(0)
        seq = lib.nn.Sequential(*[lib.nn.BatchNorm1d(2) for _ in range(5)])
        x = lib.tensor(np.arange(8, dtype=np.float32).reshape(4, 2), requires_grad=True)
        y = lib.utils.checkpoint.checkpoint_sequential(seq, 2, x, use_reentrant=False)
        y.sum().backward()
        res[lib.__name__] = [int(m.num_batches_tracked) for m in seq]
    assert res["ember"] == res["torch"]
