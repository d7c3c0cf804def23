"""The op profiler, as ``torch.autograd.profiler``: every op ember dispatches, timed, while a profile is active.

While no profile runs nothing is added to an op: a profile joins the transform stack of
``ember/autograd/forward_ad.py`` (the one check ``Op.apply`` already makes) and sets the engine's ``profiler``
(read once per backward pass; a None check per node). Each op's event is named as torch's ``aten::`` op where
ember's op maps onto one; backward nodes are timed as torch's ``autograd::engine::evaluate_function: <Node>``
ranges. Times are wall-clock microseconds of this process's threads, as torch's CPU times are. Differences from
torch: an op ember composes from others (``mse_loss``) shows as those ops; a user ``autograd.Function`` is one
range (the ops of its forward are not broken out); memory is the bytes of the arrays each op returns (frees are
not tracked); ``with_stack`` records the calling Python frames on each op.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
import traceback
import warnings
from collections import defaultdict

from . import engine, forward_ad
from . import function as _function

__all__ = ["profile", "record_function", "emit_nvtx", "emit_itt", "EventList", "FunctionEvent", "FunctionEventAvg",
           "Interval"]

_active = None  # the recorder of the running profile, or None
_now = time.perf_counter_ns
_thread_id = threading.get_native_id

# ember ops whose aten name is not their class name in snake_case
_ATEN = {"Convolution": "convolution", "Convolution3d": "convolution", "_Linear": "linear", "MT": "t",
         "_CrossEntropy": "cross_entropy_loss", "_NLL": "nll_loss", "_BCE": "binary_cross_entropy",
         "_BatchNorm": "batch_norm", "_LayerNorm": "layer_norm", "Cast": "to", "Copy": "copy_", "Fill": "fill_",
         "IndexPut": "index_put_", "MaxPool": "max_pool2d", "MaxPool3d": "max_pool3d", "_Embedding": "embedding",
         "_Attention": "scaled_dot_product_attention", "VectorNorm": "linalg_vector_norm", "_ReluGrad":
         "threshold_backward", "_ConstantPad": "constant_pad_nd", "Extreme": "max", "RoundedDiv": "div"}
_names: dict = {}


def _aten_name(cls, args) -> str:
    """torch's name for an op: ``aten::`` and the op's snake_case name (``LogSoftmax`` -> ``aten::log_softmax``)."""
    if cls.__name__ == "Compare" and args:  # one class for every comparison: named by its ufunc
        return "aten::" + getattr(args[0], "__name__", "compare")
    name = _names.get(cls)
    if name is None:
        if not issubclass(cls, _function.Op):  # a user Function: its class name, as a range
            name = cls.__name__
        else:
            base = _ATEN.get(cls.__name__) or re.sub(r"(Tensors|Scalar|Const)$", "", cls.__name__.lstrip("_"))
            name = "aten::" + re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", base).lower()
        _names[cls] = name
    return name


class Interval:
    """An event's start and end, in microseconds."""

    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end

    def elapsed_us(self) -> float:
        """The interval's length in microseconds."""
        return self.end - self.start


class FunctionEvent:
    """One recorded op, backward node or ``record_function`` range, as torch's FunctionEvent."""

    count = 1
    device_type = "CPU"
    is_async = False
    is_remote = False
    is_legacy = False
    overload_name = ""
    flops = 0
    scope = 0
    sequence_nr = -1
    self_cpu_percent = total_cpu_percent = -1
    device_memory_usage = self_device_memory_usage = 0

    input_shapes: list = []  # (shared defaults, never written into: an event without shapes or stack)
    stack: list = []
    is_user_annotation = False
    cpu_parent = None
    cpu_memory_usage = 0

    def __init__(self, id: int, name: str, thread: int, start_ns: int) -> None:
        # as little as can be per event: it runs for every op while profiling
        self.id, self.name, self.trace_name, self.thread = id, name, name, thread
        self._start = self._end = start_ns
        self.cpu_children: list = []

    @property
    def time_range(self) -> Interval:
        return Interval(self._start / 1e3, self._end / 1e3)

    key = property(lambda self: self.name)
    cpu_time_total = property(lambda self: (self._end - self._start) / 1e3)
    cpu_time = cpu_time_total

    @property
    def self_cpu_time_total(self) -> float:
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    @property
    def self_cpu_memory_usage(self) -> int:
        return self.cpu_memory_usage - sum(c.cpu_memory_usage for c in self.cpu_children)

    def __repr__(self) -> str:
        return (f"<FunctionEvent id={self.id} name={self.name} cpu_time={_format_time(self.cpu_time_total)} "
                f"start_us={self.time_range.start:.3f} end_us={self.time_range.end:.3f} "
                f"cpu_children={[c.id for c in self.cpu_children]} input_shapes={self.input_shapes} "
                f"cpu_memory_usage={self.cpu_memory_usage}>")


