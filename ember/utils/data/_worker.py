"""What runs inside a DataLoader worker process, and the pipe format both ends speak.

A message is a 24-byte head (pickle length, buffer count, ring offset), the buffer sizes, a protocol-5
pickle and then the raw bytes of each buffer the pickle left out of band (the NumPy arrays behind
tensors), either in the pipe or in the worker's shared ``Ring``. The reader copies those bytes straight
into fresh arrays: a batch is copied twice, never serialised element by element.
"""
from __future__ import annotations

import ctypes
import io
import mmap
import os
import pickle
import random
import select
import signal
import struct
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._tensor import Tensor

_HEAD = struct.Struct("<QQq")  # pickle length, buffer count, ring offset (-1: in the pipe)
_IOV_MAX = 512  # vectors per readv/writev call, well under Linux's 1024
_PARENT_CHECK_S = 1.0  # how often an idle worker checks that its parent is still there
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
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


# --------------------------------------------------------------------------- the pipe format
def _rebuild_tensor(array: np.ndarray) -> Tensor:
    return Tensor._make(array)


class _Pickler(pickle.Pickler):
    # ember tensors refuse to be pickled on purpose; across this pipe they travel as their arrays
    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            return _rebuild_tensor, (obj._data,)
        return NotImplemented


def _views(obj, ring: "Ring | None" = None) -> list:
    buffers: list = []
    f = io.BytesIO()
    _Pickler(f, protocol=5, buffer_callback=buffers.append).dump(obj)
    raws = [b.raw() for b in buffers]
    sizes = [r.nbytes for r in raws]
    start = ring.put(raws, sizes) if ring is not None and raws else -1
    return [memoryview(_HEAD.pack(f.getbuffer().nbytes, len(raws), start)),
            memoryview(struct.pack(f"<{len(raws)}Q", *sizes)), f.getbuffer(), *(raws if start < 0 else ())]


def encode(obj) -> bytes:
    """One message as bytes (small messages: tasks)."""
    return b"".join(_views(obj))


def send(fd: int, obj, ring: "Ring | None" = None) -> None:
    """Write one message to a blocking file descriptor, its arrays through ``ring`` when they fit."""
    _transfer(os.writev, fd, _views(obj, ring), BrokenPipeError)
    if ring is not None:
        ring.sent += 1


def recv(fd: int, ring: "Ring | None" = None):
    """Read one message; EOFError if the writer is gone."""
    head = bytearray(_HEAD.size)
    _transfer(os.readv, fd, [memoryview(head)], EOFError)
    n, k, start = _HEAD.unpack(head)
    meta = bytearray(8 * k + n)
    _transfer(os.readv, fd, [memoryview(meta)], EOFError)
    sizes = struct.unpack_from(f"<{k}Q", meta)
    buffers = [np.empty(s, np.uint8) for s in sizes]
    if start < 0:
        _transfer(os.readv, fd, [memoryview(b) for b in buffers], EOFError)
    else:
        for off, b in zip(_layout(sizes)[0], buffers):
            b[:] = ring.data[start + off:start + off + b.size]
    if ring is not None:
        ring.taken[0] += 1  # after the copy: the worker may now reuse that space
    return pickle.loads(memoryview(meta)[8 * k:], buffers=buffers)


