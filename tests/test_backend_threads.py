"""ember's thread pool and BLAS thread setting under concurrent use from several Python threads."""
import os
import select
import signal
import threading

import numpy as np
import pytest
import threadpoolctl

import ember
from ember import _backend

TIMEOUT = 60  # seconds any join or wait may take


def _blas_threads() -> int:
    return next(i["num_threads"] for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas")


@pytest.fixture
def split_everything(monkeypatch):
    """Every loop and every product large enough to be split between two ember threads."""
    old = _backend.get_threads()
    monkeypatch.setattr(_backend, "GRAIN", 1)
    monkeypatch.setattr(_backend, "GRAIN_MATMUL", 1)
    _backend.set_threads(2)
    yield
    _backend.set_threads(old)


@pytest.fixture
def blas_two_threads():
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        assert _blas_threads() == 2
        yield


def _run_threads(*targets):
    errors = []

    def guard(fn):
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - reported to the test's thread
            errors.append(e)
    threads = [threading.Thread(target=guard, args=(fn,), daemon=True) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


def _churn(stop, set_threads, counts):
    """A target that cycles the thread count through ``counts`` until ``stop`` is set."""
    def run():
        n = 0
        while not stop.is_set():
            set_threads(counts[n % len(counts)])
            n += 1
    return run


def _model():
    ember.manual_seed(0)
    return ember.nn.Sequential(ember.nn.Conv2d(1, 4, 3), ember.nn.ReLU(), ember.nn.MaxPool2d(2),
                               ember.nn.Flatten(), ember.nn.Linear(4 * 3 * 3, 3))


_DATA = np.random.default_rng(0).standard_normal((4, 8, 1, 8, 8)).astype(np.float32)
_TARGETS = np.random.default_rng(1).integers(0, 3, (4, 8))


def _train(model, steps=8):
    opt = ember.optim.Adam(model.parameters(), lr=1e-2)
    for i in range(steps):
        x, y = ember.tensor(_DATA[i % 4]), ember.tensor(_TARGETS[i % 4])
        loss = ember.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [p.detach().numpy().copy() for p in model.parameters()]


def test_set_num_threads_from_another_thread_while_training(split_everything):
    stop = threading.Event()

    def train():
        try:
            _train(_model(), steps=30)
        finally:
            stop.set()
    _run_threads(train, _churn(stop, ember.set_num_threads, (1, 2, 3)))


def test_parallel_loops_stay_exact_while_the_pool_is_replaced(split_everything):
    x = np.arange(10_000, dtype=np.float64)
    stop = threading.Event()

    def loops():
        try:
            for _ in range(100):
                out = np.empty_like(x)
                _backend.parallel_for(lambda a, b: np.multiply(x[a:b], 2, out=out[a:b]), x.size, x.size)
                np.testing.assert_array_equal(out, 2 * x)
        finally:
            stop.set()
    _run_threads(loops, _churn(stop, _backend.set_threads, (2, 3)))


def test_overlapping_blas_holds_restore_the_users_setting(split_everything, blas_two_threads):
    """Thread A holds BLAS to one thread; B starts its own hold while A's runs; A leaves first. The
    setting must come back to 2 when both have left (B must not 'restore' A's temporary 1)."""
    a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def slice_a(lo, hi):
        if lo == 0:
            a_inside.set()
            assert b_inside.wait(TIMEOUT)

    def slice_b(lo, hi):
        if lo == 0:
            b_inside.set()
            assert a_left.wait(TIMEOUT)
            seen.append(_backend._blas[0]())  # A has left, B still holds: BLAS stays at one thread

    def run_a():
        _backend.parallel_for(slice_a, 2, 10 ** 9, blas=True)
        a_left.set()

    def run_b():
        assert a_inside.wait(TIMEOUT)
        _backend.parallel_for(slice_b, 2, 10 ** 9, blas=True)
    _run_threads(run_a, run_b)
    assert seen == [1]
    assert _blas_threads() == 2


def test_two_threads_training_restore_blas_threads_and_match_sequential(split_everything, blas_two_threads):
    sequential = [_train(_model()), _train(_model())]
    models = [_model(), _model()]
    concurrent = [None, None]

    def worker(i):
        return lambda: concurrent.__setitem__(i, _train(models[i]))
    _run_threads(worker(0), worker(1))
    assert _blas_threads() == 2
    for seq, conc in zip(sequential, concurrent):
        for a, b in zip(seq, conc):
            np.testing.assert_array_equal(a, b)


def test_a_child_forked_during_another_threads_blas_hold_gets_the_users_setting(split_everything, blas_two_threads):
    inside, release = threading.Event(), threading.Event()

    def hold(lo, hi):
        if lo == 0:
            inside.set()
            assert release.wait(TIMEOUT)
    holder = threading.Thread(target=lambda: _backend.parallel_for(hold, 2, 10 ** 9, blas=True), daemon=True)
    holder.start()
    try:
        assert inside.wait(TIMEOUT) and _backend._blas[0]() == 1
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report BLAS's thread count and leave at once
            os.write(write, bytes([_backend._blas[0]()]))
            os._exit(0)
        os.close(write)
        try:
            ready, _, _ = select.select([read], [], [], TIMEOUT)
            child_threads = os.read(read, 1)[0] if ready else None
        finally:
            os.close(read)
            if not ready:
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    finally:
        release.set()
        holder.join(TIMEOUT)
    assert child_threads == 2
    assert _blas_threads() == 2

