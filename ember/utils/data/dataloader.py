"""DataLoader: batches from a dataset, in order, from the main process or worker processes."""
from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..._tensor import Tensor
from ._collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler


@dataclass
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker process."""
    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The current worker's info, or None in the main process."""
    return _worker_info


class DataLoader:
    """Iterate over a dataset in batches.

    Args:
        dataset: a map-style ``Dataset`` (``__getitem__`` + ``__len__``) or an ``IterableDataset``.
        batch_size: samples per batch (``None`` yields samples one by one, converted to tensors).
        shuffle: visit the dataset in a new random order each epoch (drawn from ``generator``).
        sampler / batch_sampler: custom index order, or custom batches of indices.
        num_workers: worker processes loading batches in parallel (0: the main process).
        collate_fn: how a list of samples becomes a batch (``default_collate``).
        drop_last: drop the last incomplete batch.
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker.
        generator: the ``ember.Generator`` used for shuffling.
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn: Callable | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable | None = None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        self.dataset, self.num_workers, self.pin_memory = dataset, num_workers, pin_memory
        self.timeout, self.worker_init_fn, self.generator = timeout, worker_init_fn, generator
        self.prefetch_factor = 2 if prefetch_factor is None else prefetch_factor
        self.multiprocessing_context = multiprocessing_context
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle, sampler and "
                             "batch_sampler options")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last, self.sampler, self.batch_sampler = batch_size, drop_last, sampler, \
            batch_sampler
        self._auto_collation = batch_sampler is not None or (self._iterable and batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    def _index_batches(self):
        return iter(self.batch_sampler) if self.batch_sampler is not None else iter(self.sampler)

    def _fetch(self, indices):
        if self._auto_collation:
            return self.collate_fn([self.dataset[i] for i in indices])
        return self.collate_fn(self.dataset[indices])

    def __iter__(self):
        if self.num_workers == 0:
            return self._iter_single()
        return _MultiProcessIter(self)

    def _iter_single(self):
        if self._iterable:
            yield from _iterable_batches(self, iter(self.dataset))
            return
        for indices in self._index_batches():
            yield self._fetch(indices)


def _iterable_batches(loader, it):
    if loader.batch_size is None:
        for sample in it:
            yield loader.collate_fn(sample)
        return
    batch = []
    for sample in it:
        batch.append(sample)
        if len(batch) == loader.batch_size:
            yield loader.collate_fn(batch)
            batch = []
    if batch and not loader.drop_last:
        yield loader.collate_fn(batch)


# --------------------------------------------------------------------------- worker processes
# Batches cross the process boundary as NumPy arrays (tensors are rebuilt on arrival):
# ember tensors deliberately refuse to be pickled.
def _to_wire(obj):
    if isinstance(obj, Tensor):
        return _WireTensor(obj._data)
    if isinstance(obj, dict):
        return type(obj)({k: _to_wire(v) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_to_wire(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_wire(v) for v in obj)
    return obj


def _from_wire(obj):
    if isinstance(obj, _WireTensor):
        return Tensor._make(obj.array)
    if isinstance(obj, dict):
        return type(obj)({k: _from_wire(v) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_from_wire(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_from_wire(v) for v in obj)
    return obj


class _WireTensor:
    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def __getstate__(self):
        return self.array

    def __setstate__(self, state) -> None:
        self.array = state


class _Done:
    pass


def _worker_loop(loader, worker_id, num_workers, seed, index_q, result_q):
    global _worker_info
    from ... import random as ember_random
    ember_random.manual_seed(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, loader.dataset)
    if loader.worker_init_fn is not None:
        loader.worker_init_fn(worker_id)
    if loader._iterable:
        try:
            for k, batch in enumerate(_iterable_batches(loader, iter(loader.dataset))):
                result_q.put((worker_id, k, _to_wire(batch), None))
        except Exception as e:  # noqa: BLE001  reported in the main process
            result_q.put((worker_id, -1, None, f"{type(e).__name__}: {e}"))
        result_q.put((worker_id, -1, _Done(), None))
        return
    while True:
        task = index_q.get()
        if task is None:
            return
        k, indices = task
        try:
            result_q.put((worker_id, k, _to_wire(loader._fetch(indices)), None))
        except Exception as e:  # noqa: BLE001
            result_q.put((worker_id, k, None, f"{type(e).__name__}: {e}"))


class _MultiProcessIter:
    """Hands batches of indices to workers round-robin and yields their results in order."""

    def __init__(self, loader: DataLoader) -> None:
        from ... import random as ember_random
        ctx = loader.multiprocessing_context or mp.get_context("fork")
        if isinstance(ctx, str):
            ctx = mp.get_context(ctx)
        self.loader, self.n = loader, loader.num_workers
        base_seed = int(ember_random._gen(loader.generator).integers(0, 2 ** 62))
        self.result_q = ctx.Queue()
        self.index_qs = [ctx.Queue() for _ in range(self.n)]
        self.workers = [ctx.Process(target=_worker_loop, args=(loader, i, self.n, base_seed + i, self.index_qs[i],
                                                                self.result_q), daemon=True) for i in range(self.n)]
        for w in self.workers:
            w.start()
        self.timeout = loader.timeout if loader.timeout > 0 else None
        if loader._iterable:
            self._gen = self._iter_iterable()
        else:
            self._gen = self._iter_map()

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._gen)

    def _get(self):
        try:
            return self.result_q.get(timeout=self.timeout)
        except queue_mod.Empty:
            self._shutdown()
            raise RuntimeError(f"DataLoader timed out after {self.loader.timeout} seconds") from None

    def _iter_map(self):
        batches = enumerate(self.loader._index_batches())
        sent = received = 0
        pending = {}
        try:
            for _ in range(self.n * self.loader.prefetch_factor):
                sent += self._send(batches, sent)
            while received < sent:
                while received not in pending:
                    _, k, data, err = self._get()
                    if err is not None:
                        raise RuntimeError(f"Caught {err} in DataLoader worker process")
                    pending[k] = data
                yield _from_wire(pending.pop(received))
                received += 1
                sent += self._send(batches, sent)
        finally:
            self._shutdown()

    def _send(self, batches, k) -> int:
        try:
            idx, indices = next(batches)
        except StopIteration:
            return 0
        self.index_qs[idx % self.n].put((idx, indices))
        return 1

    def _iter_iterable(self):
        # each worker iterates its own replica of the dataset (split it with get_worker_info())
        buffers = {i: {} for i in range(self.n)}
        nxt = {i: 0 for i in range(self.n)}
        done = set()
        w = 0
        try:
            while len(done) < self.n:
                if w in done:
                    w = (w + 1) % self.n
                    continue
                while nxt[w] not in buffers[w] and w not in done:
                    wid, k, data, err = self._get()
                    if err is not None:
                        raise RuntimeError(f"Caught {err} in DataLoader worker process")
                    if isinstance(data, _Done):
                        done.add(wid)
                    else:
                        buffers[wid][k] = data
                if nxt[w] in buffers[w]:
                    yield _from_wire(buffers[w].pop(nxt[w]))
                    nxt[w] += 1
                w = (w + 1) % self.n
            for wid in range(self.n):  # anything left after the worker finished
                while nxt[wid] in buffers[wid]:
                    yield _from_wire(buffers[wid].pop(nxt[wid]))
                    nxt[wid] += 1
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        for q in self.index_qs:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        for w in self.workers:
            w.join(timeout=1)
            if w.is_alive():
                w.terminate()

    def __del__(self) -> None:
        try:
            self._shutdown()
        except Exception:  # noqa: BLE001  interpreter shutdown
            pass