def _layout(sizes) -> tuple[list, int]:
    """Offsets of buffers laid one after another, each 64-byte aligned, and the bytes they span."""
    offsets, end = [], 0
    for s in sizes:
        offsets.append(end)
        end += -(-s // 64) * 64
    return offsets, end


class Ring:
    """Shared memory through which a worker hands its batches' arrays to the main process.

    The worker copies a batch's arrays in and sends only the message's pickle through the pipe; the main
    process copies them out into arrays of its own and counts the message as taken. One small pipe
    message per batch instead of the whole batch: on a busy machine each pipe hand-off costs a wait for
    the CPU. The worker fills the lowest free space first, so the memory touched stays a few batches big;
    what does not fit goes through the pipe. Shared by fork only.
    """

    def __init__(self, size: int) -> None:
        self.mem = mmap.mmap(-1, 64 + size)  # anonymous and shared: a forked worker writes the same pages
        self.taken = np.frombuffer(self.mem, np.uint64, 1)  # messages the main process has copied out
        self.data = np.frombuffer(self.mem, np.uint8, size, 64)
        self.sent, self.held = 0, []  # worker side: (message number, start, end) not yet taken

    def put(self, raws: list, sizes: list) -> int:
        """Copy ``raws`` in (worker side); where they start, or -1 if there is no room."""
        offsets, total = _layout(sizes)
        taken = int(self.taken[0])
        self.held = [h for h in self.held if h[0] >= taken]
        start = 0
        for _, lo, hi in sorted(self.held, key=lambda h: h[1]):
            if start + total <= lo:
                break
            start = max(start, hi)
        if start + total > self.data.size:
            return -1
        for off, raw in zip(offsets, raws):
            self.data[start + off:start + off + raw.nbytes] = np.frombuffer(raw, np.uint8)
        self.held.append((self.sent, start, start + total))
        return start


def _transfer(op, fd: int, views: list, eof: type) -> None:
    """Run ``op`` (readv/writev) until every view is filled or written."""
    views = [v.cast("B") for v in views if v.nbytes]
    while views:
        n = op(fd, views[:_IOV_MAX])
        if n == 0:
            raise eof(f"DataLoader pipe {fd} closed")
        while n and n >= views[0].nbytes:
            n -= views.pop(0).nbytes
        if n:
            views[0] = views[0][n:]


# --------------------------------------------------------------------------- messages
@dataclass(frozen=True)
class Resume:
    """Main -> persistent worker: a new epoch starts (the worker answers with the same object)."""


@dataclass(frozen=True)
class Exhausted:
    """Worker -> main: this worker's replica of an IterableDataset has no more samples."""


class _KeyErrorMessage(str):
    # KeyError shows repr() of its argument: keep the traceback readable
    def __repr__(self) -> str:
        return str(self)


@dataclass
class WorkerError:
    """An exception raised in a worker, carried to the main process with its traceback."""
    exc_type: type | None
    type_name: str
    where: str
    text: str

    @classmethod
    def capture(cls, where: str) -> "WorkerError":
        """The exception being handled, as a WorkerError."""
        exc_type, exc, tb = sys.exc_info()
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        try:
            pickle.dumps(exc_type)
        except Exception:  # noqa: BLE001  a class defined in a function: the name travels, not the class
            return cls(None, exc_type.__name__, where, text)
        return cls(exc_type, exc_type.__name__, where, text)

    def reraise(self):
        """Raise it again here with its own class (as torch: RuntimeError when that cannot be built)."""
        msg = f"Caught {self.type_name} {self.where}.\nOriginal {self.text}"
        if self.exc_type is KeyError:
            msg = _KeyErrorMessage(msg)
        elif getattr(self.exc_type, "message", None):
            raise self.exc_type(message=msg)
        try:
            exc = self.exc_type(msg)
        except Exception:  # noqa: BLE001  unknown class, or one that wants other arguments
            raise RuntimeError(msg) from None
        raise exc


# --------------------------------------------------------------------------- fetching
def _tensor_dataset_rows(dataset) -> tuple:
    return dataset.tensors


def _array_dataset_rows(dataset) -> tuple | None:
    """ember.datasets' (array row, int label) samples collate to the rows of ``data`` and of the int64
    ``targets``, unless a transform changes them."""
    if dataset.transform is None and dataset.target_transform is None:
        return dataset.data, dataset.targets
    return None


class Fetcher:
    """Turns one entry of the index sampler into a batch, in the main process or in a worker."""

    def __init__(self, dataset, iterable: bool, auto_collation: bool, collate_fn, drop_last: bool) -> None:
        from ...datasets._base import ArrayDataset
        from ._collate import default_collate
        from .dataset import TensorDataset
        self.dataset, self.auto_collation, self.collate_fn, self.drop_last = dataset, auto_collation, collate_fn, \
            drop_last
        self.it = iter(dataset) if iterable else None
        self.ended = False
        # datasets whose samples are the rows of in-memory tensors: ``rows(dataset)`` gives those tensors
        self.rows = None
        if collate_fn is default_collate and auto_collation and not iterable:
            if type(dataset) is TensorDataset:
                self.rows = _tensor_dataset_rows
            elif isinstance(dataset, ArrayDataset) and type(dataset).__getitem__ is ArrayDataset.__getitem__:
                self.rows = _array_dataset_rows

    def fetch(self, index):
        """The batch for ``index`` (StopIteration when an iterable dataset runs out)."""
        if self.it is not None:
            return self._next_from_stream(index)
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        tensors = self.rows(self.dataset) if self.rows is not None else None
        # default_collate of their rows is the rows taken at once, one index per tensor (unless stacking
        # must record history)
        if tensors is not None and not any(t.requires_grad for t in tensors):
            idx = np.asarray(index)
            if idx.ndim == 1 and idx.dtype.kind in "iu" and idx.size:
                return [Tensor._make(t._data[idx]) for t in tensors]
        getitems = getattr(self.dataset, "__getitems__", None)
        return self.collate_fn(getitems(index) if getitems else [self.dataset[i] for i in index])

    def _next_from_stream(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.it))
        data = []
        for _ in index:
            try:
                data.append(next(self.it))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


