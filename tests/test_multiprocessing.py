"""ember.multiprocessing against torch.multiprocessing: spawn/start_processes call fn(i, *args) in each child,
and a failing child raises the same exception (class, index, message) in the parent. Every wait is bounded and
every child is killed by pid when a test ends."""
import os
import pickle
import signal
import time
import warnings

import numpy as np
import pytest

import ember
import ember.multiprocessing as emp

WAIT = 60  # seconds any one test may wait on its children


def _bounded_join(ctx, seconds: float = WAIT) -> None:
    """ProcessContext.join until done, at most ``seconds``; the children are killed whatever happens."""
    deadline = time.monotonic() + seconds
    try:
        while not ctx.join(timeout=max(0.01, deadline - time.monotonic())):
            if time.monotonic() > deadline:
                raise TimeoutError("children still running")
    finally:
        _kill(ctx.pids())


def _kill(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# ---------------------------------------------------------------------------------------------- child functions
def _report(i, queue, scale):
    queue.put((i, os.getpid(), ember.arange(6.0).reshape(2, 3) * scale + i, ember.tensor([i, -i])))


def _raise_on_one(i):
    if i == 1:
        raise ValueError(f"boom in {i}")
    time.sleep(5)  # the parent must stop this one


def _exit(i, code):
    os._exit(code)


def _kill_self(i):
    os.kill(os.getpid(), signal.SIGKILL)


def _nap(i, seconds):
    time.sleep(seconds)


# ---------------------------------------------------------------------------------------------- tests
def test_spawn_calls_fn_with_index_and_args_and_tensors_cross_a_queue():
    queue = emp.get_context("spawn").Queue()
    ctx = emp.spawn(_report, args=(queue, 0.5), nprocs=2, join=False)
    assert isinstance(ctx, emp.ProcessContext) and len(ctx.pids()) == 2
    try:
        got = sorted((queue.get(timeout=WAIT) for _ in range(2)), key=lambda r: r[0])
    finally:
        _bounded_join(ctx)
    assert [r[0] for r in got] == [0, 1] and [r[1] for r in got] == ctx.pids()
    for i, _, t, ints in got:
        assert isinstance(t, ember.Tensor) and t.dtype is ember.float32 and ints.dtype is ember.int64
        np.testing.assert_array_equal(t.numpy(), np.arange(6.0, dtype=np.float32).reshape(2, 3) * 0.5 + i)
        assert ints.tolist() == [i, -i]
    assert all(p.exitcode == 0 for p in ctx.processes)


def _failure(lib, fn, args, nprocs):
    """What start_processes raises (fork: quick to start) on ``lib``: class, index, exit code, message lines."""
    mp = __import__(lib, fromlist=["x"])
    ctx = mp.start_processes(fn, args=args, nprocs=nprocs, join=False, start_method="fork")
    try:
        with pytest.raises((mp.ProcessRaisedException, mp.ProcessExitedException)) as info:
            _bounded_join(ctx)
    finally:
        _kill(ctx.pids())
    err = info.value
    assert err.error_pid == ctx.pids()[err.error_index]
    assert all(not p.is_alive() for p in ctx.processes)
    lines = str(err).strip().splitlines()
    return (type(err).__name__, err.error_index, getattr(err, "exit_code", None), getattr(err, "signal_name", None),
            lines[0], lines[-1])


@pytest.mark.parametrize("fn,args,nprocs", [(_raise_on_one, (), 2), (_exit, (3,), 1), (_kill_self, (), 1)],
                         ids=["raised", "exit_code", "signal"])
def test_a_failing_child_raises_as_torch(fn, args, nprocs):
    import torch.multiprocessing  # noqa: F401  (imported here, not at the top: spawned children skip it)
    assert _failure("ember.multiprocessing", fn, args, nprocs) == _failure("torch.multiprocessing", fn, args, nprocs)


def test_exceptions_pickle_and_subclass_as_torch():
    import torch.multiprocessing as tmp
    for mp in (tmp, emp):
        raised = mp.ProcessRaisedException("msg", 1, 42)
        exited = mp.ProcessExitedException("msg", 0, 7, exit_code=-9, signal_name="SIGKILL")
        back = pickle.loads(pickle.dumps(exited))
        base = __import__(mp.__name__ + ".spawn", fromlist=["x"]).ProcessException
        assert isinstance(raised, base) and isinstance(back, base) and not hasattr(mp, "ProcessException")
        assert (back.error_index, back.error_pid, back.exit_code, back.signal_name) == (0, 7, -9, "SIGKILL")
        assert pickle.loads(pickle.dumps(raised)).error_pid == 42


def test_join_with_a_timeout_reports_progress():
    ctx = emp.start_processes(_nap, args=(0.5,), nprocs=1, join=False, start_method="fork")
    try:
        assert ctx.join(timeout=0.01) is False
    finally:
        _bounded_join(ctx)
    assert ctx.join() is True  # may be called again once done


def test_spawn_warns_for_another_start_method_as_torch():
    import torch.multiprocessing as tmp
    for mp in (tmp, emp):
        with pytest.warns(FutureWarning, match="only supports start_method=spawn"):
            assert mp.spawn(_nap, args=(0,), nprocs=0, start_method="fork") is None


def test_module_api_as_torch():
    import torch.multiprocessing as tmp
    assert emp.get_all_start_methods() == tmp.get_all_start_methods()
    assert emp.get_sharing_strategy() == tmp.get_sharing_strategy()
    assert emp.get_all_sharing_strategies() == tmp.get_all_sharing_strategies()
    for mp in (tmp, emp):
        mp.set_sharing_strategy("file_system")
        assert mp.get_sharing_strategy() == "file_system"
        mp.set_sharing_strategy("file_descriptor")
        with pytest.raises(AssertionError):
            mp.set_sharing_strategy("bogus")
    for name in ("Process", "Queue", "SimpleQueue", "Pool", "Event", "Lock", "Manager", "get_context",
                 "set_start_method", "get_start_method", "cpu_count", "current_process"):
        assert hasattr(emp, name) and hasattr(tmp, name), name
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import importlib
        assert importlib.import_module("ember.multiprocessing") is emp
