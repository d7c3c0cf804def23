"""nn.init and modules' default initialisation draw torch's values after the same seed."""
import math

import numpy as np
import pytest
import torch

import ember


def same_init(build, exact=True, seeds=(0, 5)):
    """``build(lib)`` returns tensors (or a module): after ``lib.manual_seed(seed)`` ember's equal torch's, and
    the generators are left in the same state."""
    for seed in seeds:
        torch.manual_seed(seed)
        ember.manual_seed(seed)
        t, e = build(torch), build(ember)
        t = list(t.parameters()) if isinstance(t, torch.nn.Module) else [t]
        e = list(e.parameters()) if isinstance(e, ember.nn.Module) else [e]
        assert len(e) == len(t)
        for a, b in zip(e, t):
            a, b = a.detach().numpy(), b.detach().numpy()
            if exact:
                np.testing.assert_array_equal(a, b)
            else:  # normals in float32: torch's vectorised log/sin/cos round differently in the last bits
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(ember.get_rng_state().numpy(), torch.get_rng_state().numpy())


init = lambda lib: lib.nn.init  # noqa: E731


@pytest.mark.parametrize("build, exact", [
    (lambda L: init(L).uniform_(L.empty(3, 5), -1, 2), True),
    (lambda L: init(L).normal_(L.empty(3, 5), 1, 2), True),
    (lambda L: init(L).normal_(L.empty(30, 5), 1, 2), False),
    (lambda L: init(L).normal_(L.empty(30, 5, dtype=L.float64), 1, 2), True),
    (lambda L: init(L).xavier_uniform_(L.empty(30, 5)), True),
    (lambda L: init(L).xavier_normal_(L.empty(30, 5), gain=2.0), False),
    (lambda L: init(L).kaiming_uniform_(L.empty(30, 5, 3), a=math.sqrt(5)), True),
    (lambda L: init(L).kaiming_normal_(L.empty(30, 5), mode="fan_out", nonlinearity="relu"), False),
    (lambda L: init(L).trunc_normal_(L.empty(30, 5, dtype=L.float64)), True),  # redraws outside [a, b]
    (lambda L: init(L).trunc_normal_(L.empty(300, 5), 0.0, 1.0, 1.0, 1.5), True),  # uniform proposals
    (lambda L: init(L).orthogonal_(L.empty(6, 10, dtype=L.float64)), False),
    (lambda L: init(L).orthogonal_(L.empty(10, 3, 2), gain=2), False),
    (lambda L: init(L).uniform_(L.empty(4, 4), generator=L.Generator().manual_seed(3)), True),
])
def test_init_functions_are_torchs(build, exact):
    same_init(build, exact)


@pytest.mark.parametrize("build, exact", [
    (lambda L: L.nn.Linear(3, 4), True), (lambda L: L.nn.Linear(300, 40, dtype=L.float64), True),
    (lambda L: L.nn.Bilinear(3, 4, 5), True), (lambda L: L.nn.Conv1d(3, 4, 3), True),
    (lambda L: L.nn.Conv2d(4, 8, 3, groups=2), True), (lambda L: L.nn.Conv3d(2, 3, 2), True),
    (lambda L: L.nn.ConvTranspose2d(3, 5, 3), True), (lambda L: L.nn.Embedding(10, 4, padding_idx=2), False),
    (lambda L: L.nn.RNN(3, 5, 2), True), (lambda L: L.nn.LSTM(3, 5, 2, bidirectional=True), True),
    (lambda L: L.nn.LSTM(3, 5, proj_size=2), True), (lambda L: L.nn.GRU(3, 5), True),
    (lambda L: L.nn.GRUCell(3, 5), True), (lambda L: L.nn.MultiheadAttention(8, 2), True),
    (lambda L: L.nn.MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True), False),
    (lambda L: L.nn.TransformerEncoderLayer(8, 2, 16), True),
    (lambda L: L.nn.Sequential(L.nn.Linear(4, 8), L.nn.ReLU(), L.nn.Linear(8, 2)), True),
])
def test_module_default_init_is_torchs(build, exact):
    same_init(build, exact, seeds=(0,))