# --------------------------------------------------------------------------- the worker process
def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to kill this process when its parent dies (else the idle loop notices)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before prctl
        os._exit(0)


def _next_task(fd: int, parent_pid: int):
    """The next message from the main process, or None once it has gone away."""
    while not select.select([fd], [], [], _PARENT_CHECK_S)[0]:
        if os.getppid() != parent_pid:
            return None
    try:
        return recv(fd)
    except EOFError:
        return None


def _seed_worker(seed: int, base_seed: int, worker_id: int) -> None:
    from ... import random as ember_random
    random.seed(seed)
    ember_random.manual_seed(seed)
    # NumPy's global RNG seeded as torch seeds it (torch's _generate_state is this SeedSequence)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0])
                   .generate_state(4))


def worker_loop(dataset, iterable: bool, auto_collation: bool, collate_fn, drop_last: bool, base_seed: int,
                init_fn, worker_id: int, num_workers: int, tasks, results, ring: Ring | None, parent_pid: int | None,
                pdeathsig: bool, close_fds: tuple) -> None:
    """A worker: answer each (task id, index) with (task id, batch or WorkerError) until told to stop."""
    global _worker_info
    parent_pid = parent_pid or os.getppid()
    if pdeathsig:
        _die_with_parent(parent_pid)
    for fd in close_fds:  # the main process's ends of every DataLoader pipe, inherited through fork
        try:
            os.close(fd)
        except OSError:
            pass
    task_fd, result_fd = tasks.fileno(), results.fileno()
    try:
        from ... import set_num_threads
        set_num_threads(1)
        seed = base_seed + worker_id
        _seed_worker(seed, base_seed, worker_id)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        where = f"in DataLoader worker process {worker_id}"
        init_error = fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = Fetcher(dataset, iterable, auto_collation, collate_fn, drop_last)
        except Exception:  # noqa: BLE001  reported with the first batch, as torch does
            init_error = WorkerError.capture(where)
        while (task := _next_task(task_fd, parent_pid)) is not None:
            if isinstance(task, Resume):
                if init_error is None:
                    fetcher = Fetcher(dataset, iterable, auto_collation, collate_fn, drop_last)
                send(result_fd, task, ring)
                continue
            k, index = task
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    data = Exhausted()
                except Exception:  # noqa: BLE001  re-raised in the main process
                    data = WorkerError.capture(where)
            try:
                send(result_fd, (k, data), ring)
            except Exception:  # noqa: BLE001  a batch that cannot be pickled: say why in the main process
                send(result_fd, (k, WorkerError.capture(where)), ring)
            del data, task
    except (KeyboardInterrupt, BrokenPipeError):
        pass  # Ctrl-C reaches the main process too; a closed pipe means the main process is gone
