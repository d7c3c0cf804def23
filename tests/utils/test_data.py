"""DataLoader, samplers, datasets and collation, against torch.utils.data where the results are deterministic."""
from collections import namedtuple

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import ember
import ember.utils.data as edata

Point = namedtuple("Point", "x y")


class Squares(edata.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full(3, i, dtype=np.float32), "y": i * i, "name": f"s{i}", "w": float(i) / 2}


class TorchSquares(tdata.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full(3, i, dtype=np.float32), "y": i * i, "name": f"s{i}", "w": float(i) / 2}


def _flat(batch):
    if isinstance(batch, (ember.Tensor, torch.Tensor)):
        return (str(batch.dtype).split(".")[-1], batch.numpy().tolist())
    if isinstance(batch, dict):
        return {k: _flat(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return (type(batch).__name__, [_flat(b) for b in batch])
    return batch


@pytest.mark.parametrize("kwargs", [dict(batch_size=4), dict(batch_size=4, drop_last=True), dict(batch_size=None),
                                    dict(batch_size=3, sampler=[5, 1, 2, 8, 0])])
def test_sequential_batches_and_collation_match_torch(kwargs):
    e = [_flat(b) for b in edata.DataLoader(Squares(10), **kwargs)]
    t = [_flat(b) for b in tdata.DataLoader(TorchSquares(10), **kwargs)]
    assert e == t
    assert len(edata.DataLoader(Squares(10), **kwargs)) == len(tdata.DataLoader(TorchSquares(10), **kwargs))


@pytest.mark.parametrize("sample", [
    (np.arange(3, dtype=np.int32), 2.5, 7, True),
    Point(np.ones(2), [1, 2]),
    [np.float32(1.5), "a", b"b"],
    {"a": {"b": np.zeros((2, 2), dtype=np.uint8)}},
])
def test_default_collate_matches_torch(sample):
    batch = [sample, sample]
    assert _flat(edata.default_collate(batch)) == _flat(tdata.default_collate(batch))


def test_collate_of_tensors_stacks_and_errors():
    b = edata.default_collate([ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0])])
    assert b.shape == (2, 2) and b.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(RuntimeError, match="equal size"):
        edata.default_collate([[1, 2], [1, 2, 3]])


def test_shuffle_is_reproducible_with_seeded_generator_and_covers_everything():
    def order(seed):
        g = ember.Generator().manual_seed(seed)
        return [b[0].tolist() for b in edata.DataLoader(edata.TensorDataset(ember.arange(20)), batch_size=5,
                                                         shuffle=True, generator=g)]
    a, b, c = order(1), order(1), order(2)
    assert a == b and a != c
    flat = sorted(sum(a, []))
    assert flat == list(range(20))
    ember.manual_seed(3)
    d1 = [b[0].tolist() for b in edata.DataLoader(edata.TensorDataset(ember.arange(8)), batch_size=4, shuffle=True)]
    ember.manual_seed(3)
    d2 = [b[0].tolist() for b in edata.DataLoader(edata.TensorDataset(ember.arange(8)), batch_size=4, shuffle=True)]
    assert d1 == d2


@pytest.mark.parametrize("num_workers", [1, 2, 3])
def test_workers_give_the_same_batches_in_order(num_workers):
    ds = Squares(23)
    single = [_flat(b) for b in edata.DataLoader(ds, batch_size=4)]
    multi = [_flat(b) for b in edata.DataLoader(ds, batch_size=4, num_workers=num_workers)]
    assert multi == single


class Stream(edata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = edata.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


def test_iterable_dataset_with_and_without_workers():
    single = [b.tolist() for b in edata.DataLoader(Stream(10), batch_size=3)]
    assert single == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    multi = sorted(sum((b.tolist() for b in edata.DataLoader(Stream(10), batch_size=2, num_workers=2)), []))
    assert multi == list(range(10))


def _init(worker_id):
    assert edata.get_worker_info().id == worker_id


def test_worker_info_and_init_fn_and_errors():
    class Bad(edata.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            if i == 2:
                raise ValueError("boom")
            return i
    assert edata.get_worker_info() is None
    list(edata.DataLoader(Squares(4), batch_size=2, num_workers=2, worker_init_fn=_init))
    with pytest.raises(ValueError, match="boom"):  # the worker's own class, as torch
        list(edata.DataLoader(Bad(), batch_size=1, num_workers=2))


def test_datasets_subset_concat_random_split():
    t = edata.TensorDataset(ember.arange(6), ember.arange(6) * 10)
    assert [int(v) for v in t[4]] == [4, 40] and len(t) == 6
    c = edata.ConcatDataset([edata.Subset(t, [5, 0]), t])
    assert len(c) == 8 and int(c[1][0]) == 0 and int(c[2][0]) == 0 and int(c[-1][1]) == 50
    parts = edata.random_split(t, [2, 4], generator=ember.Generator().manual_seed(0))
    idx = sorted(parts[0].indices + parts[1].indices)
    assert [len(p) for p in parts] == [2, 4] and idx == list(range(6))
    parts = edata.random_split(range(10), [0.5, 0.3, 0.2])
    assert [len(p) for p in parts] == [5, 3, 2]
    with pytest.raises(ValueError):
        edata.random_split(t, [2, 2])


def test_samplers():
    g = ember.Generator().manual_seed(0)
    w = edata.WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=4000, generator=g)
    counts = np.bincount(list(w), minlength=3)
    assert counts[0] == 0 and abs(counts[2] / counts[1] - 3) < 0.4
    bs = list(edata.BatchSampler(edata.SequentialSampler(range(7)), 3, drop_last=False))
    assert bs == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(edata.BatchSampler(range(7), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    r = list(edata.RandomSampler(range(5), replacement=True, num_samples=50, generator=g))
    assert len(r) == 50 and set(r) <= set(range(5))
    loader = edata.DataLoader(range(10), batch_sampler=[[0, 1], [9]])
    assert [b.tolist() for b in loader] == [[0, 1], [9]]
    with pytest.raises(ValueError):
        edata.DataLoader(range(10), batch_size=2, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError):
        edata.WeightedRandomSampler([1.0], num_samples=0)
