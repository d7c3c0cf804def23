"""The one seam between ember and its array library.

Every op reaches arrays through ``xp``; a CuPy backend slots in by choosing
a different module here, without touching the ops.
"""
from __future__ import annotations

import contextlib
import os
import threading

import numpy

from ._dtype import _BF16  # bfloat16's NumPy dtype (ml_dtypes), or None

xp = numpy
ndarray = numpy.ndarray


_zero_buffers: dict = {}


def zeros_like(a):
    """A read-only C-contiguous array of zeros shaped like ``a``, shared between calls.

    NumPy's ``maximum(x, 0)`` misses the vectorised loop that ``maximum(x, zeros)`` takes (2.5x
    slower here), so ReLU compares against this. The buffer grows to the largest request.
    """
    buf = _zero_buffers.get(a.dtype)
    if buf is None or buf.size < a.size:
        buf = numpy.zeros(max(a.size, 1024), a.dtype)
        buf.flags.writeable = False
        _zero_buffers[a.dtype] = buf
    return buf[:a.size].reshape(a.shape)


def array_module(device: str = "cpu"):
    """Return the array module serving ``device``."""
    if device != "cpu":
        raise RuntimeError(f"ember: device '{device}' is not available (only 'cpu' in this build)")
    return numpy


def _keep_freed_buffers() -> bool:
    """Have glibc's malloc keep freed large buffers for reuse instead of handing them back to the OS.

    A training step frees and reallocates the same large arrays every iteration. By default glibc
    returns them to the kernel (munmap, heap trimming), so each step pays a page fault for every
    4 KiB it touches again: a third of a small CNN's step time here. Buffers up to 32 MiB now come
    from the heap, and up to 512 MiB of free heap is kept. The cost is a higher resident size after
    a peak. Set EMBER_MALLOC_TUNING=0, or glibc's own MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_,
    to keep the defaults; elsewhere than glibc this does nothing.
    """
    import os
    import sys
    if (not sys.platform.startswith("linux") or os.environ.get("EMBER_MALLOC_TUNING", "1") == "0"
            or "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ):
        return False
    try:
        import ctypes
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl or another libc: leave its allocator alone
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 512 << 20))


malloc_tuned = _keep_freed_buffers()


# ----------------------------------------------------------------------------- intra-op threads
# BLAS already runs its products on several threads; the rest of a large op (copies, elementwise
# loops) NumPy runs on one. NumPy releases the GIL inside its loops, so a plain thread pool that
# hands each thread a slice of the batch runs those loops in parallel, as torch's intra-op pool does.

def _default_threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    # the CPUs this process may run on, which a container can hold below the machine's count
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


_threads = _default_threads()
_pool = None
_in_pool = threading.local()
# ``set_num_threads`` may come from any thread while others run parallel loops: a pool is replaced,
# never shut down under a loop that still uses it. Each loop holds its pool (a count per pool) and
# the last one out of a replaced pool shuts it down.
_pool_lock = threading.Lock()
_pool_users: dict = {}
# a hand-off to another thread costs tens of microseconds: a slice must hold more work than that
GRAIN = 1 << 18  # elements of a memory-bound loop
GRAIN_MATMUL = 1 << 21  # multiply-adds of a matrix product


def set_threads(n: int) -> None:
    """The number of threads ``parallel_for`` uses (``ember.set_num_threads`` sets it)."""
    global _threads, _pool
    with _pool_lock:
        old = _pool if n != _threads else None
        if old is not None:
            _pool = None
        _threads = n
        idle = old is not None and old not in _pool_users
    if idle:
        old.shutdown(wait=True)


def get_threads() -> int:
    """The number of threads ``parallel_for`` uses."""
    return _threads


def _hold_pool():
    """The current pool, created on first use, held until ``_release_pool``."""
    global _pool
    with _pool_lock:
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor
            _pool = ThreadPoolExecutor(_threads, thread_name_prefix="ember")
        _pool_users[_pool] = _pool_users.get(_pool, 0) + 1
        return _pool


