"""DataLoader worker faults, each under a time bound: dead workers, errors raised in workers, timeouts,
a killed parent. The same code runs under torch.utils.data and ember.utils.data; the exception classes
and message shapes must agree, and ember must never hang."""
import ctypes
import multiprocessing as mp
import os
import re
import select
import signal
import subprocess
import sys
import time

import pytest
import torch
import torch.utils.data as tdata

import ember
import ember.utils.data as edata

LIBS = {"torch": tdata, "ember": edata}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class UserError(Exception):
    pass


class TwoArgError(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a}/{b}")


def _fault(kind: str, i: int):
    if kind == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif kind == "exit1":
        os._exit(1)
    elif kind == "sys_exit3":
        sys.exit(3)
    elif kind == "segfault":
        ctypes.string_at(0)
    elif kind == "value":
        raise ValueError(f"bad sample {i}")
    elif kind == "key":
        raise KeyError(f"missing {i}")
    elif kind == "user":
        raise UserError(f"user {i}")
    elif kind == "two_args":
        raise TwoArgError(i, 2)


def _make_faulty(lib):
    class Faulty(lib.Dataset):
        def __init__(self, kind: str, at: int = 3) -> None:
            self.kind, self.at = kind, at

        def __len__(self) -> int:
            return 32

        def __getitem__(self, i):
            if i == self.at:
                _fault(self.kind, i)
            return i
    return Faulty


FAULTY = {name: _make_faulty(lib) for name, lib in LIBS.items()}


def _run(within, name: str, dataset, seconds: float = 5.0, **kwargs):
    """Iterate to the end under a time bound; the exception raised (or None) and the time taken."""
    start = time.monotonic()
    with within(seconds):
        try:
            for _ in LIBS[name].DataLoader(dataset, batch_size=2, num_workers=2, **kwargs):
                pass
        except TimeoutError:
            raise
        except Exception as e:  # noqa: BLE001  the exception is what is compared
            for x in (e, e.__cause__, e.__context__):  # their frames hold the iterator and its workers
                if x is not None:
                    x.__traceback__ = None
            return e, time.monotonic() - start
    return None, time.monotonic() - start


@pytest.mark.parametrize("kind, how", [("sigkill", "is killed by signal: Killed"),
                                       ("segfault", "is killed by signal: Segmentation fault"),
                                       ("exit1", "exited unexpectedly with exit code 1"),
                                       ("sys_exit3", "exited unexpectedly with exit code 3")])
def test_dead_worker_raises_promptly_naming_worker_and_signal(kind, how, within):
    errors = {name: _run(within, name, FAULTY[name](kind))[0] for name in LIBS}
    for e in errors.values():
        assert type(e) is RuntimeError, repr(e)
    # torch raises "DataLoader worker (pid(s) N) exited unexpectedly" from a failed wait, with the signal or
    # exit code in its cause; or, when its SIGCHLD handler gets there first, that cause itself
    t = errors["torch"]
    m = re.match(r"^DataLoader worker \(pid\(s\) (\d+)\) exited unexpectedly", str(t))
    detail = str(t.__cause__) if m else str(t)
    assert re.match(rf"^DataLoader worker \(pid \d+\) {re.escape(how)}\.", detail), repr(t)
    # ember: always the first form, its message also naming the worker and how it died, the cause as torch's
    e = errors["ember"]
    pid = re.match(r"^DataLoader worker \(pid\(s\) (\d+)\) exited unexpectedly: ", str(e)).group(1)
    assert str(e).endswith(f"worker 1 (pid {pid}) {how}")  # sample 3 is in batch 1, which goes to worker 1
    assert str(e.__cause__) == f"DataLoader worker (pid {pid}) {how}."


class Pids(edata.Dataset):
    def __len__(self):
        return 400

    def __getitem__(self, i):
        time.sleep(0.002)
        return os.getpid()


def test_worker_killed_from_outside_as_the_oom_killer_does(within):
    # ember only: torch's answer depends on timing (its SIGCHLD handler raises wherever the main
    # process happens to be, or fetching the dead worker's shared memory raises ConnectionResetError)
    with within(5):
        it = iter(edata.DataLoader(Pids(), batch_size=2, num_workers=2))
        victim = int(next(it)[0])
        os.kill(victim, signal.SIGKILL)
        with pytest.raises(RuntimeError, match=rf"^DataLoader worker \(pid\(s\) {victim}\) exited unexpectedly: "
                                               rf"worker 0 \(pid {victim}\) is killed by signal: Killed$"):
            for _ in it:
                pass


