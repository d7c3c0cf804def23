"""The profiler, as ``torch.profiler``: ``profile`` with a ``schedule`` of steps, ``record_function`` ranges,
``tensorboard_trace_handler``. The recording itself is ``ember/autograd/profiler.py``'s; this adds torch's
step state machine (wait, warmup, active, repeat) on top, on the CPU only.
"""
from __future__ import annotations

import enum
import os
import time
import warnings
from typing import Callable

from ..autograd import profiler as _legacy
from ..autograd.profiler import record_function

__all__ = ["ProfilerAction", "ProfilerActivity", "profile", "record_function", "schedule", "supported_activities",
           "tensorboard_trace_handler"]


class ProfilerActivity(enum.Enum):
    """What a profile records; ember records CPU ops only."""

    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5


class ProfilerAction(enum.Enum):
    """What the profiler does during a step, as a schedule returns it."""

    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3
    DEVICE_STOPPED = 4


def supported_activities() -> set:
    """The activities this build can record: the CPU."""
    return {ProfilerActivity.CPU}


def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0,
             skip_first_wait: int = 0) -> Callable[[int], ProfilerAction]:
    """The action for each step: skip ``skip_first`` steps, then cycles of ``wait`` idle, ``warmup`` warming and
    ``active`` recorded steps (the last of each cycle also saves), ``repeat`` times (0: without end).
    ``skip_first_wait`` drops the first cycle's wait."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError(f"Invalid profiler schedule arguments. Got wait={wait} (need >= 0), warmup={warmup} "
                             f"(need >= 0), active={active} (need > 0), repeat={repeat} (need >= 0), "
                             f"skip_first={skip_first} (need >= 0).")
    if warmup == 0:
        warnings.warn("Profiler won't be using warmup, this can skew profiler results", stacklevel=2)
    cycle = wait + warmup + active

    def action(step: int) -> ProfilerAction:
        if step < 0:
            raise AssertionError(f"Step must be non-negative. Got {step}.")
        if step < skip_first:
            return ProfilerAction.NONE
        step = step - skip_first + (wait if skip_first_wait else 0)
        if repeat and step >= repeat * cycle:  # every cycle done
            return ProfilerAction.NONE
        phase = step % cycle
        if phase < wait:
            return ProfilerAction.NONE
        if phase < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD_AND_SAVE if phase == cycle - 1 else ProfilerAction.RECORD
    return action


def _always_record(step: int) -> ProfilerAction:
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name: str, worker_name: str | None = None, use_gzip: bool = False,
                              use_python_export: bool = False) -> Callable:
    """An ``on_trace_ready`` that writes each trace as ``<worker>.<ns>.pt.trace.json[.gz]`` into ``dir_name``
    (TensorBoard's profiler plugin reads that directory); ``worker`` is ``<host>_<pid>`` by default."""
    def handler(prof) -> None:
        import socket
        try:
            os.makedirs(dir_name, exist_ok=True)
        except OSError as e:
            raise RuntimeError("Can't create directory: " + str(dir_name)) from e
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        name = f"{worker}.{time.time_ns()}.pt.trace.json" + (".gz" if use_gzip else "")
        prof.export_chrome_trace(os.path.join(dir_name, name))
    return handler


_RECORDING = (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)


class profile:
    """Profile the ops run inside ``with profile(...) as prof:``, step by step (``prof.step()``) under a
    ``schedule``, calling ``on_trace_ready(prof)`` at the end of each recorded cycle, as torch's."""

    def __init__(self, *, activities=None, schedule: Callable | None = None, on_trace_ready: Callable | None = None,
                 record_shapes: bool = False, profile_memory: bool = False, with_stack: bool = False,
                 with_flops: bool = False, with_modules: bool = False, experimental_config=None,
                 execution_trace_observer=None, acc_events: bool = False, use_cuda: bool | None = None,
                 custom_trace_id_callback=None, post_processing_timeout_s: float | None = None) -> None:
        acts = set(supported_activities() if activities is None else
                   (a for item in activities for a in (item.keys() if isinstance(item, dict) else (item,))))
        if use_cuda is not None:
            warnings.warn("`use_cuda` is deprecated, use `activities` argument instead", FutureWarning, stacklevel=2)
            (acts.add if use_cuda else acts.discard)(ProfilerActivity.CUDA)
        if not acts:
            raise AssertionError("No valid profiler activities found")
        if ProfilerActivity.CUDA in acts:  # as torch's CPU build
            warnings.warn("CUDA is not available, disabling CUDA profiling", stacklevel=2)
        self.activities = acts
        self.record_shapes, self.profile_memory, self.with_stack = record_shapes, profile_memory, with_stack
        self.acc_events = acc_events
        self.record_steps = schedule is not None
        self.schedule = schedule if schedule is not None else _always_record
        self.on_trace_ready = on_trace_ready
        self.step_num = 0
        self.current_action = self.schedule(0)
        self.profiler = None   # the autograd profile of the cycle being (or last) recorded
        self._step_range = None
        self._metadata: dict = {}

    def __enter__(self) -> "profile":
        self.start()
        return self

    def __exit__(self, *exc) -> bool:
        self.stop()
        return False

    def start(self) -> None:
        """Begin profiling (what entering the ``with`` does)."""
        self._transit(ProfilerAction.NONE, self.current_action)
        self._open_step()

    def stop(self) -> None:
        """End profiling: a cycle still recording ends, and is handed to ``on_trace_ready``."""
        self._close_step()
        self._transit(self.current_action, None)

    def step(self) -> None:
        """Mark the start of the next step; the schedule's action for it takes effect."""
        self._close_step()
        prev = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit(prev, self.current_action)
        self._open_step()

    def _open_step(self) -> None:
        if self.record_steps:
            self._step_range = record_function(f"ProfilerStep#{self.step_num}").__enter__()

    def _close_step(self) -> None:
        if self._step_range is not None:
            self._step_range.__exit__(None, None, None)
            self._step_range = None

    def _transit(self, prev, cur) -> None:
        """torch's transitions between two steps' actions (``cur`` None: profiling stops)."""
        if prev is ProfilerAction.RECORD_AND_SAVE or (prev is ProfilerAction.RECORD and cur not in _RECORDING):
            if prev is ProfilerAction.RECORD and cur is not None:
                warnings.warn(f"Incorrect schedule: RECORD followed by {cur.name}", stacklevel=3)
            self._stop_trace()
            if prev is ProfilerAction.RECORD_AND_SAVE or cur is None:
                self._trace_ready()
            prev = ProfilerAction.NONE  # a new cycle starts below if cur records
        elif prev is ProfilerAction.WARMUP and cur in (ProfilerAction.NONE, None):
            if cur is ProfilerAction.NONE:
                warnings.warn("Incorrect schedule: WARMUP followed by NONE", stacklevel=3)
            self._start_trace()  # an empty trace, as torch's
            self._stop_trace()
        if cur in _RECORDING and prev not in _RECORDING:
            self._start_trace()

    def _start_trace(self) -> None:
        previous = self.profiler
        self.profiler = _legacy.profile(record_shapes=self.record_shapes, profile_memory=self.profile_memory,
                                        with_stack=self.with_stack, acc_events=self.acc_events)
        if self.acc_events and previous is not None:
            self.profiler.function_events = previous.function_events
        self.profiler._start_trace()

    def _stop_trace(self) -> None:
        if self.profiler is not None:
            self.profiler._stop_trace()

    def _trace_ready(self) -> None:
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    def _events(self):
        if self.profiler is None or self.profiler.function_events is None:
            raise AssertionError("Profiler must be initialized before accessing events")
        return self.profiler.function_events

    def events(self):
        """The last recorded cycle's events (FunctionEvent), unaggregated."""
        return self._events()

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False):
        """The last cycle's events averaged per op name (and input shapes, stack frames if asked)."""
        return self._events().key_averages(group_by_input_shape, group_by_stack_n, group_by_overload_name)

    def export_chrome_trace(self, path: str, use_python_export: bool = False) -> None:
        """Write the last cycle as a Chrome trace JSON file (``.gz``: gzipped)."""
        self._events().export_chrome_trace(path)

    def export_stacks(self, path: str, metric: str = "self_cpu_time_total") -> None:
        """Write the recorded stacks (needs ``with_stack=True``)."""
        self._events().export_stacks(path, metric)

    def add_metadata(self, key: str, value: str) -> None:
        """Keep a user metadata string (ember's traces do not carry it yet)."""
        self._metadata[key] = value

    add_metadata_json = add_metadata