def _release_pool(pool) -> None:
    with _pool_lock:
        _pool_users[pool] -= 1
        retired = not _pool_users[pool] and pool is not _pool
        if not _pool_users[pool]:
            del _pool_users[pool]
    if retired:
        pool.shutdown(wait=False)  # its work is done; its threads exit


def _forget_pool() -> None:
    global _pool, _pool_lock, _pool_users, _blas_lock, _blas_holders
    # a forked child inherits the pool object but none of its threads, and perhaps a lock held by one
    _pool, _pool_lock, _pool_users = None, threading.Lock(), {}
    if _blas_holders:  # forked while another thread held BLAS to one thread: the child has no such thread
        _blas[1](_blas_saved)
    _blas_lock, _blas_holders = threading.Lock(), 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _find_blas_threads():
    """NumPy's OpenBLAS thread-count getter and setter, when the library exports them; else None.

    The setting is process-wide (even OpenBLAS's ``openblas_set_num_threads_local`` changes it for
    every thread), so ember changes it only through ``_single_blas``.
    """
    try:
        import ctypes
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.rsplit("/", 1)[-1].lower()}
        for path in sorted(paths):
            lib = ctypes.CDLL(path)
            for prefix, suffix in (("openblas", ""), ("scipy_openblas", "64_"), ("openblas", "64_")):
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    get.restype, set_.argtypes, set_.restype = ctypes.c_int, [ctypes.c_int], None
                    return get, set_
    except (OSError, ValueError):
        pass
    return None


_blas = _find_blas_threads()
# After a product on several threads, OpenBLAS's idle threads spin for about 0.1 s, holding cores that
# ember's own threads then fight them for (a batch split runs at half speed). So ember's small products
# stay on one BLAS thread, not to wake them. Whether work is split never depends on timing, only on
# sizes and the thread count: the same program gives the same bits on every run.
BLAS_THREADED = 1 << 21  # multiply-adds from which a product is worth BLAS's threads...
BLAS_THREADED_SIDE = 16  # ...if no side is thinner than this (a linear head's 10 classes gain little)
# A product with a side this long (a Transformer's 2048 tokens) ember splits between its own threads, as
# the elementwise passes between such products need the cores BLAS's spinning threads would hold; shorter
# ones (an MLP's batch of 256, whose elementwise work is small) run faster on BLAS's threads (measured:
# MLP 2-thread step 1.03-1.10x torch this way, 1.7x split; the Transformer LM's the same either way)
SPLIT_SIDE = 1024
# Several Python threads may hold BLAS to one thread at once: the first saves the user's setting, the
# last restores it (each restoring its own reading would leave one thread's temporary 1 in place).
_blas_lock = threading.Lock()
_blas_holders = 0
_blas_saved = 1


def _blas_threads() -> int:
    """BLAS's thread count as the user set it, whatever ember holds it to for the moment."""
    with _blas_lock:
        return _blas_saved if _blas_holders else _blas[0]()


class _single_blas:
    """Hold BLAS to one thread inside ``with``; thread-safe and reentrant."""

    def __enter__(self):
        global _blas_holders, _blas_saved
        with _blas_lock:
            if not _blas_holders:
                _blas_saved = _blas[0]()
                _blas[1](1)
            _blas_holders += 1

    def __exit__(self, *exc):
        global _blas_holders
        with _blas_lock:
            if _blas_holders:  # (none when a fork in between started the count afresh)
                _blas_holders -= 1
                if not _blas_holders:
                    _blas[1](_blas_saved)


def _run_chunk(fn, start: int, stop: int) -> None:
    _in_pool.active = True  # a parallel_for inside fn runs inline: the threads are taken
    try:
        fn(start, stop)
    finally:
        _in_pool.active = False