class FunctionEventAvg:
    """Events with one key, summed (``key_averages``): counts, total and self times, memory."""

    def __init__(self) -> None:
        self.key = None
        self.count = 0
        self.cpu_time_total = self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = self.self_cpu_memory_usage = 0
        self.input_shapes = self.stack = None
        self.is_user_annotation = False
        self.device_type = "CPU"

    @property
    def cpu_time(self) -> float:
        return self.cpu_time_total / self.count if self.count else 0.0

    def add(self, other) -> "FunctionEventAvg":
        """Fold ``other`` (an event or an average) into this one."""
        if self.key is None:
            self.key, self.input_shapes, self.stack = other.key, other.input_shapes, other.stack
            self.is_user_annotation = other.is_user_annotation
        self.count += other.count
        self.cpu_time_total += other.cpu_time_total
        self.self_cpu_time_total += other.self_cpu_time_total
        self.cpu_memory_usage += other.cpu_memory_usage
        self.self_cpu_memory_usage += other.self_cpu_memory_usage
        return self

    __iadd__ = add

    def __repr__(self) -> str:
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={_format_time(self.self_cpu_time_total)} "
                f"cpu_time={_format_time(self.cpu_time)} input_shapes={self.input_shapes} "
                f"cpu_memory_usage={self.cpu_memory_usage}>")


