"""PyTorch's .pt/.pth checkpoints both ways: files torch 2.13 writes load in ember, files ember writes load in torch."""
import io
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import ember
from ember.serialization import CheckpointError

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _values(dtype: str) -> np.ndarray:
    a = np.array([[0, 1, -2], [3, -4, 5]])
    return (a > 0) if dtype == "bool" else a.astype(dtype)


def _torch_file(tmp_path, obj, fmt: str):
    p = tmp_path / ("t.safetensors" if fmt == "safetensors" else "t.pt")
    if fmt == "safetensors":
        save_file(obj, str(p))
    else:
        torch.save(obj, p, _use_new_zipfile_serialization=(fmt == "zip"))
    return p


def _same(e, t):
    """ember value ``e`` equals torch value ``t``: same structure, dtypes and numbers."""
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), type(e)
        assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1] and tuple(e.shape) == tuple(t.shape)
        assert e.requires_grad == t.requires_grad
        assert isinstance(e, ember.nn.Parameter) == isinstance(t, torch.nn.Parameter)
        np.testing.assert_array_equal(e.detach().numpy(), t.detach().numpy())
    elif isinstance(t, dict):
        assert type(e) is type(t) and list(e) == list(t)
        for k in t:
            _same(e[k], t[k])
    elif isinstance(t, (list, tuple)):
        assert type(e) is type(t) and len(e) == len(t)
        for a, b in zip(e, t):
            _same(a, b)
    else:
        assert type(e) is type(t) and (e == t or (e != e and t != t))


@pytest.mark.parametrize("fmt", ["zip", "legacy", "safetensors"])
def test_torch_files_of_every_dtype_load_with_equal_values(tmp_path, fmt):
    obj = {d: torch.from_numpy(_values(d)) for d in DTYPES}
    obj["scalar"] = torch.tensor(2.5, dtype=torch.float64)
    obj["empty"] = torch.zeros(0, 3)
    if fmt != "safetensors":  # (safetensors refuses non-contiguous tensors)
        obj["strided"] = torch.arange(12.0).reshape(3, 4).t().contiguous().t()  # column-major layout
    p = _torch_file(tmp_path, obj, fmt)
    ref = load_file(str(p)) if fmt == "safetensors" else torch.load(p)
    back = ember.load(p)
    _same(back, ref)
    for k in obj:
        _same(back[k], obj[k])
    _same(ember.load(p, weights_only=False), torch.load(p, weights_only=False))


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_torch_nested_structures_parameters_and_numbers(tmp_path, fmt):
    obj = {"model": OrderedDict(w=torch.nn.Parameter(torch.randn(2, 3)), b=torch.ones(3)),
           "list": [torch.arange(3), 1, 2.5, None, True, "text", (4, torch.zeros(1, dtype=torch.int8))],
           "nested": {"a": {"b": [[torch.ones(2, 2)]]}, 7: "int key"},
           "big": 2 ** 70, "nan": float("nan"), "bytes": b"\x00\xff", "size": torch.Size([2, 3])}
    back = ember.load(_torch_file(tmp_path, obj, fmt))
    _same({k: v for k, v in back.items() if k != "size"}, {k: v for k, v in obj.items() if k != "size"})
    assert isinstance(back["size"], ember.Size) and back["size"] == (2, 3)


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_views_share_memory_with_their_base_after_load(tmp_path, fmt):
    base = torch.arange(12.0).reshape(3, 4)
    obj = {"base": base, "row": base[1], "col": base[:, 2], "t": base.t(), "tail": base.view(-1)[5:]}
    p = _torch_file(tmp_path, obj, fmt)
    t, e = torch.load(p), ember.load(p)
    for k in obj:
        assert tuple(e[k].stride()) == tuple(t[k].stride()) and e[k].storage_offset() == t[k].storage_offset()
    for lib, d in ((torch, t), (ember, e)):
        d["row"].mul_(10)
        d["col"].add_(100)
    _same(e, t)


def test_ember_views_are_saved_sharing_one_storage(tmp_path):
    base = ember.arange(12.0).reshape(3, 4)
    p = tmp_path / "v.pt"
    ember.save({"base": base, "row": base[1], "col": base[:, 2], "t": base.t()}, p)
    t = torch.load(p)
    assert len({v.untyped_storage().data_ptr() for v in t.values()}) == 1
    assert t["col"].storage_offset() == 2 and t["col"].stride() == (4,) and t["t"].stride() == (1, 4)
    np.testing.assert_array_equal(t["col"].numpy(), base[:, 2].numpy())