def parallel_for(fn, n: int, work: int, blas: bool = False) -> None:
    """Call ``fn(start, stop)`` on slices that cover ``range(n)``, one per thread when ``work`` is enough
    to pay for it (elements touched, or with ``blas`` multiply-adds). ``fn`` must write disjoint
    outputs for disjoint slices.

    With ``blas=True`` fn runs matrix products: it is split only when BLAS can be held to one
    thread per slice, and otherwise runs whole, on BLAS's own threads.
    """
    parts = min(_threads, n, work // (GRAIN_MATMUL if blas else GRAIN))
    if parts <= 1 or getattr(_in_pool, "active", False) or (blas and _blas is None):
        fn(0, n)
        return
    bounds = [n * i // parts for i in range(parts + 1)]
    pool = _hold_pool()
    # several threads each running BLAS on its own slice beat one product spread over threads,
    # but only if BLAS then keeps to the calling thread
    try:
        with _single_blas() if blas else contextlib.nullcontext():
            futures = [pool.submit(_run_chunk, fn, bounds[i], bounds[i + 1]) for i in range(1, parts)]
            try:
                _run_chunk(fn, bounds[0], bounds[1])
            finally:
                for f in futures:
                    f.result()
    finally:
        _release_pool(pool)


def parallel_map(fn, out, *arrays, piece: int | None = None) -> None:
    """``fn(out_part, *parts)`` over matching slices of same-shaped C-contiguous arrays, split between
    threads; with ``piece``, in slices of that many elements, so that a fn of several passes keeps
    its temporaries in cache."""
    flat_out = out.reshape(-1)
    flats = [a.reshape(-1) for a in arrays]
    if (out.size < 2 * GRAIN or _threads == 1) and (piece is None or out.size <= piece):
        fn(flat_out, *flats)  # the common small case, in one call
        return

    def run(a: int, b: int) -> None:
        step = piece or (b - a)
        for s in range(a, b, max(step, 1)):
            e = min(s + step, b)
            fn(flat_out[s:e], *(f[s:e] for f in flats))
    parallel_for(run, flat_out.size, flat_out.size)


def parallel_blocks(fn, n: int, block: int, work: int) -> None:
    """``fn(start, stop)`` over consecutive blocks of at most ``block`` rows of ``range(n)``; the blocks are
    shared between ember's threads when ``work`` (elements touched) pays for it and there are ``SPLIT_SIDE``
    rows or more (the products beside such rows run on ember's threads, while shorter ones leave BLAS's
    workers spinning, which would halve a split's speed), with BLAS held to one thread (fn's products are
    small: row sums). Blocks depend on sizes and the thread count only."""
    def run(a: int, b: int) -> None:
        for s in range(a, b, max(block, 1)):
            fn(s, min(s + block, b))
    with _single_blas() if _blas is not None and _threads > 1 else contextlib.nullcontext():
        parallel_for(run, n, work if n >= SPLIT_SIDE else 0)


def matmul(a, b, out=None):
    """``a @ b`` by NumPy's rules (into ``out`` if given). A large product runs on BLAS's own threads;
    a small or thin one on one thread, which is about as fast and leaves BLAS's threads asleep."""
    if a.dtype is _BF16 or b.dtype is _BF16:  # ml_dtypes' matmul returns float32: round once, as torch's kernel
        r = matmul(a.astype(xp.float32), b.astype(xp.float32)).astype(xp.result_type(a, b))
        if out is None:
            return r
        out[...] = r
        return out
    if _blas is None or a.ndim < 2 or b.ndim < 2 or getattr(_in_pool, "active", False):
        return xp.matmul(a, b, out=out)
    if _blas_threads() == 1:
        return xp.matmul(a, b, out=out)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    work = m * k * n
    if a.ndim > 2 or b.ndim > 2:
        for d in xp.broadcast_shapes(a.shape[:-2], b.shape[:-2]):
            work *= d
    if work >= BLAS_THREADED and min(m, k, n) >= BLAS_THREADED_SIDE:
        if a.ndim == b.ndim == 2 and _threads > 1 and max(m, k) >= SPLIT_SIDE:
            # rows split between ember's threads, each product on one BLAS thread: BLAS's own threads
            # would spin after it, taking the core that ember's next split (an elementwise pass) needs
            if out is None:
                out = xp.empty((m, n), xp.result_type(a, b))
            parallel_for(lambda i, j: xp.matmul(a[i:j], b, out=out[i:j]), m, work, blas=True)
            return out
        return xp.matmul(a, b, out=out)
    with _single_blas():
        return xp.matmul(a, b, out=out)
