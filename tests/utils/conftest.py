"""Helpers for the DataLoader tests that start worker processes: a time bound and cleanup by pid."""
import contextlib
import gc
import multiprocessing as mp
import signal

import pytest


@contextlib.contextmanager
def _within(seconds: float):
    def on_alarm(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def within():
    """``with within(s):`` fails with TimeoutError instead of hanging when the block runs longer than s."""
    return _within


@pytest.fixture(autouse=True)
def reap_children():
    """Worker processes a test leaves behind (torch keeps its own until garbage collection) are killed by pid."""
    yield
    if mp.active_children():
        gc.collect()  # an iterator kept alive by a traceback stops its own workers first (torch's would raise)
    for p in mp.active_children():
        p.kill()
        p.join(5)
