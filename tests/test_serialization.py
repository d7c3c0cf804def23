"""ember.save / ember.load: safetensors round trips, torch interoperability, hostile files."""
import os
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import ember
from ember.serialization import SafetensorsError


def _state():
    rng = np.random.default_rng(0)
    return {"w": ember.tensor(rng.standard_normal((3, 4)).astype(np.float32)),
            "b": ember.tensor(rng.standard_normal(4)),
            "steps": ember.tensor(7),
            "mask": ember.tensor([True, False]),
            "half": ember.tensor([1.5, -2.0], dtype=ember.float16),
            "bytes": ember.tensor([1, 255], dtype=ember.uint8),
            "empty": ember.zeros(0, 3)}


def test_round_trip_keeps_values_dtypes_shapes(tmp_path):
    p = tmp_path / "s.safetensors"
    ember.save(_state(), p)
    back = ember.load(p)
    for k, v in _state().items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())


def test_torch_reads_ember_files_and_ember_reads_torch_files(tmp_path):
    p = tmp_path / "e.safetensors"
    ember.save(_state(), p)
    t = load_file(str(p))
    for k, v in _state().items():
        np.testing.assert_array_equal(t[k].numpy(), v.numpy())
    q = tmp_path / "t.safetensors"
    src = {"a": torch.arange(6, dtype=torch.float32).reshape(2, 3), "i": torch.tensor([1, 2], dtype=torch.int32)}
    save_file(src, str(q))
    back = ember.load(q)
    for k, v in src.items():
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())
        assert str(back[k].dtype).split(".")[-1] == str(v.dtype).split(".")[-1]


def test_nested_structures_and_optimizer_state_round_trip(tmp_path):
    w = ember.tensor([1.0, -2.0, 3.0], requires_grad=True)
    opt = ember.optim.Adam([w], lr=0.1, betas=(0.8, 0.9))
    for _ in range(3):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    p = tmp_path / "opt.safetensors"
    ember.save(opt.state_dict(), p)
    sd = ember.load(p)
    assert sd["param_groups"][0]["betas"] == (0.8, 0.9)
    assert sd["param_groups"][0]["params"] == [0]
    assert set(sd["state"]) == {0}
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].numpy(), opt.state[w]["exp_avg"].numpy())
    w2 = ember.tensor(w.detach().numpy().copy(), requires_grad=True)
    opt2 = ember.optim.Adam([w2], lr=0.1)
    opt2.load_state_dict(sd)
    for o, t in ((opt, w), (opt2, w2)):
        o.zero_grad()
        (t * t).sum().backward()
        o.step()
    np.testing.assert_array_equal(w.detach().numpy(), w2.detach().numpy())
    odd = {"t": (1, 2.5, None, "x"), 3: [ember.tensor(1.0)], "inf": float("inf")}
    ember.save(odd, p)
    back = ember.load(p)
    assert back["t"] == (1, 2.5, None, "x") and back["inf"] == float("inf") and back[3][0].item() == 1.0


def test_refuses_objects_it_cannot_store_and_leaves_no_partial_file(tmp_path):
    p = tmp_path / "keep.safetensors"
    ember.save({"a": ember.ones(2)}, p)
    before = p.read_bytes()
    with pytest.raises(TypeError, match="no pickle"):
        ember.save({"a": ember.ones(2), "f": object()}, p)
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.safetensors"]


def test_load_never_unpickles(tmp_path, monkeypatch):
    p = tmp_path / "s.safetensors"
    ember.save({"x": ember.ones(2), "n": [1, 2]}, p)

    def refuse(*a, **k):
        raise AssertionError("pickle used")
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    assert ember.load(p)["n"] == [1, 2]


def _raw(header: dict, data: bytes = b"") -> bytes:
    import json
    h = json.dumps(header).encode()
    return len(h).to_bytes(8, "little") + h + data


