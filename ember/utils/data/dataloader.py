"""DataLoader: batches from a dataset, in order, from the main process or worker processes."""
from __future__ import annotations

import fcntl
import itertools
import multiprocessing as mp
import os
import select
import signal
import threading
import time
import warnings
from typing import Callable

from . import _worker
from ._collate import default_collate, default_convert
from ._worker import WorkerInfo, get_worker_info  # noqa: F401  re-exported
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

_JOIN_S = 5.0  # how long shutdown waits for workers to finish their batch before killing them
_PIPE_BYTES = 1 << 20  # a batch of a few hundred KiB goes through a result pipe in one write
_RING_BYTES = 64 << 20  # address space per worker for batches in flight; only the pages used cost memory
_F_SETPIPE_SZ = 1031
# this process's ends of every live iterator's pipes: a forked worker closes them all, so that a worker
# sees end-of-file as soon as its own iterator closes its pipe, whatever other loaders are running
_main_side_fds: set = set()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_main_side_fds.clear)


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
        timeout: seconds to wait for a batch from the workers before raising (0: no limit; a dead
            worker is reported at once either way).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker.
        multiprocessing_context: start method (``"fork"`` by default) or context for the workers.
        generator: the ``ember.Generator`` used for shuffling and for the workers' base seed.
        prefetch_factor: batches each worker loads ahead (2 by default with workers).
        persistent_workers: keep the workers alive from one epoch to the next.
        in_order: yield batches in sampler order (False: as soon as a worker delivers one).

    Example::

        >>> loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, num_workers=2)
        >>> for xb, yb in loader:
        ...     loss = loss_fn(model(xb), yb)
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
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers "
                             "> 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset, self.num_workers, self.prefetch_factor = dataset, num_workers, prefetch_factor
        self.pin_memory, self.pin_memory_device, self.timeout = pin_memory, pin_memory_device, timeout
        self.worker_init_fn, self.multiprocessing_context, self.in_order = worker_init_fn, multiprocessing_context, \
            in_order
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, but got "
                                     f"{name}={value}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last, self.sampler, self.batch_sampler = batch_size, drop_last, sampler, \
            batch_sampler
        self.generator, self.persistent_workers = generator, persistent_workers
        self._auto_collation = batch_sampler is not None or (self._iterable and batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._iterator = None
        self._initialized = True

    @property
    def multiprocessing_context(self):
        """The context workers are started from (None: fork)."""
        return self._mp_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context) -> None:
        if context is not None:
            if self.num_workers == 0:
                raise ValueError(f"multiprocessing_context can only be used with multi-process loading "
                                 f"(num_workers > 0), but got num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = mp.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"multiprocessing_context option should specify a valid start method in "
                                     f"{methods!r}, but got multiprocessing_context={context!r}")
                context = mp.get_context(context)
            if not isinstance(context, mp.context.BaseContext):
                raise TypeError(f"multiprocessing_context option should be a valid context object or a string "
                                f"specifying the start method, but got multiprocessing_context={context}")
        self._mp_context = context

    def __setattr__(self, name: str, value) -> None:
        if getattr(self, "_initialized", False) and name in ("batch_size", "batch_sampler", "sampler", "drop_last",
                                                             "dataset", "persistent_workers"):
            raise ValueError(f"{name} attribute should not be set after DataLoader is initialized")
        super().__setattr__(name, value)

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    @property
    def _index_sampler(self):
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def _index_iter(self):
        """The sampler's entries; an iterable dataset gets an endless stream of batch-sized placeholders."""
        if self._iterable:
            return itertools.repeat([None] * self.batch_size if self._auto_collation else None)
        return iter(self._index_sampler)

    def _fetcher(self) -> _worker.Fetcher:
        return _worker.Fetcher(self.dataset, self._iterable, self._auto_collation, self.collate_fn, self.drop_last)

    def __iter__(self):
        if self.pin_memory:
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then device pinned "
                          "memory won't be used.", stacklevel=2)
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if self.persistent_workers:
            if self._iterator is None or self._iterator._shut:
                self._iterator = _MultiProcessIter(self)
            else:
                self._iterator._reset(self)
            return self._iterator
        return _MultiProcessIter(self)


def _base_seed(loader: DataLoader) -> int:
    """The workers' seed base, drawn from the loader's generator as torch draws it (a 64-bit ``random_()``)."""
    from ... import empty, int64
    return int(empty((), dtype=int64).random_(generator=loader.generator).item())