@pytest.mark.parametrize("suffix", [".pt", ".pth", "buffer"])
def test_ember_files_of_every_dtype_load_in_torch(tmp_path, suffix):
    obj = {d: ember.tensor(_values(d)) for d in DTYPES}
    obj.update(scalar=ember.tensor(3, dtype=ember.int64), empty=ember.zeros(0, 2), list=[1, (2.5, "x")],
               param=ember.nn.Parameter(ember.ones(2)), od=OrderedDict(a=ember.ones(1)))
    f = io.BytesIO() if suffix == "buffer" else tmp_path / f"e{suffix}"
    ember.save(obj, f)
    if suffix == "buffer":
        f.seek(0)
        assert f.getvalue()[:4] == b"PK\x03\x04"
    t = torch.load(f, weights_only=True)
    _same(ember.load(io.BytesIO(f.getvalue()) if suffix == "buffer" else f), t)
    for k, v in obj.items():
        if isinstance(v, ember.Tensor):
            np.testing.assert_array_equal(t[k].detach().numpy(), v.detach().numpy())
    assert isinstance(t["param"], torch.nn.Parameter) and t["param"].requires_grad
    assert type(t["od"]) is OrderedDict and t["list"] == [1, (2.5, "x")]


def test_ember_legacy_format_loads_in_torch(tmp_path):
    p = tmp_path / "legacy.pt"
    ember.save({"w": ember.arange(6.0).reshape(2, 3)}, p, _use_new_zipfile_serialization=False)
    assert p.read_bytes()[:2] == b"\x80\x02"
    np.testing.assert_array_equal(torch.load(p)["w"].numpy(), np.arange(6.0).reshape(2, 3))


def _models():
    e = ember.nn.Sequential(ember.nn.Linear(6, 8), ember.nn.BatchNorm1d(8), ember.nn.ReLU(), ember.nn.Linear(8, 3))
    t = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    return e, t


def test_state_dict_both_ways_with_strict_load(tmp_path):
    x = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)
    e, t = _models()
    e(ember.tensor(x))  # BatchNorm's running statistics move
    e.eval()
    ember.save(e.state_dict(), tmp_path / "e.pt")
    t.load_state_dict(torch.load(tmp_path / "e.pt", weights_only=True), strict=True)
    t.eval()
    np.testing.assert_allclose(t(torch.tensor(x)).detach().numpy(), e(ember.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    e2, t2 = _models()
    t2(torch.tensor(x))
    t2.eval()
    torch.save(t2.state_dict(), tmp_path / "t.pth")
    e2.load_state_dict(ember.load(tmp_path / "t.pth"))
    e2.eval()
    np.testing.assert_allclose(e2(ember.tensor(x)).detach().numpy(), t2(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_adam_state_dict_round_trips_through_torch(tmp_path):
    x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    e, t = ember.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in e.state_dict().items()})
    eo, to = ember.optim.Adam(e.parameters(), lr=0.1), torch.optim.Adam(t.parameters(), lr=0.1)
    for _ in range(2):
        eo.zero_grad()
        (e(ember.tensor(x)) ** 2).sum().backward()
        eo.step()
    ember.save(eo.state_dict(), tmp_path / "opt.pt")
    t.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in e.state_dict().items()})
    to.load_state_dict(torch.load(tmp_path / "opt.pt", weights_only=True))
    for opt, model, lib in ((eo, e, ember), (to, t, torch)):
        opt.zero_grad()
        (model(lib.tensor(x)) ** 2).sum().backward()
        opt.step()
    for k, v in t.state_dict().items():
        np.testing.assert_allclose(e.state_dict()[k].detach().numpy(), v.numpy(), rtol=1e-6)
    torch.save(to.state_dict(), tmp_path / "topt.pt")
    back = ember.load(tmp_path / "topt.pt")
    _same(back, to.state_dict())
    eo.load_state_dict(back)


def test_whole_modules_and_other_objects_need_weights_only_false(tmp_path):
    model = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.Tanh(), ember.nn.Linear(4, 2))
    obj = {"model": model, "array": np.arange(3), "set": {1, 2}}
    p = tmp_path / "m.pt"
    ember.save(obj, p)
    for load in (ember.load, torch.load):
        with pytest.raises(pickle.UnpicklingError, match="weights_only"):
            load(p)
    back = ember.load(p, weights_only=False)
    x = ember.randn(2, 3)
    np.testing.assert_array_equal(back["model"](x).detach().numpy(), model(x).detach().numpy())
    assert isinstance(back["model"][0].weight, ember.nn.Parameter)
    np.testing.assert_array_equal(back["array"], np.arange(3))
    assert back["set"] == {1, 2}
    ember.save(model, p)
    assert isinstance(ember.load(p, weights_only=False), ember.nn.Sequential)


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