@pytest.mark.parametrize("blob,match", [
    (b"", "too short"),
    ((10 ** 12).to_bytes(8, "little") + b"{}", "exceeds the file size"),
    ((5).to_bytes(8, "little") + b"{nope", "not valid JSON"),
    (_raw([1, 2]), "not a JSON object"),
    (_raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4), "outside the data"),
    (_raw({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8), "needs 12 bytes"),
    (_raw({"a": {"dtype": "Q99", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4), "unsupported dtype"),
    (_raw({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4), "invalid shape"),
    (_raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
           "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8), "overlaps"),
    (_raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 9), "trailing"),
    (_raw({"a": {"dtype": "F32", "shape": [1]}}, b"\0" * 4), "exactly dtype"),
    (_raw({"__metadata__": {"k": 1}}), "strings to strings"),
])
def test_malformed_files_raise_clear_errors(tmp_path, blob, match):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(blob)
    with pytest.raises(SafetensorsError, match=match) as info:
        ember.load(p)
    assert "bad.safetensors" in str(info.value)


def test_every_truncation_is_rejected(tmp_path):
    good = tmp_path / "g.safetensors"
    ember.save({"w": ember.ones(3, 2), "b": ember.zeros(2)}, good)
    blob = good.read_bytes()
    bad = tmp_path / "t.safetensors"
    for n in range(len(blob)):
        bad.write_bytes(blob[:n])
        with pytest.raises(SafetensorsError):
            ember.load(bad)


def test_random_byte_flips_never_crash(tmp_path):
    good = tmp_path / "g.safetensors"
    ember.save({"w": ember.ones(3, 2), "step": ember.tensor(3), "meta": [1, (2, "x")]}, good)
    blob = bytearray(good.read_bytes())
    rng = np.random.default_rng(0)
    p = tmp_path / "f.safetensors"
    outcomes = {"ok": 0, "rejected": 0}
    for _ in range(400):
        b = bytearray(blob)
        for pos in rng.integers(0, len(b), size=rng.integers(1, 4)):
            b[pos] = rng.integers(0, 256)
        p.write_bytes(bytes(b))
        try:
            ember.load(p)
            outcomes["ok"] += 1
        except SafetensorsError as e:
            assert str(e)
            outcomes["rejected"] += 1
    assert outcomes["rejected"] > 0 and outcomes["ok"] > 0


def _models():
    import torch.nn as tnn
    e = ember.nn.Sequential(ember.nn.Linear(6, 8), ember.nn.BatchNorm1d(8), ember.nn.ReLU(), ember.nn.Linear(8, 3))
    t = tnn.Sequential(tnn.Linear(6, 8), tnn.BatchNorm1d(8), tnn.ReLU(), tnn.Linear(8, 3))
    return e, t


def _train_a_bit(model, x):
    model.train()
    model(x)  # updates BatchNorm's running statistics and num_batches_tracked
    model.eval()


def test_module_state_dict_loads_into_torch_and_back(tmp_path):
    e, t = _models()
    x = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)
    _train_a_bit(e, ember.tensor(x))
    p = tmp_path / "model.safetensors"
    ember.save(e.state_dict(), p)
    t.load_state_dict(load_file(str(p)))
    t.eval()
    np.testing.assert_allclose(e(ember.tensor(x)).detach().numpy(), t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    # and the reverse: torch's file into a fresh ember model
    e2, t2 = _models()
    _train_a_bit(t2, torch.tensor(x))
    q = tmp_path / "torch.safetensors"
    save_file(t2.state_dict(), str(q))
    e2.load_state_dict(ember.load(q))
    e2.eval()
    np.testing.assert_allclose(e2(ember.tensor(x)).detach().numpy(), t2(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    assert e2.state_dict()["1.num_batches_tracked"].item() == 1


# ------------------------------------------------------------------ issue 12: no lost tensor, hostile files
def _torch_round_trip(obj, tmp_path):
    """What torch.save + torch.load give back for the same structure with torch tensors."""
    conv = _to_torch(obj)
    torch.save(conv, tmp_path / "ref.pt")
    return torch.load(tmp_path / "ref.pt")


def _to_torch(obj):
    if isinstance(obj, ember.Tensor):
        return torch.from_numpy(obj.numpy().copy())
    if isinstance(obj, dict):
        return type(obj)((k, _to_torch(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_torch(v) for v in obj)
    return obj


def _assert_same(e, t):
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor) and e.shape == tuple(t.shape)
        assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        np.testing.assert_array_equal(e.numpy(), t.numpy())
        return
    assert type(e) is type(t), (type(e), type(t))
    if isinstance(t, dict):
        assert list(e) == list(t)
        for k in t:
            _assert_same(e[k], t[k])
    elif isinstance(t, (list, tuple)):
        assert len(e) == len(t)
        for a, b in zip(e, t):
            _assert_same(a, b)
    else:
        assert e == t or (e != e and t != t)


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
@pytest.mark.parametrize("make", [lambda a, b: {"a.b": a, "a": {"b": b}}, lambda a, b: {"x": [a], "x.0": b},
                                  lambda a, b: {"t": (a,), "t.0": [b], "tensor": a, "": b},
                                  lambda a, b: {1: a, "1": b, "key0": {"__tensor__": a, "x": b}},
                                  lambda a, b: {"__metadata__": a, "x": b}, lambda a, b: {"": [a, b]}])
def test_colliding_paths_keep_every_tensor_as_torch_does(tmp_path, suffix, make):
    obj = make(ember.tensor([1.0, 2.0]), ember.tensor([3, 4, 5]))
    ember.save(obj, tmp_path / f"s{suffix}")
    _assert_same(ember.load(tmp_path / f"s{suffix}"), _torch_round_trip(obj, tmp_path))


def _structures():
    from hypothesis import strategies as st
    leaves = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(width=64),
                       st.text(max_size=5),
                       st.builds(lambda v: ember.tensor(v), st.lists(st.floats(-1e3, 1e3, width=32), max_size=3)),
                       st.builds(lambda n: ember.arange(n, dtype=ember.int16), st.integers(0, 3)))
    keys = st.one_of(st.text(alphabet="ab._#_0tensor", max_size=8), st.integers(-3, 3))
    return st.recursive(leaves, lambda kids: st.one_of(st.lists(kids, max_size=3), st.tuples(kids, kids),
                                                       st.dictionaries(keys, kids, max_size=3)), max_leaves=12)


def test_any_nesting_round_trips_exactly(tmp_path):
    from hypothesis import given, settings, HealthCheck

    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_structures())
    def check(obj):
        for suffix in (".safetensors", ".pt"):
            ember.save(obj, tmp_path / f"h{suffix}")
            ref = _torch_round_trip(obj, tmp_path)
            _assert_same(ember.load(tmp_path / f"h{suffix}"), ref)
        _assert_same(ember.load(tmp_path / "h.pt"), torch.load(tmp_path / "h.pt"))
    check()


def _no_temporaries(folder) -> bool:
    return not [n for n in os.listdir(folder) if "ember-tmp" in n]


class _Interrupting(dict):
    def items(self):
        raise KeyboardInterrupt

    def __reduce__(self):
        raise KeyboardInterrupt


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_interrupted_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, suffix):
    p = tmp_path / f"keep{suffix}"
    ember.save({"a": ember.ones(2)}, p)
    before = p.read_bytes()
    unstorable = {"f": object()} if suffix != ".pt" else {"f": lambda: 0}
    for bad in ({"a": ember.ones(2), "f": _Interrupting(x=1)}, unstorable):
        with pytest.raises((KeyboardInterrupt, TypeError, pickle.PicklingError, AttributeError)):
            ember.save(bad, p)
        assert p.read_bytes() == before and _no_temporaries(tmp_path)


def test_next_save_removes_temporaries_of_killed_saves(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    host = os.uname().nodename
    stale = tmp_path / f".m.pt.ember-tmp-{host}-{dead.pid}-0123abcd"
    alive = tmp_path / f".m.pt.ember-tmp-{host}-{os.getppid()}-0123abcd"  # a live process's save in progress
    elsewhere = tmp_path / f".m.pt.ember-tmp-{host}x-{dead.pid}-0123abcd"  # another machine's: its pids differ
    other = tmp_path / ".unrelated.tmp"
    for f in (stale, alive, elsewhere, other):
        f.write_bytes(b"x")
    ember.save({"a": ember.ones(1)}, tmp_path / "other.safetensors")
    assert not stale.exists() and alive.exists() and elsewhere.exists() and other.exists()
    alive.unlink()
    elsewhere.unlink()
    # a save really killed mid-write (SIGKILL: no cleanup can run in it)
    code = ("import ember, sys\nx = {'w': ember.zeros(4_000_000)}\nprint('ready', flush=True)\n"
            "while True:\n    ember.save(x, sys.argv[1])\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "big.pt")], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.3)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    ember.save({"a": ember.ones(1)}, tmp_path / "after.pt")
    assert _no_temporaries(tmp_path)


def test_file_mode_follows_umask_and_existing_files_as_torch(tmp_path):
    old = os.umask(0o027)
    try:
        for name in ("t.pt", "e.pt", "e.safetensors"):
            (torch.save if name == "t.pt" else ember.save)({"a": (torch if name == "t.pt" else ember).ones(1)},
                                                          tmp_path / name)
        modes = {n: os.stat(tmp_path / n).st_mode & 0o777 for n in ("t.pt", "e.pt", "e.safetensors")}
        assert modes == {"t.pt": 0o640, "e.pt": 0o640, "e.safetensors": 0o640}
        for name in ("t.pt", "e.pt"):
            os.chmod(tmp_path / name, 0o604)
        torch.save({"a": torch.ones(1)}, tmp_path / "t.pt")
        ember.save({"a": ember.ones(1)}, tmp_path / "e.pt")
        assert os.stat(tmp_path / "e.pt").st_mode & 0o777 == os.stat(tmp_path / "t.pt").st_mode & 0o777 == 0o604
    finally:
        os.umask(old)


def test_saving_to_a_symlink_writes_its_target_as_torch(tmp_path):
    for lib, name in ((torch, "t"), (ember, "e")):
        (tmp_path / f"{name}_target.pt").write_bytes(b"old")
        os.symlink(f"{name}_target.pt", tmp_path / f"{name}_link.pt")
        os.symlink(f"{name}_missing.pt", tmp_path / f"{name}_dangling.pt")
        for link in (f"{name}_link.pt", f"{name}_dangling.pt"):
            lib.save({"a": lib.arange(3)}, tmp_path / link)
            assert (tmp_path / link).is_symlink()
        for target in (f"{name}_target.pt", f"{name}_missing.pt"):
            assert lib.load(tmp_path / target)["a"].tolist() == [0, 1, 2]
    assert _no_temporaries(tmp_path)


def _st_with_structure(text: bytes, tensors: bytes = b"") -> bytes:
    head = b'{"__metadata__":{"ember.structure":"' + text.replace(b'"', b'\\"') + b'"}' + tensors + b"}"
    return len(head).to_bytes(8, "little") + head


@pytest.mark.parametrize("structure", [b'{"__tensor__": "nope"}', b'{"__tensor__": 5}', b'{"__items__": 3}',
                                       b'{"__items__": [[[1], 2]]}', b'{"__items__": [[1]]}',
                                       b'{"__float__": "1e999x"}', b'{"__tuple__": {}}',
                                       b"[" * 5000 + b"]" * 5000, b"[" * 300 + b"]" * 300, b'{"a": '])
def test_crafted_structures_raise_checkpoint_error(tmp_path, structure):
    p = tmp_path / "c.safetensors"
    p.write_bytes(_st_with_structure(structure))
    with pytest.raises(SafetensorsError):
        ember.load(p)


def test_huge_structure_metadata_is_rejected_cheaply(tmp_path):
    import time
    import tracemalloc
    p = tmp_path / "huge.safetensors"
    body, chunk = b'{"__metadata__":{"ember.structure":"[', b"[]," * 1_000_000
    tail = b'[]]"}}'
    with open(p, "wb") as fh:  # 90 MiB: 31 million empty lists, written in pieces
        fh.write((len(body) + 31 * len(chunk) + len(tail)).to_bytes(8, "little") + body)
        for _ in range(31):
            fh.write(chunk)
        fh.write(tail)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(SafetensorsError, match="containers"):
            ember.load(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * os.path.getsize(p) and time.perf_counter() - t0 < 10
