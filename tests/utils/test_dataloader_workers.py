"""DataLoader worker processes against torch.utils.data: persistent workers, argument checks, seeding,
iterable datasets, ordering, batch transport and shutdown. Every wait is bounded; children are reaped by pid."""
import multiprocessing as mp
import os
import random
import signal
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tdata
from torch.utils.data._utils.worker import _generate_state

import ember
import ember.utils.data as edata
import ember.utils.data.dataloader as dataloader_module

LIBS = {"torch": (torch, tdata), "ember": (ember, edata)}


def _flat(batch):
    if isinstance(batch, (ember.Tensor, torch.Tensor)):
        return (str(batch.dtype).split(".")[-1], tuple(batch.shape), batch.numpy().tolist())
    if isinstance(batch, dict):
        return {k: _flat(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return (type(batch).__name__, [_flat(b) for b in batch])
    return batch


def _both(within, make_dataset, seconds: float = 10, **kwargs):
    """The batches of one epoch under each library, flattened for comparison."""
    out = {}
    for name, (_, data) in LIBS.items():
        with within(seconds):
            out[name] = [_flat(b) for b in data.DataLoader(make_dataset(data), **kwargs)]
    return out


# --------------------------------------------------------------------------- persistent workers
class WhoLoads:
    """Samples say which process loaded them, which worker id and what the worker's RNGs gave."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        info = self._info()
        return {"i": i, "pid": os.getpid(), "wid": info.id, "seed": info.seed}


def _who(data):
    return type("WhoLoads", (WhoLoads, data.Dataset), {"_info": staticmethod(data.get_worker_info)})


def test_persistent_workers_keep_their_processes_across_epochs(within):
    for name, (_, data) in LIBS.items():
        pids = {}
        for persistent in (True, False):
            loader = data.DataLoader(_who(data)(12), batch_size=2, num_workers=2, persistent_workers=persistent)
            with within(10):
                epochs = [[b for b in loader] for _ in range(2)]
            by_epoch = [{int(p) for b in e for p in b["pid"]} for e in epochs]
            assert all(len(p) == 2 for p in by_epoch)
            pids[persistent] = by_epoch
            # each epoch: all samples, in order; batch k loaded by worker k % 2
            for e in epochs:
                assert [int(i) for b in e for i in b["i"]] == list(range(12))
                assert [int(b["wid"][0]) for b in e] == [k % 2 for k in range(6)]
            del loader
        assert pids[True][0] == pids[True][1], name
        assert not pids[False][0] & pids[False][1], name


def test_persistent_workers_after_an_early_break_start_the_next_epoch_clean(within):
    def run(data):
        loader = data.DataLoader(_who(data)(20), batch_size=2, num_workers=2, persistent_workers=True)
        with within(10):
            for k, _ in enumerate(loader):
                if k == 1:
                    break
            return [[int(i) for i in b["i"]] for b in loader], [int(b["wid"][0]) for b in loader]
    assert run(edata) == run(tdata)


def test_workers_are_seeded_as_torch_seeds_them(within):
    class Draws:
        def __len__(self):
            return 4

        def __getitem__(self, i):
            info = self._info()
            base = info.seed - info.id
            return {"wid": info.id, "base": base, "py": random.random(), "np": np.random.randint(2 ** 31),
                    "lib": float(self._lib.rand(()))}

    for name, (lib, data) in LIBS.items():
        ds = type("Draws", (Draws, data.Dataset), {"_info": staticmethod(data.get_worker_info), "_lib": lib})()
        with within(10):
            batches = list(data.DataLoader(ds, batch_size=None, num_workers=2))
        assert len({int(b["base"]) for b in batches}) == 1
        for b in batches[:2]:  # each worker's first draws, from seed = base_seed + worker id
            wid, base = int(b["wid"]), int(b["base"])
            assert float(b["py"]) == random.Random(base + wid).random()
            assert int(b["np"]) == np.random.RandomState(_generate_state(base, wid)).randint(2 ** 31)
            lib.manual_seed(base + wid)
            assert float(b["lib"]) == float(lib.rand(()))


# --------------------------------------------------------------------------- argument checks
@pytest.mark.parametrize("kwargs", [dict(num_workers=0, persistent_workers=True),
                                    dict(num_workers=0, prefetch_factor=2),
                                    dict(num_workers=2, prefetch_factor=-1),
                                    dict(timeout=-1.0),
                                    dict(num_workers=-1),
                                    dict(num_workers=0, multiprocessing_context="fork"),
                                    dict(num_workers=2, multiprocessing_context="no-such-method"),
                                    dict(num_workers=2, multiprocessing_context=3)])
def test_argument_checks_match_torch(kwargs):
    errors = {}
    for name, (_, data) in LIBS.items():
        with pytest.raises(Exception) as info:
            data.DataLoader(list(range(4)), **kwargs)
        errors[name] = info.value
    assert type(errors["ember"]) is type(errors["torch"])
    if not isinstance(kwargs.get("multiprocessing_context"), str):
        assert str(errors["ember"]) == str(errors["torch"])


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # torch's __del__ after its own check
def test_prefetch_factor_zero_and_attribute_changes_match_torch():
    for name, (_, data) in LIBS.items():
        loader = data.DataLoader(list(range(4)), num_workers=1, prefetch_factor=0)
        with pytest.raises(AssertionError):
            iter(loader)
        assert data.DataLoader(list(range(4))).prefetch_factor is None
        assert data.DataLoader(list(range(4)), num_workers=1).prefetch_factor == 2
        with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
            loader.batch_size = 3
        loader.num_workers = 0  # allowed in both
        with pytest.raises(AssertionError):
            iter(data.DataLoader(list(range(4)), timeout=1.0))


# --------------------------------------------------------------------------- batches
class Mixed:
    def __len__(self):
        return 9

    def __getitem__(self, i):
        return {"img": np.full((2, 3), i, dtype=np.uint8), "f": np.arange(4, dtype=np.float32)[::2] * i,
                "label": i, "w": i / 4, "ok": i % 2 == 0, "name": f"s{i}", "pair": (np.int16(i), [i, -i])}


def test_batches_through_workers_match_torch_in_type_shape_and_value(within):
    def make(data):
        return type("Mixed", (Mixed, data.Dataset), {})()
    out = _both(within, make, batch_size=4, num_workers=2)
    assert out["ember"] == out["torch"]


def test_tensor_dataset_batches_match_torch(within):
    x = np.random.default_rng(0).standard_normal((11, 3, 2)).astype(np.float32)
    y = np.arange(11) % 3
    for workers in (0, 2):
        out = {}
        for name, (lib, data) in LIBS.items():
            ds = data.TensorDataset(lib.tensor(x), lib.tensor(y))
            with within(10):
                out[name] = [_flat(b) for b in data.DataLoader(ds, batch_size=4, sampler=[3, 1, 10, 0, -1, 5, 7],
                                                               num_workers=workers)]
        assert out["ember"] == out["torch"]
    # a tensor that requires grad is collated with its history, as torch does
    for name, (lib, data) in LIBS.items():
        w = lib.tensor(x, requires_grad=True)
        b = next(iter(data.DataLoader(data.TensorDataset(w), batch_size=3)))[0]
        assert b.requires_grad and b.grad_fn is not None


class Rows:
    """(array row, int label) samples, as ember.datasets' in-memory sets give them, written for either library."""

    def __init__(self, x, y, transform=None):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        x = self.x[i]
        return (x if self.transform is None else self.transform(x)), int(self.y[i])


def test_in_memory_dataset_batches_match_torch(within):
    from ember.datasets._base import ArrayDataset

    class Shifted(ArrayDataset):  # its own __getitem__: samples are no longer plain rows
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x + 1, y
    rng = np.random.default_rng(0)
    for x in (rng.standard_normal((11, 3, 2)).astype(np.float32), rng.integers(0, 256, (11, 4, 4), dtype=np.uint8)):
        y = (np.arange(11) % 3).astype(np.int32)
        for transform, cls in ((None, ArrayDataset), (np.negative, ArrayDataset), (None, Shifted)):
            shift = 1 if cls is Shifted else 0
            for workers in (0, 2):
                kwargs = dict(batch_size=4, sampler=[3, 1, 10, 0, -1, 5, 7], num_workers=workers)
                with within(10):
                    e = [_flat(b) for b in edata.DataLoader(cls(x, y, transform), **kwargs)]
                    t = [_flat(b) for b in tdata.DataLoader(Rows(x + shift, y, transform), **kwargs)]
                assert e == t
    # shuffled, with drop_last, epoch after epoch: the same batches as torch's from a generator seeded alike
    x, y = rng.standard_normal((10, 2)).astype(np.float32), np.arange(10)
    e = edata.DataLoader(ArrayDataset(x, y), batch_size=3, shuffle=True, drop_last=True,
                         generator=ember.Generator().manual_seed(1))
    t = tdata.DataLoader(Rows(x, y), batch_size=3, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(1))
    assert [[_flat(b) for b in e] for _ in range(3)] == [[_flat(b) for b in t] for _ in range(3)]


def test_getitems_is_used_for_a_batch_as_in_torch(within):
    class Batched:
        def __len__(self):
            return 6

        def __getitem__(self, i):
            raise AssertionError("__getitems__ should be used")

        def __getitems__(self, indices):
            return [(i, 10 * i) for i in indices]
    for workers in (0, 2):
        out = _both(within, lambda data: type("B", (Batched, data.Dataset), {})(), batch_size=4, num_workers=workers)
        assert out["ember"] == out["torch"]


class Shards:
    """An IterableDataset whose workers hold shards of different lengths."""

    def __iter__(self):
        info = self._info()
        if info is None:
            return iter(range(7))
        return iter(range(info.id * 100, info.id * 100 + 3 + 4 * info.id))


@pytest.mark.parametrize("kwargs", [dict(batch_size=2), dict(batch_size=2, drop_last=True), dict(batch_size=None)])
def test_iterable_dataset_batches_come_in_torch_order(kwargs, within):
    def make(data):
        return type("Shards", (Shards, data.IterableDataset), {"_info": staticmethod(data.get_worker_info)})()
    out = _both(within, make, num_workers=2, **kwargs)
    assert out["ember"] == out["torch"]
    assert out["ember"] == _both(within, make, num_workers=2, persistent_workers=True, **kwargs)["ember"]


def test_out_of_order_delivery_gives_every_batch_once(within):
    class Uneven:
        def __init__(self):
            self.second_done = mp.get_context("fork").Event()

        def __len__(self):
            return 16

        def __getitem__(self, i):
            if i == 0:  # batch 0 waits until worker 1 has loaded batch 1
                self.second_done.wait(5)
                time.sleep(0.1)
            if i == 3:
                self.second_done.set()
            return i
    for name, (_, data) in LIBS.items():
        ds = type("U", (Uneven, data.Dataset), {})()
        with within(10):
            got = [b.tolist() for b in data.DataLoader(ds, batch_size=2, num_workers=2, in_order=False)]
        assert sorted(got) == [[i, i + 1] for i in range(0, 16, 2)], name
        assert got[0] == [2, 3], name  # the slow first batch was overtaken


@pytest.mark.parametrize("ring_bytes", [64 << 20, 4096])  # shared memory, or the pipe when it is too small
def test_batches_larger_than_a_pipe_and_long_index_lists_do_not_block(ring_bytes, within, monkeypatch):
    monkeypatch.setattr(dataloader_module, "_RING_BYTES", ring_bytes)
    ds = edata.TensorDataset(ember.arange(400_000))
    with within(20):
        got = [b.numpy() for (b,) in edata.DataLoader(ds, batch_size=100_000, num_workers=2, prefetch_factor=3)]
    assert np.array_equal(np.concatenate(got), np.arange(400_000))


def test_workers_started_by_a_forkserver(within):
    # the workers' parent is the server, not this process; arguments and pipes travel pickled
    loader = edata.DataLoader(list(range(10)), batch_size=3, num_workers=2, multiprocessing_context="forkserver")
    with within(30):
        assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_len_of_the_iterator_matches_torch():
    for name, (_, data) in LIBS.items():
        loader = data.DataLoader(list(range(10)), batch_size=3, num_workers=1)
        it = iter(loader)
        assert len(it) == len(loader) == 4
        del it


# --------------------------------------------------------------------------- shutdown
class Idle:
    def __len__(self):
        return 1000

    def __getitem__(self, i):
        return os.getpid()


def _gone(pid: int) -> bool:
    """Exited and reaped: neither running nor a zombie."""
    return not os.path.exists(f"/proc/{pid}")


@pytest.mark.parametrize("how", ["break", "del"])
def test_stopping_early_ends_every_worker_quickly(how, within):
    ds = type("Idle", (Idle, edata.Dataset), {})()
    with within(10):
        it = iter(edata.DataLoader(ds, batch_size=2, num_workers=4))
        pids = set()
        while len(pids) < 4:
            pids.update(next(it).tolist())
        start = time.monotonic()
        if how == "break":  # what a for loop's break leaves: the iterator unreferenced
            for _ in it:
                break
        del it  # freed at once: the iterator is in no reference cycle
        took = time.monotonic() - start
    assert all(_gone(p) for p in pids)
    assert took < 2.0  # a bound against waiting on the workers' 5 s grace period, not a benchmark


def test_deleting_a_loader_with_persistent_workers_ends_them(within):
    ds = type("Idle", (Idle, edata.Dataset), {})()
    with within(10):
        loader = edata.DataLoader(ds, batch_size=100, num_workers=2, persistent_workers=True)
        pids = {p for b in loader for p in b.tolist()}
        assert len(pids) == 2 and not any(_gone(p) for p in pids)
        del loader
    assert all(_gone(p) for p in pids)


def test_a_loader_stops_quickly_while_another_loader_has_workers(within):
    # the second loader's workers are forks of this process: they must not keep the first one's pipes open
    ds = type("Idle", (Idle, edata.Dataset), {})()
    with within(10):
        first = iter(edata.DataLoader(ds, batch_size=2, num_workers=2))
        second = iter(edata.DataLoader(ds, batch_size=2, num_workers=2))
        pids = set(next(first).tolist()) | set(next(first).tolist())
        next(second)
        start = time.monotonic()
        del first
        took = time.monotonic() - start
        assert all(_gone(p) for p in pids) and took < 2.0  # not the 5 s grace period
        del second