def test_safe_globals_allow_a_class_as_in_torch(tmp_path):
    p = tmp_path / "p.pt"
    torch.save({"p": Point(1, torch.ones(2))}, p)
    ember.save({"p": Point(1, ember.ones(2))}, tmp_path / "e.pt")
    for f in (p, tmp_path / "e.pt"):
        with pytest.raises(pickle.UnpicklingError, match="Point"):
            ember.load(f)
        with pytest.raises(pickle.UnpicklingError, match="Point"):
            torch.load(f)
        with ember.serialization.safe_globals([Point]), torch.serialization.safe_globals([Point]):
            assert ember.serialization.get_safe_globals() == [Point]
            pt, pe = torch.load(f), ember.load(f)
        assert pe["p"].__dict__.keys() == pt["p"].__dict__.keys()
        assert ember.serialization.get_safe_globals() == []
        e = pe["p"]
        assert type(e) is Point and e.x == 1 and e.y.tolist() == [1.0, 1.0]
    ember.serialization.add_safe_globals([Point])
    try:
        assert ember.load(p)["p"].x == 1
    finally:
        ember.serialization.clear_safe_globals()
    assert ember.serialization.get_safe_globals() == []


def test_map_location_and_mmap(tmp_path):
    p = tmp_path / "t.pt"
    w = torch.arange(4.0)
    obj = {"w": w, "v": w[1:], "other": torch.ones(2, dtype=torch.int16)}
    torch.save(obj, p)
    seen = {ember: [], torch: []}
    _same(ember.load(p, map_location=ember.device("cpu")), torch.load(p, map_location=torch.device("cpu")))
    for loc in ("cpu", {"cpu": "cpu"}):
        _same(ember.load(p, map_location=loc), torch.load(p, map_location=loc))
    for lib in (ember, torch):
        lib.load(p, map_location=lambda storage, where: seen[lib].append(where) or storage)
    assert seen[ember] == seen[torch] == ["cpu", "cpu"]  # once per storage
    mm = ember.load(p, mmap=True)
    _same(mm, torch.load(p, mmap=True))
    mm["v"].add_(1)  # copy-on-write: the view and its base change, the file does not
    assert mm["w"].tolist() == [0.0, 2.0, 3.0, 4.0]
    _same(ember.load(p), torch.load(p))
    for lib in (ember, torch):
        with pytest.raises(RuntimeError):
            lib.load(p, map_location="cuda:0")
    legacy = tmp_path / "l.pt"
    torch.save(obj, legacy, _use_new_zipfile_serialization=False)
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="mmap"):
            lib.load(legacy, mmap=True)


def test_format_is_told_by_content_not_extension(tmp_path):
    zipped, legacy, st = tmp_path / "a.safetensors", tmp_path / "b.bin", tmp_path / "c.pt"
    torch.save({"x": torch.ones(2)}, zipped)
    torch.save({"x": torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    save_file({"x": torch.ones(2)}, str(st))
    for p in (zipped, legacy, st):
        assert ember.load(p)["x"].tolist() == [1.0, 1.0]
    with open(zipped, "rb") as fh:
        assert ember.load(fh)["x"].tolist() == [1.0, 1.0]


def test_corrupt_files_raise_one_class_that_is_what_torch_raises(tmp_path):
    p = tmp_path / "t.pt"
    torch.save({"x": torch.ones(100)}, p)
    blob = p.read_bytes()
    for bad in (blob[:len(blob) // 2], b"", b"\x80\x02garbage", blob[:60] + b"\xff" * 40 + blob[100:]):
        p.write_bytes(bad)
        with pytest.raises(CheckpointError) as info:
            ember.load(p)
        try:
            torch.load(p)
        except Exception as e:  # torch raises RuntimeError (zip) or UnpicklingError (pickle) here, or others
            assert isinstance(info.value, (RuntimeError, pickle.UnpicklingError))
            if isinstance(e, (RuntimeError, pickle.UnpicklingError)):
                assert isinstance(info.value, type(e))


def test_dtypes_ember_lacks_raise_not_implemented(tmp_path):
    p = tmp_path / "f8.pt"
    torch.save({"w": torch.ones(2, dtype=torch.float8_e4m3fn)}, p)  # torch's bytes + dtype form (v3)
    with pytest.raises(NotImplementedError, match="float8_e4m3fn"):
        ember.load(p)


def test_whole_modules_saved_by_torch_load_as_ember_modules(tmp_path):
    x = np.random.default_rng(3).standard_normal((2, 3)).astype(np.float32)
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    torch.save(t, tmp_path / "t.pt")
    torch.save(t, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(pickle.UnpicklingError, match="Sequential"):
        ember.load(tmp_path / "t.pt")
    legacy = ember.load(tmp_path / "legacy.pt", weights_only=False)
    classes = [ember.nn.Sequential, ember.nn.Linear, ember.nn.ReLU]
    with ember.serialization.safe_globals(classes), torch.serialization.safe_globals([type(m) for m in t.modules()]):
        models = (ember.load(tmp_path / "t.pt"), ember.load(tmp_path / "t.pt", weights_only=False))
        want = torch.load(tmp_path / "t.pt")(torch.tensor(x)).detach().numpy()
    for e in models + (legacy,):
        assert isinstance(e, ember.nn.Sequential)
        np.testing.assert_allclose(e(ember.tensor(x)).detach().numpy(), want, rtol=1e-6)
