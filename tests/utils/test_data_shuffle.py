"""Shuffling draws as torch's: a seeded DataLoader, sampler or random_split visits torch's order."""
import numpy as np
import pytest
import torch

import ember


def epochs(lib, n_epochs=2, **kw):
    """Every index two epochs of a DataLoader visit, then one more draw from the default generator."""
    ds = lib.utils.data.TensorDataset(lib.arange(50))
    out = [b.tolist() for _ in range(n_epochs) for (b,) in lib.utils.data.DataLoader(ds, batch_size=8, **kw)]
    return out, lib.rand(1).item()


@pytest.mark.parametrize("kw", [dict(shuffle=True), dict(shuffle=True, drop_last=True),
                                dict(shuffle=True, num_workers=2, timeout=60), dict(shuffle=False)])
def test_dataloader_order_is_torchs(kw):
    for seed in (0, 3):
        torch.manual_seed(seed)
        ember.manual_seed(seed)
        assert epochs(ember, **kw) == epochs(torch, **kw)


def test_dataloader_with_generator_is_torchs():
    kw = lambda lib: dict(shuffle=True, generator=lib.Generator().manual_seed(7))  # noqa: E731
    torch.manual_seed(1)
    ember.manual_seed(1)
    assert epochs(ember, **kw(ember)) == epochs(torch, **kw(torch))


@pytest.mark.parametrize("make", [
    lambda lib: lib.utils.data.RandomSampler(range(10), replacement=True, num_samples=70),
    lambda lib: lib.utils.data.RandomSampler(range(10), num_samples=25),
    lambda lib: lib.utils.data.SubsetRandomSampler([5, 6, 7, 8, 9]),
    lambda lib: lib.utils.data.WeightedRandomSampler([0.1, 0.5, 0.4], 6),
    lambda lib: lib.utils.data.WeightedRandomSampler([0.1, 0.5, 0.4, 1.0], 3, replacement=False),
])
def test_samplers_are_torchs(make):
    torch.manual_seed(2)
    ember.manual_seed(2)
    assert list(make(ember)) == list(make(torch))
    np.testing.assert_array_equal(ember.get_rng_state().numpy(), torch.get_rng_state().numpy())


@pytest.mark.parametrize("lengths", [[6, 14], [0.3, 0.7], [0.5, 0.25, 0.25]])
def test_random_split_is_torchs(lengths):
    torch.manual_seed(4)
    ember.manual_seed(4)
    e = [list(s) for s in ember.utils.data.random_split(range(20), lengths)]
    assert e == [list(s) for s in torch.utils.data.random_split(range(20), lengths)]
    g = lambda lib: lib.Generator().manual_seed(9)  # noqa: E731
    assert [list(s) for s in ember.utils.data.random_split(range(20), lengths, generator=g(ember))] == \
        [list(s) for s in torch.utils.data.random_split(range(20), lengths, generator=g(torch))]
