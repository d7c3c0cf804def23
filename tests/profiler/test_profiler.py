"""ember.profiler and ember.autograd.profiler against torch 2.13.0's: the schedule's actions, the ops recorded for
a small training step (names, counts, nesting, shapes), when on_trace_ready runs, the trace files."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import ember
from ember.autograd import engine
from ember.autograd import function as _function


def _schedules():
    yield dict(wait=1, warmup=1, active=3, repeat=2)
    yield dict(wait=0, warmup=2, active=1)
    yield dict(wait=2, warmup=1, active=2, repeat=1, skip_first=3)
    yield dict(wait=3, warmup=1, active=1, repeat=3, skip_first=2, skip_first_wait=1)
    yield dict(wait=2, warmup=0, active=4)


@pytest.mark.parametrize("kw", list(_schedules()))
def test_schedule_actions_match_torch(kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warmup=0 warns in both
        ours, theirs = ember.profiler.schedule(**kw), torch.profiler.schedule(**kw)
    assert [ours(s).name for s in range(40)] == [theirs(s).name for s in range(40)]


def test_schedule_errors_match_torch():
    for lib in (ember, torch):
        with pytest.raises(AssertionError, match="active=0"):
            lib.profiler.schedule(wait=1, warmup=1, active=0)
        with pytest.raises(AssertionError, match="non-negative"):
            lib.profiler.schedule(wait=1, warmup=1, active=1)(-1)
        with pytest.warns(UserWarning, match="won't be using warmup"):
            lib.profiler.schedule(wait=1, warmup=0, active=1)
    assert [a.name for a in ember.profiler.ProfilerAction] == [a.name for a in torch.profiler.ProfilerAction]


def _train_step(lib, **profile_kw):
    """A linear layer + relu + mse + backward under the profiler, inside a record_function range."""
    rng = np.random.default_rng(0)
    lin = lib.nn.Linear(4, 3)
    x, y = (lib.tensor(rng.standard_normal(s, dtype=np.float32)) for s in ((5, 4), (5, 3)))
    with lib.profiler.profile(activities=[lib.profiler.ProfilerActivity.CPU], **profile_kw) as prof:
        with lib.profiler.record_function("model"):
            out = lib.nn.functional.relu(lin(x))
            loss = lib.nn.functional.mse_loss(out, y)
        loss.backward()
    return prof


def _counts(prof) -> dict:
    return {e.key: e.count for e in prof.key_averages()}


def test_train_step_ops_names_counts_nesting_shapes_match_torch():
    ours, theirs = _train_step(ember, record_shapes=True), _train_step(torch, record_shapes=True)
    a, b = _counts(ours), _counts(theirs)
    common = set(a) & set(b)
    # what both record alike: the user range, the ops that map one to one, the backward nodes of the engine
    assert {"model", "aten::linear", "aten::relu", "aten::mean", "ReluBackward0",
            "autograd::engine::evaluate_function: ReluBackward0", "torch::autograd::AccumulateGrad",
            "autograd::engine::evaluate_function: torch::autograd::AccumulateGrad"} <= common
    assert {k: a[k] for k in common} == {k: b[k] for k in common}
    assert a["torch::autograd::AccumulateGrad"] == 2  # weight and bias

    def tree(prof):
        ev = {e.name: e for e in prof.events()}
        return (ev["aten::linear"].cpu_parent.name, ev["aten::relu"].cpu_parent.name, ev["model"].cpu_parent,
                [c.name for c in ev["autograd::engine::evaluate_function: ReluBackward0"].cpu_children],
                ev["aten::linear"].input_shapes, ev["aten::relu"].input_shapes)
    assert tree(ours) == tree(theirs)
    for e in ours.events():
        assert e.cpu_time_total >= e.self_cpu_time_total >= 0
        assert all(e.time_range.start <= c.time_range.start <= c.time_range.end <= e.time_range.end
                   for c in e.cpu_children)
    total = ours.key_averages().total_average()
    assert total.key == "Total" and total.count == len(ours.events())
    assert total.self_cpu_time_total == pytest.approx(sum(e.self_cpu_time_total for e in ours.events()))


def _header(table: str) -> list:
    return re.split(r"\s{2,}", table.splitlines()[1].strip())


def test_table_columns_match_torch():
    for kw, group in (({}, False), (dict(record_shapes=True, profile_memory=True), True)):
        ours, theirs = _train_step(ember, **kw), _train_step(torch, **kw)
        t_ours = ours.key_averages(group_by_input_shape=group).table(sort_by="cpu_time_total", row_limit=10)
        t_theirs = theirs.key_averages(group_by_input_shape=group).table(sort_by="cpu_time_total", row_limit=10)
        assert _header(t_ours) == _header(t_theirs)
        assert len(t_ours.splitlines()) == len(t_theirs.splitlines()) == 3 + 10 + 2  # rules, header, 10 rows, total
        assert t_ours.splitlines()[-1].startswith("Self CPU time total: ")
        rows = [re.split(r"\s{2,}", line.strip()) for line in t_ours.splitlines()[3:13]]
        totals = [float(r[4][:-2]) * (1000 if r[4].endswith("ms") else 1) for r in rows]
        assert totals == sorted(totals, reverse=True)  # sorted by CPU total


def test_memory_is_the_bytes_each_op_allocates():
    prof = _train_step(ember, profile_memory=True)
    ev = {e.name: e for e in prof.events()}
    assert ev["aten::relu"].cpu_memory_usage == 5 * 3 * 4  # a new float32 (5, 3)
    assert ev["aten::linear"].self_cpu_memory_usage == 5 * 3 * 4
    assert ev["model"].cpu_memory_usage == sum(c.cpu_memory_usage for c in ev["model"].cpu_children)


def test_chrome_trace_json(tmp_path):
    prof = _train_step(ember, record_shapes=True)
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    doc = json.loads(path.read_text())
    spans = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert len(spans) == len(prof.events())
    for e in spans:
        assert {"name", "ph", "ts", "dur", "pid", "tid", "cat", "args"} <= set(e)
        assert e["pid"] == os.getpid() and e["dur"] >= 0
    by = {e["name"]: e for e in spans}
    model, linear = by["model"], by["aten::linear"]
    assert model["cat"] == "user_annotation" and linear["cat"] == "cpu_op"
    assert model["ts"] <= linear["ts"] and linear["ts"] + linear["dur"] <= model["ts"] + model["dur"] + 1e-3
    assert linear["args"]["Input Dims"] == [[5, 4], [3, 4], [3]]
    assert not [p for p in os.listdir(tmp_path) if p != "trace.json"]  # written atomically, nothing left


def _run_schedule(lib, steps, handler, **kw):
    x = lib.ones(3, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with lib.profiler.profile(schedule=lib.profiler.schedule(**kw), on_trace_ready=handler) as prof:
            for _ in range(steps):
                (x * 2).sum().backward()
                prof.step()


@pytest.mark.parametrize("steps,kw", [(12, dict(wait=1, warmup=1, active=3, repeat=2)),
                                      (6, dict(wait=1, warmup=1, active=3)),       # ends inside a cycle
                                      (9, dict(wait=0, warmup=0, active=2, skip_first=1))])
def test_on_trace_ready_calls_match_torch(steps, kw):
    def record(log):
        def handler(prof):
            names = [e.name for e in prof.events()]
            log.append((prof.step_num, names.count("ProfilerStep*"),
                        names.count("autograd::engine::evaluate_function: MulBackward0")))
        return handler
    ours, theirs = [], []
    _run_schedule(ember, steps, record(ours), **kw)
    _run_schedule(torch, steps, record(theirs), **kw)
    assert ours == theirs and ours


def test_tensorboard_trace_handler_files(tmp_path):
    kw = dict(wait=1, warmup=1, active=2, repeat=2)
    _run_schedule(ember, 10, ember.profiler.tensorboard_trace_handler(str(tmp_path / "ours")), **kw)
    _run_schedule(torch, 10, torch.profiler.tensorboard_trace_handler(str(tmp_path / "theirs")), **kw)
    ours, theirs = sorted(os.listdir(tmp_path / "ours")), sorted(os.listdir(tmp_path / "theirs"))
    assert len(ours) == len(theirs) == 2
    pattern = re.escape(f"{socket.gethostname()}_{os.getpid()}") + r"\.\d+\.pt\.trace\.json"
    assert all(re.fullmatch(pattern, name) for name in ours + theirs)
    for name in ours:
        assert any(e["name"] == "aten::mul" for e in json.loads((tmp_path / "ours" / name).read_text())["traceEvents"])
    ember.profiler.tensorboard_trace_handler(str(tmp_path / "gz"), worker_name="w", use_gzip=True)(
        _train_step(ember))
    assert re.fullmatch(r"w\.\d+\.pt\.trace\.json\.gz", os.listdir(tmp_path / "gz")[0])


def test_legacy_profiler_record_function_and_ops_namespace():
    def run(lib):
        x = lib.ones(2, 2)

        @lib.autograd.profiler.record_function("deco")
        def f(t):
            return t.exp()
        with lib.autograd.profiler.profile() as p:
            f(x)
            h = lib.ops.profiler._record_function_enter_new("by_handle")
            x.neg()
            lib.ops.profiler._record_function_exit(h)
        ev = {e.name: e for e in p.function_events}
        return sorted(ev), ev["aten::exp"].cpu_parent.name, ev["aten::neg"].cpu_parent.name, p.key_averages().table()
    ours, theirs = run(ember), run(torch)
    assert ours[:3] == theirs[:3]
    assert _header(ours[3]) == _header(theirs[3])
    for lib in (ember, torch):
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            with lib.autograd.profiler.emit_nvtx():
                pass
        with pytest.warns(UserWarning, match="CUDA is not available, disabling CUDA profiling"):
            with lib.autograd.profiler.profile(use_device="cuda") as p:
                lib.ones(2).exp()
        assert "aten::exp" in [e.name for e in p.function_events]
        with pytest.warns(UserWarning, match="CUDA is not available, disabling CUDA profiling"):
            with lib.profiler.profile(activities=[lib.profiler.ProfilerActivity.CPU,
                                                  lib.profiler.ProfilerActivity.CUDA]) as p:
                lib.ones(2).exp()
        assert "aten::exp" in [e.name for e in p.events()]


def test_namespaces_load_with_ember():
    code = "import ember; print(ember.autograd.profiler.profile.__name__, ember.profiler.profile.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["profile", "profile"], done.stderr


def test_nothing_runs_once_profiling_ends_and_transforms_compose():
    x = ember.tensor([0.5, 1.0], requires_grad=True)
    with ember.profiler.profile() as prof:
        with ember.autograd.forward_ad.dual_level():
            dual = ember.autograd.forward_ad.make_dual(x.detach(), ember.ones(2))
            tangent = ember.autograd.forward_ad.unpack_dual(dual.sin()).tangent
        x.sin().sum().backward()
    assert _function.transform is None and engine.profiler is None
    np.testing.assert_allclose(tangent.numpy(), np.cos([0.5, 1.0]), rtol=1e-6)  # forward AD under the profiler
    np.testing.assert_allclose(x.grad.numpy(), np.cos([0.5, 1.0]), rtol=1e-6)
    assert _counts(prof)["aten::sin"] == 2
    with ember.profiler.record_function("idle"):  # no profile: records nothing, costs nothing
        ember.ones(1).exp()
    assert _counts(prof)["aten::sin"] == 2
