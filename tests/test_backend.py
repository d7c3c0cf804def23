"""The backend's intra-op threads (parallel_for), ember.set_num_threads and the allocator setting."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

import ember
from ember import _backend


@pytest.fixture
def three_threads(monkeypatch):
    old = _backend.get_threads()
    monkeypatch.setattr(_backend, "GRAIN", 1)
    _backend.set_threads(3)
    yield
    _backend.set_threads(old)


def _slices(n, work, blas=False):
    seen, lock = [], threading.Lock()

    def fn(a, b):
        with lock:
            seen.append((a, b, threading.get_ident()))
    _backend.parallel_for(fn, n, work, blas)
    return sorted(seen)


def test_parallel_for_covers_the_range_once(three_threads):
    for n in (1, 2, 3, 7, 100):
        seen = _slices(n, 10 ** 9)
        assert [a for a, _, _ in seen] == sorted({a for a, _, _ in seen})
        assert seen[0][0] == 0 and seen[-1][1] == n
        assert all(b == a2 for (_, b, _), (a2, _, _) in zip(seen, seen[1:]))
        assert len(seen) == min(3, n)
        if n > 1:
            assert {t for _, _, t in seen} - {threading.get_ident()}  # other threads took slices


def test_parallel_for_keeps_small_work_on_the_caller(three_threads, monkeypatch):
    monkeypatch.setattr(_backend, "GRAIN", 1000)
    assert [(a, b) for a, b, _ in _slices(50, 2500)] == [(0, 25), (25, 50)]  # enough for two slices, not three
    assert _slices(50, 999) == [(0, 50, threading.get_ident())]
    _backend.set_threads(1)
    assert _slices(50, 10 ** 9) == [(0, 50, threading.get_ident())]


def test_parallel_for_propagates_errors_and_runs_nested_calls_inline(three_threads):
    def boom(a, b):
        if a > 0:
            raise ValueError(f"slice {a}:{b}")
    with pytest.raises(ValueError, match="slice"):
        _backend.parallel_for(boom, 9, 10 ** 9)
    inner = []
    _backend.parallel_for(lambda a, b: inner.append(_slices(4, 10 ** 9)), 3, 10 ** 9)
    assert all(len(s) == 1 for s in inner)  # the threads are taken: a nested loop runs whole


def test_blas_slices_run_single_threaded_blas_and_restore_it(three_threads):
    assert _backend._blas is not None  # NumPy's Linux wheels bundle OpenBLAS
    get, set_ = _backend._blas
    before = get()
    set_(2)
    try:
        counts = []
        _backend.parallel_for(lambda a, b: counts.append(get()), 6, 10 ** 12, blas=True)
        assert counts == [1, 1, 1]
        assert get() == 2
        counts = []
        _backend.parallel_for(lambda a, b: counts.append(get()), 6, 10 ** 12)  # no matmul: BLAS untouched
        assert counts == [2, 2, 2]
    finally:
        set_(before)


def test_blas_results_do_not_depend_on_earlier_parallel_loops(three_threads, monkeypatch):
    """A product after a batch-split convolution gives the bits it gave before one ran."""
    monkeypatch.setattr(_backend, "GRAIN_MATMUL", 1)
    rng = np.random.default_rng(0)
    a, w = rng.standard_normal((64, 3136), dtype=np.float32), rng.standard_normal((10, 3136), dtype=np.float32)
    first = a @ w.T
    x = ember.tensor(rng.standard_normal((6, 3, 8, 8), dtype=np.float32))
    ember.nn.functional.conv2d(x, ember.tensor(rng.standard_normal((4, 3, 3, 3), dtype=np.float32)))
    assert np.array_equal(a @ w.T, first)


def test_parallel_for_works_in_a_forked_child(three_threads):
    """A child forked after the pool started must not wait on the parent's threads."""
    _slices(6, 10 ** 9)  # start the pool
    pid = os.fork()
    if pid == 0:  # child: exit 0 only if the split ran to the end
        try:
            ok = len(_slices(6, 10 ** 9)) == 3
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_set_num_threads_like_torch():
    old = ember.get_num_threads()
    try:
        for lib in (ember, torch):
            lib.set_num_threads(2)
            assert lib.get_num_threads() == 2
        for bad, msg in ((0, "positive integer"), (-1, "positive integer"), (2.5, "expects an int, but got float")):
            for lib in (ember, torch):
                with pytest.raises(RuntimeError, match=msg):
                    lib.set_num_threads(bad)
    finally:
        ember.set_num_threads(old)
        torch.set_num_threads(1)


def test_num_threads_default_follows_omp_num_threads():
    code = "import ember; print(ember.get_num_threads())"
    env = dict(os.environ, OMP_NUM_THREADS="3")
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "3"
    env.pop("OMP_NUM_THREADS")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip()
    assert out == str(len(os.sched_getaffinity(0)))  # the CPUs this process may use


