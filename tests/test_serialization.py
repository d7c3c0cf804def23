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
        except (SafetensorsError, TypeError, KeyError) as e:
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
