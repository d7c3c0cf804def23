"""DistributedSampler: each rank's share of a dataset, the same indices as torch's."""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from .sampler import Sampler


def _torch_randperm(n: int, seed: int) -> list[int]:
    """``torch.randperm(n, generator=torch.Generator().manual_seed(seed))``, bit for bit.

    torch's CPU generator is a 32-bit Mersenne Twister seeded with the seed's low 32 bits, as NumPy's
    legacy ``RandomState``; randperm swaps position i with i + (next 32-bit draw mod (n - i)).
    """
    draws = np.random.RandomState(seed & 0xFFFFFFFF).randint(0, 1 << 32, size=max(n - 1, 0), dtype=np.uint32)
    perm = list(range(n))
    for i, r in enumerate(draws.tolist()):
        j = i + r % (n - i)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


class DistributedSampler(Sampler):
    """The indices of rank ``rank`` out of ``num_replicas``: every rank sees an equal, disjoint share.

    With ``shuffle`` the order is a permutation drawn from ``seed + epoch`` (call ``set_epoch`` each
    epoch), the same on every rank. Without ``drop_last`` the indices are padded by repeating the
    first ones so they divide evenly; with it, the tail is dropped.

    Args:
        dataset: what to sample from (only its length is used).
        num_replicas, rank: default to the process group's world size and rank.
        shuffle, seed, drop_last: as above.
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from ... import distributed as dist
            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.epoch, self.drop_last, self.shuffle, self.seed = 0, drop_last, shuffle, seed
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        indices = _torch_randperm(n, self.seed + self.epoch) if self.shuffle else list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            else:
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use this epoch's permutation (seed + epoch) from now on."""
        self.epoch = epoch