_FAULTS = """
import resource, sys
import numpy as np
import ember
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
a = np.ones(3 << 20, np.float32); del a  # 12 MiB, touched then freed
before = faults()
for _ in range(5):
    a = np.ones(3 << 20, np.float32); del a
print(ember._backend.malloc_tuned, faults() - before)
"""


def test_freed_buffers_are_reused_without_page_faults():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", _FAULTS], env=env, capture_output=True, text=True, check=True)
    tuned, faults = out.stdout.split()
    assert tuned == "True" and int(faults) < 100  # 5 x 12 MiB fresh from the kernel would be thousands
    env["EMBER_MALLOC_TUNING"] = "0"
    out = subprocess.run([sys.executable, "-c", _FAULTS], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "False"


@pytest.mark.parametrize("sa, sb, dtype", [
    ((37, 20), (20, 5), np.float32),       # tall result: split by rows
    ((3, 20), (20, 41), np.float64),       # wide result: split by columns
    ((4, 9, 7), (7, 6), np.float32),       # a batch against one matrix
    ((2, 1, 9, 7), (3, 7, 11), np.float64),  # broadcast batch dims
    ((9, 7), (7,), np.float32),            # matrix @ vector: NumPy's own path
    ((6, 5), (5, 4), np.int64),            # integers: not BLAS, not split
])
def test_matmul_matches_numpy_and_torch(sa, sb, dtype):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(sa) * 10).astype(dtype), (rng.standard_normal(sb) * 10).astype(dtype)
    out = _backend.matmul(a, b)
    ref = np.matmul(a, b)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    tol = (1e-5 if dtype == np.float32 else 1e-12) * np.abs(ref).max()  # sums of +-100s cancel
    np.testing.assert_allclose(out, ref, rtol=0, atol=tol)
    np.testing.assert_allclose(out, (torch.from_numpy(a) @ torch.from_numpy(b)).numpy(), rtol=0, atol=tol)


def test_small_products_leave_blas_threads_asleep(monkeypatch):
    """A product below BLAS_THREADED runs on one BLAS thread and leaves the setting as it was; a larger
    one runs on BLAS's threads with one ember thread, and with several, when a side reaches SPLIT_SIDE, is
    split by rows between ember's threads, each slice on one BLAS thread (BLAS's threads stay asleep)."""
    get, set_ = _backend._blas
    before, threads = get(), _backend.get_threads()
    seen = []
    monkeypatch.setattr(_backend.xp, "matmul", lambda a, b, out=None, _mm=np.matmul: (
        seen.append(get()), _mm(a, b, out=out))[1])
    try:
        set_(2)
        _backend.set_threads(1)
        small = np.ones((8, 8), np.float32)
        _backend.matmul(small, small)
        assert seen == [1] and get() == 2
        big = np.arange(256 * 256, dtype=np.float32).reshape(256, 256) % 7
        _backend.matmul(big, big)
        assert seen == [1, 2]
        _backend.matmul(np.ones((256, 4096), np.float32), np.ones((4096, 10), np.float32))  # thin: one thread
        assert seen == [1, 2, 1] and get() == 2
        _backend.set_threads(2)
        np.testing.assert_array_equal(_backend.matmul(big, big), big @ big)  # short sides: BLAS's threads
        assert seen == [1, 2, 1, 2] and get() == 2
        long = np.arange(1024 * 64, dtype=np.float32).reshape(1024, 64) % 5  # a side of SPLIT_SIDE: split
        np.testing.assert_array_equal(_backend.matmul(long, big[:64]), long @ big[:64])
        assert seen == [1, 2, 1, 2, 1, 1] and get() == 2
    finally:
        set_(before)
        _backend.set_threads(threads)


@pytest.mark.parametrize("piece", [None, 4])
def test_parallel_map_covers_every_element(three_threads, piece):
    a = np.arange(50, dtype=np.float64).reshape(5, 10)
    b = np.full((5, 10), 2.0)
    out = np.empty_like(a)
    _backend.parallel_map(lambda o, x, y: np.multiply(x, y, out=o), out, a, b, piece=piece)
    np.testing.assert_array_equal(out, a * 2)


def test_zeros_like_is_a_shared_read_only_zero_array():
    a = np.ones((3, 4), np.float32)
    z = _backend.zeros_like(a)
    assert z.shape == (3, 4) and z.dtype == np.float32 and not z.any() and z.flags.c_contiguous
    with pytest.raises(ValueError):
        z[0, 0] = 1
    big = _backend.zeros_like(np.ones((5000, 3), np.float64))
    assert big.shape == (5000, 3) and big.dtype == np.float64 and not big.any()