def test_worker_init_fn_error_comes_back_with_its_class(within):
    def bad_init(worker_id):
        raise ValueError(f"cannot open shard {worker_id}")
    for name, lib in LIBS.items():
        e, _ = _run(within, name, FAULTY[name]("none"), worker_init_fn=bad_init)
        assert type(e) is ValueError
        assert str(e).startswith("Caught ValueError in DataLoader worker process 0.\nOriginal Traceback")
        assert "cannot open shard 0" in str(e) and "bad_init" in str(e)


@pytest.mark.parametrize("kind, cls", [("value", ValueError), ("key", KeyError), ("user", UserError),
                                       ("two_args", RuntimeError)])
def test_worker_exception_keeps_its_class_and_traceback(kind, cls, within):
    errors = {name: _run(within, name, FAULTY[name](kind))[0] for name in LIBS}
    for e in errors.values():
        assert type(e) is cls, repr(e)
        text = str(e) if cls is not KeyError else e.args[0]
        head, _, tb = text.partition("\nOriginal Traceback (most recent call last):\n")
        assert head == f"Caught {'TwoArgError' if kind == 'two_args' else cls.__name__} in DataLoader worker " \
                       "process 1."
        assert "in __getitem__" in tb and "_fault" in tb and "3" in tb.splitlines()[-1]
    # a KeyError's message prints as text, not as the repr of a string
    if cls is KeyError:
        assert str(errors["ember"]).startswith("Caught KeyError") and str(errors["torch"]).startswith("Caught KeyError")


def test_iteration_goes_on_after_a_worker_exception_as_in_torch(within):
    got = {}
    for name, lib in LIBS.items():
        it, out = iter(lib.DataLoader(FAULTY[name]("value"), batch_size=4, num_workers=2)), []
        with within(10):
            while True:
                try:
                    out.append(next(it).tolist())
                except StopIteration:
                    break
                except ValueError:
                    out.append("ValueError")
        got[name] = out
    assert got["ember"] == got["torch"]
    assert got["ember"] == ["ValueError"] + [list(range(i, i + 4)) for i in range(4, 32, 4)]


def test_exception_class_defined_in_a_function_comes_back_as_runtime_error(within):
    # torch cannot pickle such a class and waits forever; ember sends its name and traceback
    class LocalError(Exception):
        pass

    class Bad(edata.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            raise LocalError("local")
    e, _ = _run(within, "ember", Bad())
    assert type(e) is RuntimeError
    assert str(e).startswith("Caught LocalError in DataLoader worker process 0.\nOriginal Traceback")
    assert "LocalError: local" in str(e)


def test_timeout_raises_and_stops_the_stuck_worker(within):
    def make(lib):
        class Slow(lib.Dataset):
            def __len__(self):
                return 4

            def __getitem__(self, i):
                time.sleep(1.0)
                return i
        return Slow()
    for name in LIBS:
        e, _ = _run(within, name, make(LIBS[name]), seconds=10, timeout=0.2)
        assert type(e) is RuntimeError and str(e) == "DataLoader timed out after 0.2 seconds"
    e, took = _run(within, "ember", make(edata), seconds=3, timeout=0.2)
    assert str(e) == "DataLoader timed out after 0.2 seconds" and took < 1.0


def test_ember_leaves_no_worker_behind_after_a_fault(within):
    before = {p.pid for p in mp.active_children()}
    _run(within, "ember", FAULTY["ember"]("sigkill"))
    _run(within, "ember", FAULTY["ember"]("value"))
    assert {p.pid for p in mp.active_children()} == before


PARENT = r"""
import os, sys, threading, time
import ember.utils.data as edata

class Pids(edata.Dataset):
    def __len__(self):
        return 10 ** 6

    def __getitem__(self, i):
        return os.getpid()

def run():
    it = iter(edata.DataLoader(Pids(), batch_size=2, num_workers=2))
    pids = set()
    while len(pids) < 2:
        pids.update(next(it).tolist())
    print(*sorted(pids), flush=True)
    time.sleep(60)

if sys.argv[1] == "thread":  # no parent-death signal from a thread: the workers see the pipes close
    threading.Thread(target=run).start()
else:
    run()
"""


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has exited
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("where", ["main", "thread"])
def test_workers_exit_when_the_parent_is_killed(where):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, where], cwd=REPO, stdout=subprocess.PIPE)
    pids = []
    try:
        assert select.select([parent.stdout], [], [], 20)[0], "the parent did not start its workers"
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and parent.pid not in pids
        parent.kill()
        parent.wait(5)
        deadline = time.monotonic() + 5
        while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_gone(p) for p in pids), "workers outlived their parent"
    finally:
        parent.kill()
        parent.wait(5)
        for p in pids:
            if not _gone(p):
                os.kill(p, signal.SIGKILL)