class _SingleProcessIter:
    def __init__(self, loader: DataLoader) -> None:
        if loader.timeout != 0:
            raise AssertionError("_SingleProcessDataLoaderIter requires timeout == 0")
        self._indices, self._fetcher, self._sampler = loader._index_iter(), loader._fetcher(), loader._index_sampler
        _base_seed(loader)  # torch draws it for workers even when there are none: later draws stay in step

    def __iter__(self):
        return self

    def __next__(self):
        return self._fetcher.fetch(next(self._indices))

    def __len__(self) -> int:
        return len(self._sampler)


class _MultiProcessIter:
    """Starts the workers, hands them sampler entries round-robin and yields their batches in order.

    Each worker has a task pipe, a result pipe and (with fork) a shared-memory ring for its batches'
    arrays. The main process waits on all result pipes and on the workers' process sentinels at once, so
    a worker that dies is noticed as soon as it exits rather than after a timeout. Tasks are written
    without blocking (a full task pipe waits in an outbox) so that the main process never blocks writing
    to a worker that is itself blocked writing a batch.
    """

    def __init__(self, loader: DataLoader) -> None:
        if loader.prefetch_factor <= 0:
            raise AssertionError("prefetch_factor must be greater than 0 for MultiProcessingDataLoaderIter")
        ctx = loader.multiprocessing_context or mp.get_context("fork")
        self._n, self._prefetch, self._in_order = loader.num_workers, loader.prefetch_factor, loader.in_order
        self._timeout, self._persistent = loader.timeout, loader.persistent_workers
        self._sampler = loader._index_sampler
        self._workers, self._task_fds, self._result_fds, self._outbox, self._rings = [], [], [], [], []
        self._shut = False
        base_seed = _base_seed(loader)
        # workers die with this process (Linux); the signal follows the thread that forks, so only
        # from the main thread: otherwise an idle worker notices the closed pipe or its new parent
        pdeathsig = threading.current_thread() is threading.main_thread()
        inherited = ctx.get_start_method() == "fork"
        # a forkserver's workers are the server's children: they watch the parent they find
        parent = os.getpid() if ctx.get_start_method() in ("fork", "spawn") else None
        try:
            for i in range(self._n):
                task_r, task_w = ctx.Pipe(duplex=False)
                result_r, result_w = ctx.Pipe(duplex=False)
                ring = _worker.Ring(_RING_BYTES) if inherited else None
                for conn in (task_w, result_w):
                    try:
                        fcntl.fcntl(conn.fileno(), _F_SETPIPE_SZ, _PIPE_BYTES)
                    except OSError:  # over the per-user pipe allowance: the default size works too
                        pass
                others = tuple(_main_side_fds | {task_w.fileno(), result_r.fileno()}) if inherited else ()
                w = ctx.Process(target=_worker.worker_loop, daemon=True,
                                args=(loader.dataset, loader._iterable, loader._auto_collation, loader.collate_fn,
                                      loader.drop_last, base_seed, loader.worker_init_fn, i, self._n, task_r,
                                      result_w, ring, parent, pdeathsig, others))
                w.start()
                task_r.close()
                result_w.close()
                os.set_blocking(task_w.fileno(), False)
                self._workers.append(w)
                self._task_fds.append(task_w)
                self._result_fds.append(result_r)
                self._rings.append(ring)
                self._outbox.append(bytearray())
                _main_side_fds.update((task_w.fileno(), result_r.fileno()))
        except BaseException:
            self._shutdown()
            raise
        self._poll = select.poll()
        self._fd_owner = {}
        for i, w in enumerate(self._workers):
            for fd in (self._result_fds[i].fileno(), w.sentinel):
                self._poll.register(fd, select.POLLIN)
                self._fd_owner[fd] = i
        self._reset(loader, first=True)

    def _reset(self, loader: DataLoader, first: bool = False) -> None:
        self._indices = loader._index_iter()
        self._send_idx = self._rcvd_idx = 0
        self._task_info: dict = {}  # task id -> (worker,) while loading, (worker, batch) once out of order
        self._active = [True] * self._n  # False: this worker's IterableDataset replica ran out this epoch
        self._tasks = [0] * self._n
        self._cycle = itertools.cycle(range(self._n))
        if not first:  # persistent workers: drop what the last epoch left in the pipes
            for i in range(self._n):
                self._put(i, _worker.Resume())
            acks = 0
            while acks < self._n:
                acks += isinstance(self._receive()[1], _worker.Resume)
        for _ in range(self._prefetch * self._n):
            self._try_put_index()

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self._sampler)

    def __next__(self):
        if self._shut:
            raise StopIteration
        while True:
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info and (len(info) == 2 or self._active[info[0]]):
                    break
                self._task_info.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._shutdown()
                raise StopIteration
            if len(self._task_info[self._rcvd_idx]) == 2:
                worker, data = self._task_info.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                return self._process(data, worker)
            worker, (k, data) = self._receive()
            if isinstance(data, _worker.Exhausted):
                self._active[worker] = False
                self._tasks[worker] -= 1
                self._task_info.pop(k, None)
                self._try_put_index()
                continue
            if k == self._rcvd_idx or not self._in_order:
                self._task_info.pop(k)
                self._rcvd_idx += k == self._rcvd_idx
                return self._process(data, worker)
            self._task_info[k] += (data,)

    def _process(self, data, worker: int):
        self._tasks[worker] -= 1
        self._try_put_index()
        if isinstance(data, _worker.WorkerError):  # the iterator stays usable: next() goes on, as in torch
            data.reraise()
        return data

    def _try_put_index(self) -> None:
        try:
            index = next(self._indices)
        except StopIteration:
            return
        for _ in range(self._n):
            w = next(self._cycle)
            if self._active[w] and (self._in_order or self._tasks[w] < self._prefetch * self._n // sum(self._active)):
                break
        else:
            return
        self._put(w, (self._send_idx, index))
        self._task_info[self._send_idx] = (w,)
        self._tasks[w] += 1
        self._send_idx += 1

    def _put(self, worker: int, message) -> None:
        self._outbox[worker] += _worker.encode(message)
        self._flush(worker)

    def _flush(self, worker: int) -> None:
        box, fd = self._outbox[worker], self._task_fds[worker].fileno()
        try:
            del box[:os.write(fd, box)]
        except BlockingIOError:
            pass
        except BrokenPipeError:  # the worker is gone: its sentinel tells how, at the next wait
            box.clear()
        if box:
            self._poll.register(fd, select.POLLOUT)
            self._fd_owner[fd] = worker
        elif fd in self._fd_owner:
            self._poll.unregister(fd)
            del self._fd_owner[fd]

    def _receive(self):
        """(worker, message) from whichever worker answers first; raises if a worker died or on timeout."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic()) * 1000
            events = self._poll.poll(wait)
            if not events and deadline is not None and time.monotonic() >= deadline:
                self._shutdown(grace=0.0)  # a worker this late is stuck: don't wait for it
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
            dead = []
            for fd, ev in events:
                w = self._fd_owner[fd]
                if fd == self._result_fds[w].fileno():
                    try:
                        return w, _worker.recv(fd, self._rings[w])
                    except EOFError:  # died while writing
                        dead.append(w)
                elif fd == self._task_fds[w].fileno():
                    self._flush(w)
                elif not select.select([self._result_fds[w]], [], [], 0)[0]:  # exited with nothing left to read
                    dead.append(w)
            if dead:
                self._died(dead)

    def _died(self, dead: list) -> None:
        dead = sorted(set(dead) | {i for i, w in enumerate(self._workers) if not w.is_alive()})
        details = []
        for i in dead:
            w = self._workers[i]
            w.join(_JOIN_S)
            code = w.exitcode
            how = f"is killed by signal: {signal.strsignal(-code)}" if code is not None and code < 0 else \
                f"exited unexpectedly with exit code {code}"
            details.append((i, w.pid, how))
        self._shutdown()
        pids = ", ".join(str(pid) for _, pid, _ in details)
        cause = RuntimeError("; ".join(f"DataLoader worker (pid {pid}) {how}." for _, pid, how in details))
        raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly: " +
                           "; ".join(f"worker {i} (pid {pid}) {how}" for i, pid, how in details)) from cause

    def _shutdown(self, grace: float = _JOIN_S) -> None:
        """Stop the workers: closed pipes tell them to exit; any still there after ``grace`` s are killed."""
        if self._shut:
            return
        self._shut = True
        for box, conn in zip(self._outbox, self._task_fds):
            if not box:  # "stop", for a worker whose pipe a fork of this process still holds open
                try:
                    os.write(conn.fileno(), _worker.encode(None))
                except OSError:
                    pass
        for conn in self._task_fds + self._result_fds:
            _main_side_fds.discard(conn.fileno())
            conn.close()
        deadline = time.monotonic() + grace
        for w in self._workers:
            w.join(max(0.0, deadline - time.monotonic()))
        for w in self._workers:
            if w.is_alive():
                w.kill()
                w.join()

    def __del__(self) -> None:
        try:
            self._shutdown()
        except Exception:  # noqa: BLE001  interpreter shutdown
            pass
