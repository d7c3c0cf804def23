"""DistributedSampler gives torch's indices (no MPI needed: rank and world size are given)."""
from __future__ import annotations

import pytest
import torch
import torch.utils.data

from ember.utils.data import DistributedSampler


@pytest.mark.parametrize("n", [0, 1, 7, 10, 103])
@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_indices_equal_torch(n, world, drop_last, shuffle):
    data = list(range(n))
    for seed in (0, 1, 1234):
        for rank in range(world):
            mine = DistributedSampler(data, world, rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
            theirs = torch.utils.data.DistributedSampler(data, world, rank, shuffle=shuffle, seed=seed,
                                                         drop_last=drop_last)
            for epoch in (0, 1, 5):
                mine.set_epoch(epoch)
                theirs.set_epoch(epoch)
                assert list(mine) == list(theirs), (seed, rank, epoch)
                assert len(mine) == len(theirs)


def test_large_dataset_and_large_seed():
    data = range(60000)
    for seed in (7, 2**40 + 3):
        mine = list(DistributedSampler(data, 2, 1, seed=seed))
        theirs = list(torch.utils.data.DistributedSampler(data, 2, 1, seed=seed))
        assert mine == theirs


def test_bad_rank():
    for rank in (-1, 3):
        with pytest.raises(ValueError) as mine:
            DistributedSampler(range(5), 3, rank)
        with pytest.raises(ValueError) as theirs:
            torch.utils.data.DistributedSampler(range(5), 3, rank)
        assert str(mine.value) == str(theirs.value)