class EventList(list):
    """Events (or their averages), with torch's summaries: ``key_averages``, ``table``, ``export_chrome_trace``."""

    def __init__(self, *args, profile_memory: bool = False, with_shapes: bool = False, with_stack: bool = False,
                 **kwargs) -> None:
        super().__init__(*args)
        # which optional columns table() shows: memory when profiled, shapes and stacks when grouped by them
        self._profile_memory, self._with_shapes, self._with_stack = profile_memory, with_shapes, with_stack

    @property
    def self_cpu_time_total(self) -> float:
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> "EventList":
        """One FunctionEventAvg per op name (and input shapes, and the innermost stack frames, if asked)."""
        groups = defaultdict(FunctionEventAvg)
        for e in self:
            key = (e.name, str(e.input_shapes) if group_by_input_shape else "",
                   tuple(e.stack[:group_by_stack_n]) if group_by_stack_n else ())
            groups[key].add(e)
        return EventList(groups.values(), profile_memory=self._profile_memory, with_shapes=group_by_input_shape,
                         with_stack=group_by_stack_n > 0)

    def total_average(self) -> FunctionEventAvg:
        """All events folded into one average, keyed ``Total``."""
        total = FunctionEventAvg()
        for e in self:
            total.add(e)
        total.key = "Total"
        return total

    def table(self, sort_by: str | None = None, row_limit: int = 100, max_src_column_width: int = 75,
              max_name_column_width: int = 55, max_shapes_column_width: int = 80, header: str | None = None,
              top_level_events_only: bool = False, time_unit: str | None = None) -> str:
        """A text table of the events (best after ``key_averages``), with torch's column names."""
        return _table(self, sort_by, row_limit, max_name_column_width, max_shapes_column_width,
                      max_src_column_width, header, top_level_events_only, time_unit)

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as a Chrome trace (JSON: chrome://tracing and Perfetto load it), atomically."""
        _write_trace(self, path)

    def export_stacks(self, path: str, metric: str = "self_cpu_time_total") -> None:
        """One line per recorded stack, frames joined by ';', with its ``metric`` (flame-graph input)."""
        with open(path, "w") as f:
            for e in self:
                if e.stack:
                    f.write(";".join(reversed(e.stack)) + ";" + e.name + " " + str(int(getattr(e, metric))) + "\n")


def _format_time(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _format_memory(nbytes: float) -> str:
    for unit, size in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{int(nbytes)} B"


def _table(events, sort_by, row_limit, name_width, shapes_width, src_width, header, top_level_only,
           time_unit) -> str:
    with_shapes, with_stack, memory = events._with_shapes, events._with_stack, events._profile_memory
    if sort_by is not None:
        events = sorted(events, key=lambda e: getattr(e, sort_by), reverse=True)
    if top_level_only:
        events = [e for e in events if getattr(e, "cpu_parent", None) is None]
    self_total = sum(e.self_cpu_time_total for e in events)
    fmt_time = _format_time if time_unit is None else (
        lambda us: f"{us / {'s': 1e6, 'ms': 1e3, 'us': 1.0}[time_unit]:.3f}{time_unit}")
    pct = (lambda t: f"{100 * t / self_total:.2f}%") if self_total else (lambda t: "0.00%")
    cols = [("Self CPU %", lambda e: pct(e.self_cpu_time_total)),
            ("Self CPU", lambda e: fmt_time(e.self_cpu_time_total)),
            ("CPU total %", lambda e: pct(e.cpu_time_total)), ("CPU total", lambda e: fmt_time(e.cpu_time_total)),
            ("CPU time avg", lambda e: fmt_time(e.cpu_time_total / max(e.count, 1)))]
    if memory:
        cols += [("CPU Mem", lambda e: _format_memory(e.cpu_memory_usage)),
                 ("Self CPU Mem", lambda e: _format_memory(e.self_cpu_memory_usage))]
    cols.append(("# of Calls", lambda e: str(e.count)))
    rows = list(events)[:row_limit] if row_limit is not None and row_limit > 0 else list(events)
    name_w = min(max([len(e.key) for e in rows] + [4]) + 4, name_width)
    widths = [name_w] + [12] * len(cols)
    heads = ["Name"] + [c[0] for c in cols]
    getters = [lambda e: _clip(e.key, name_w)] + [c[1] for c in cols]
    if with_shapes:
        shapes_w = min(max([len(str(e.input_shapes)) for e in rows] + [12]) + 4, shapes_width)
        widths.append(shapes_w)
        heads.append("Input Shapes")
        getters.append(lambda e: _clip(str(e.input_shapes), shapes_w))
    if with_stack:
        widths.append(src_width)
        heads.append("Source Location")
        getters.append(lambda e: _clip(e.stack[0] if e.stack else "", src_width))
    line = "  ".join("-" * w for w in widths) + "  "
    out = [] if header is None else ["=" * len(line), header]
    out += [line, "  ".join(h.rjust(w) for h, w in zip(heads, widths)) + "  ", line]
    for e in rows:
        out.append("  ".join(g(e).rjust(w) for g, w in zip(getters, widths)) + "  ")
    out += [line, f"Self CPU time total: {fmt_time(self_total)}", ""]
    return "\n".join(out)


def _clip(s: str, width: int) -> str:
    return s if len(s) <= width else s[:width - 3] + "..."


def _write_trace(events, path: str) -> None:
    pid = os.getpid()
    # ts: microseconds of the monotonic clock, which every process shares (traces of several processes line up),
    # small enough for a double to keep sub-microsecond steps; baseTimeNanoseconds: that clock's zero, in Unix time
    base = time.time_ns() - time.perf_counter_ns()
    trace = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": "python"}}]
    trace += [{"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": f"thread {tid} (python)"}}
              for tid in sorted({e.thread for e in events})]
    for i, e in enumerate(events):
        args = {"External id": e.id, "Ev Idx": i}
        if e.input_shapes:
            args["Input Dims"] = e.input_shapes
        if e.stack:
            args["Call stack"] = ";".join(e.stack)
        trace.append({"ph": "X", "cat": "user_annotation" if e.is_user_annotation else "cpu_op", "name": e.trace_name,
                      "pid": pid, "tid": e.thread, "ts": e._start / 1e3,
                      "dur": e.cpu_time_total, "args": args})
    doc = {"schemaVersion": 1, "deviceProperties": [], "displayTimeUnit": "ms",
           "baseTimeNanoseconds": base, "traceEvents": trace, "traceName": str(path)}
    path = os.fspath(path)
    tmp = f"{path}.{pid}.tmp"
    try:
        if path.endswith(".gz"):
            import gzip
            with gzip.open(tmp, "wt") as f:
                json.dump(doc, f)
        else:
            with open(tmp, "w") as f:
                json.dump(doc, f)
        os.replace(tmp, path)  # a reader (TensorBoard) never sees half a file
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


# ----------------------------------------------------------------------------- recording

class _Recorder:
    """The events of one profiling run, each thread's open ones on a stack of its own."""

    def __init__(self, record_shapes: bool, profile_memory: bool, with_stack: bool) -> None:
        self.record_shapes, self.profile_memory, self.with_stack = record_shapes, profile_memory, with_stack
        self.events: list = []
        self._open = defaultdict(list)

    def begin(self, name: str, args=(), user: bool = False) -> FunctionEvent:
        tid = _thread_id()
        ev = FunctionEvent(len(self.events) + 1, name, tid, 0)
        if user:
            ev.is_user_annotation = True
            if name.startswith("ProfilerStep#"):  # one key for every step, as torch's; the trace keeps the number
                ev.name = "ProfilerStep*"
        if self.record_shapes and args:
            ev.input_shapes = [list(a._data.shape) if isinstance(a, _function.Tensor) else [] for a in args]
        if self.with_stack:
            ev.stack = [f"{f.filename}({f.lineno}): {f.name}" for f in reversed(traceback.extract_stack()[:-3])
                        if "/ember/" not in f.filename.replace(os.sep, "/")]
        self.events.append(ev)
        opened = self._open[tid]
        if opened:
            ev.cpu_parent = opened[-1]
            opened[-1].cpu_children.append(ev)
        opened.append(ev)
        ev._start = ev._end = _now()  # last: the bookkeeping above is not the op's time
        return ev

    def end(self, ev: FunctionEvent) -> None:
        ev._end = _now()
        opened = self._open[ev.thread]
        while opened:  # (an exception may have skipped the ends of events opened inside this one)
            if opened.pop() is ev:
                break

    def backward_pass(self):
        """The engine's hook for one backward pass: ``mark(node)`` as each node starts, ``mark(None)`` at the end."""
        current = []

        def mark(node) -> None:
            for ev in reversed(current):
                self.end(ev)
            current.clear()
            if node is not None:
                name = node.name()
                if name == "AccumulateGrad":
                    name = "torch::autograd::AccumulateGrad"
                current.append(self.begin("autograd::engine::evaluate_function: " + name))
                current.append(self.begin(name))
        return mark

    def finish(self) -> EventList:
        for opened in self._open.values():  # ranges still open (a record_function left unclosed) end now
            for ev in reversed(opened):
                self.end(ev)
        if self.profile_memory:  # an event's memory includes its children's (a child starts after its parent)
            for ev in reversed(self.events):
                if ev.cpu_parent is not None:
                    ev.cpu_parent.cpu_memory_usage += ev.cpu_memory_usage
        return EventList(self.events, profile_memory=self.profile_memory, with_stack=self.with_stack)


def _profiled(cls, args, kwargs):
    """The transform a profile installs: run the op as usual, inside an event."""
    rec = _active
    ev = rec.begin(_aten_name(cls, args), args)
    # the op runs as the transforms outside this one see it (forward_ad.below, without a generator's cost)
    stack, saved = forward_ad._stack, _function.transform
    i = stack.index(_profiled)
    _function.transform = stack[i - 1] if i else None
    try:
        out = cls.apply(*args, **kwargs)
    finally:
        _function.transform = saved
        rec.end(ev)
    if rec.profile_memory:  # the bytes of the new arrays it returned (views allocate nothing)
        ev.cpu_memory_usage = sum(o._data.nbytes for o in (out if type(out) is tuple else (out,))
                                  if isinstance(o, _function.Tensor) and o._data.base is None)
    return out


def _start(rec: _Recorder) -> bool:
    global _active
    if _active is not None:
        warnings.warn("ember profiler: another profile is already recording; this one records nothing")
        return False
    _active = rec
    forward_ad.push(_profiled)
    engine.profiler = rec
    return True


def _stop(rec: _Recorder) -> None:
    global _active
    if _active is rec:
        forward_ad.pop(_profiled)
        engine.profiler = None
        _active = None


class profile:
    """Record every op run inside ``with profile() as prof:``; then ``prof.key_averages().table()``.

    As ``torch.autograd.profiler.profile`` on a CPU build: ``record_shapes`` keeps each op's input shapes,
    ``profile_memory`` the bytes each op allocates, ``with_stack`` the Python frames that called it.
    """

    def __init__(self, enabled: bool = True, *, use_cuda: bool = False, use_device=None, record_shapes: bool = False,
                 with_flops: bool = False, profile_memory: bool = False, with_stack: bool = False,
                 with_modules: bool = False, use_kineto: bool = False, use_cpu: bool = True, experimental_config=None,
                 acc_events: bool = False, custom_trace_id_callback=None, post_processing_timeout_s=None,
                 activity_filters=None) -> None:
        if use_cuda:
            warnings.warn("The attribute `use_cuda` will be deprecated soon, please use ``use_device = 'cuda'`` "
                          "instead.", FutureWarning, stacklevel=2)
        if use_cuda or use_device not in (None, "cpu"):  # as torch's CPU build: recorded on the CPU only
            warnings.warn("CUDA is not available, disabling CUDA profiling", stacklevel=2)
        self.enabled, self.record_shapes, self.profile_memory = enabled, record_shapes, profile_memory
        self.with_stack, self.acc_events = with_stack, acc_events
        self.function_events = None
        self._rec = None
        self.entered = False

    def __enter__(self) -> "profile":
        if self.entered:
            raise RuntimeError("Profiler context manager is not reentrant")
        self.entered = True
        self._start_trace()
        return self

    def __exit__(self, *exc) -> bool:
        self._stop_trace()
        self.entered = False
        return False

    def _start_trace(self) -> None:
        if self.enabled:
            rec = _Recorder(self.record_shapes, self.profile_memory, self.with_stack)
            self._rec = rec if _start(rec) else None

    def _stop_trace(self) -> None:
        rec, self._rec = self._rec, None
        if not self.enabled:
            return
        if rec is None:
            events = EventList()
        else:
            _stop(rec)
            events = rec.finish()
        if self.acc_events and self.function_events is not None:
            events = EventList(list(self.function_events) + list(events), profile_memory=self.profile_memory,
                               with_stack=self.with_stack)
        self.function_events = events

    def _events(self) -> EventList:
        if self.function_events is None:
            raise RuntimeError("Profiler didn't finish running")
        return self.function_events

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        """The events averaged per op name (see EventList.key_averages)."""
        return self._events().key_averages(group_by_input_shape, group_by_stack_n, group_by_overload_name)

    def table(self, *args, **kwargs) -> str:
        """The events as a text table (see EventList.table)."""
        return self._events().table(*args, **kwargs)

    def total_average(self) -> FunctionEventAvg:
        """All events folded into one average."""
        return self._events().total_average()

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as a Chrome trace JSON file."""
        self._events().export_chrome_trace(path)

    def export_stacks(self, path: str, metric: str = "self_cpu_time_total") -> None:
        """Write the recorded stacks (needs ``with_stack=True``)."""
        self._events().export_stacks(path, metric)

    @property
    def self_cpu_time_total(self) -> float:
        return self._events().self_cpu_time_total

    def __str__(self) -> str:
        return self.table()


class record_function(contextlib.ContextDecorator):
    """A named range in the profile (``with record_function("forward"):``), or nothing when none is recording."""

    def __init__(self, name: str, args: str | None = None) -> None:
        self.name, self.args = name, args
        self._ev = self._rec = None

    def __enter__(self) -> "record_function":
        rec = _active
        if rec is not None:
            self._rec, self._ev = rec, rec.begin(self.name, user=True)
        return self

    def __exit__(self, *exc) -> bool:
        if self._ev is not None:
            self._rec.end(self._ev)
            self._ev = self._rec = None
        return False


class emit_nvtx:
    """NVTX ranges for nvprof: CUDA only; entering it raises as torch's CPU build does."""

    def __init__(self, enabled: bool = True, record_shapes: bool = False) -> None:
        self.enabled = enabled

    def __enter__(self) -> "emit_nvtx":
        if self.enabled:
            from ..cuda import unavailable
            raise unavailable("cuda")
        return self

    def __exit__(self, *exc) -> bool:
        return False


class emit_itt(emit_nvtx):
    """Intel ITT ranges for VTune: ember has no ITT library; entering it raises NotImplementedError."""

    def __enter__(self) -> "emit_itt":
        if self.enabled:
            raise NotImplementedError("emit_itt: ember has no Intel ITT support")
        return self


class _RecordFunctionOps:
    """``torch.ops.profiler``: a range opened and closed by handle (what TorchScript'd record_function calls)."""

    @staticmethod
    def _record_function_enter_new(name: str, args: str | None = None) -> record_function:
        return record_function(name, args).__enter__()

    _record_function_enter = _record_function_enter_new

    @staticmethod
    def _record_function_exit(handle: record_function) -> None:
        handle.__exit__(None, None, None)


ops_namespace = _RecordFunctionOps()


def _is_profiler_enabled() -> bool:
    return _active is not None
