"""Every ember dtype through torch's .pt formats and safetensors, both ways, against torch 2.13 and the
safetensors package: the same bytes, dtypes, shared storages and refusals."""
import io
import pickle
import warnings
import zipfile

import numpy as np
import pytest
import safetensors.torch
import torch

import ember

warnings.filterwarnings("ignore", message="ComplexHalf support is experimental")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "uint64", "float16", "bfloat16", "float32", "float64",
          "complex32", "complex64", "complex128"]
SAFETENSORS = [d for d in DTYPES if d not in ("complex32", "complex128")]  # the spec has C64 only


def _pair(name: str, n: int = 12, seed: int = 0):
    """The same random bit patterns (NaN payloads, infinities, subnormals) as a torch and an ember tensor."""
    raw = np.random.default_rng(seed).integers(0, 256, n * getattr(torch, name).itemsize, dtype=np.uint8)
    if name == "bool":
        raw &= 1
    t = torch.from_numpy(raw.copy()).view(getattr(torch, name)).reshape(3, -1)
    return t, ember.from_numpy(raw.copy()).view(getattr(ember, name)).reshape(3, -1)


def _bytes(x) -> bytes:
    """A tensor's elements' bytes, for ember and torch alike."""
    lib = torch if isinstance(x, torch.Tensor) else ember
    return x.contiguous().reshape(-1).view(lib.uint8).numpy().tobytes()


def _same(e, t) -> None:
    assert str(e.dtype) == str(t.dtype) and tuple(e.shape) == tuple(t.shape)
    assert _bytes(e) == _bytes(t)


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("name", DTYPES)
def test_pt_both_ways_bit_exact_with_shared_views(tmp_path, name, legacy):
    t, e = _pair(name)
    kw = {"_use_new_zipfile_serialization": False} if legacy else {}
    torch.save({"x": t, "row": t[1], "col": t[:, 1:]}, tmp_path / "t.pt", **kw)
    ember.save({"x": e, "row": e[1], "col": e[:, 1:]}, tmp_path / "e.pt", **kw)
    got_e = ember.load(tmp_path / "t.pt")
    if legacy and name in ("uint64", "complex32"):
        # torch writes these as bytes + dtype in the legacy format too, but its legacy reader fails on them: ember's
        # file fails in torch the same way, and ember reads both
        for path in ("t.pt", "e.pt"):
            with pytest.raises(AttributeError, match="UntypedStorage"):
                torch.load(tmp_path / path, weights_only=True)
        _same(ember.load(tmp_path / "e.pt")["col"], got_e["col"])
        _same(got_e["col"], t[:, 1:])
        return
    got_t = torch.load(tmp_path / "e.pt", weights_only=True)
    for k, view in (("x", lambda a: a), ("row", lambda a: a[1]), ("col", lambda a: a[:, 1:])):
        _same(got_e[k], view(t))
        _same(e if k == "x" else view(e), got_t[k])
    # one storage each, as torch's: writing through the base shows in the views
    assert got_t["row"].untyped_storage().data_ptr() == got_t["x"].untyped_storage().data_ptr()
    assert (got_e["row"].storage_offset(), got_e["col"].storage_offset()) == (got_t["row"].storage_offset(), 1)
    got_e["x"].view(ember.uint8).zero_()
    assert set(_bytes(got_e["row"]) + _bytes(got_e["col"])) == {0}
    # ember reads its own file back, and writes the loaded tensors again as torch does
    _same(ember.load(tmp_path / "e.pt")["col"], t[:, 1:])
    ember.save(ember.load(tmp_path / "t.pt"), tmp_path / "again.pt")
    again = torch.load(tmp_path / "again.pt", weights_only=True)
    _same(ember.load(tmp_path / "t.pt")["row"], again["row"])
    assert again["row"].untyped_storage().data_ptr() == again["x"].untyped_storage().data_ptr()


@pytest.mark.parametrize("name", SAFETENSORS)
def test_safetensors_both_ways_bit_exact(tmp_path, name):
    t, e = _pair(name, seed=1)
    ember.save({"w": e, "b": e[0]}, tmp_path / "e.safetensors")
    got_t = safetensors.torch.load_file(tmp_path / "e.safetensors")
    _same(e, got_t["w"])
    _same(e[0], got_t["b"])
    safetensors.torch.save_file({"w": t, "b": t[0].clone()}, tmp_path / "t.safetensors")
    got_e = ember.load(tmp_path / "t.safetensors")
    _same(got_e["w"], t)
    _same(got_e["b"], t[0])
    nested = ember.load(_saved(tmp_path / "n.safetensors", {"opt": [e, (1.5, e[2])]}))  # ember's structure metadata
    _same(nested["opt"][1][1], t[2])


def _saved(path, obj):
    ember.save(obj, path)
    return path


@pytest.mark.parametrize("name", ["complex32", "complex128"])
def test_safetensors_refuses_dtypes_without_a_code_as_safetensors_does(tmp_path, name):
    t, e = _pair(name)
    with pytest.raises(KeyError) as theirs:
        safetensors.torch.save_file({"w": t}, tmp_path / "t.safetensors")
    path = tmp_path / "e.safetensors"
    ember.save({"w": ember.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises(type(theirs.value), match=f"safetensors has no code for torch.{name}.*'w'"):
        ember.save({"w": e}, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["e.safetensors"]  # atomic


def test_safetensors_codes_ember_lacks_say_so(tmp_path):
    safetensors.torch.save_file({"f8": torch.ones(2, dtype=torch.float8_e4m3fn)}, tmp_path / "f8.safetensors")
    with pytest.raises(NotImplementedError, match="F8_E4M3"):
        ember.load(tmp_path / "f8.safetensors")


def test_map_location_and_mmap_keep_the_new_dtypes(tmp_path):
    tensors = {name: _pair(name)[0] for name in ("bfloat16", "complex64", "complex32", "uint64")}
    torch.save(tensors, tmp_path / "t.pt")
    seen = []
    for kw in ({"map_location": "cpu"}, {"map_location": {"cpu": "cpu"}}, {"map_location": torch.device("cpu")},
               {"map_location": lambda s, loc: seen.append(loc)}, {"mmap": True}, {"mmap": True, "map_location": "cpu"}):
        got = ember.load(tmp_path / "t.pt", **kw)
        for k, t in tensors.items():
            _same(got[k], t)
    assert seen == ["cpu"] * 4
    ember.save(ember.load(tmp_path / "t.pt"), tmp_path / "e.pt")  # ember aligns its records: torch can mmap them
    for k, t in torch.load(tmp_path / "e.pt", mmap=True, weights_only=True).items():
        _same(got[k], t)
    for lib in (torch, ember):  # a CPU-only build refuses a CUDA location
        with pytest.raises(RuntimeError, match="CUDA"):
            lib.load(tmp_path / "t.pt", map_location="cuda:0")


def test_big_endian_files_are_swapped_as_torch_does(tmp_path):
    t = {name: _pair(name, seed=2)[0] for name in ("bfloat16", "complex64", "float32", "int16")}
    buf = io.BytesIO()
    torch.save(t, buf)
    src, out = zipfile.ZipFile(io.BytesIO(buf.getvalue())), io.BytesIO()
    keys = {name: str(i) for i, name in enumerate(t)}  # torch numbers storages in pickling order
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data, leaf = src.read(info), info.filename.split("/", 1)[1]
            if leaf == "byteorder":
                data = b"big"
            for name, key in keys.items():
                if leaf == f"data/{key}":
                    unit = t[name].element_size() // (2 if t[name].is_complex() else 1)
                    data = np.frombuffer(data, f"<u{unit}").astype(f">u{unit}").tobytes()
            dst.writestr(info, data)
    (tmp_path / "big.pt").write_bytes(out.getvalue())
    theirs, ours = torch.load(tmp_path / "big.pt"), ember.load(tmp_path / "big.pt")
    for name in t:
        _same(ours[name], theirs[name])
        _same(ours[name], t[name])


def test_bfloat16_module_state_dicts_round_trip_both_ways(tmp_path):
    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 3).to(torch.bfloat16)
    torch.save(lin.state_dict(), tmp_path / "t.pt")
    model = ember.nn.Linear(5, 3).to(ember.bfloat16)
    model.load_state_dict(ember.load(tmp_path / "t.pt"))
    _same(model.weight.detach(), lin.weight.detach())
    assert model.weight.requires_grad and model.weight.dtype is ember.bfloat16
    into_float = (ember.nn.Linear(5, 3), torch.nn.Linear(5, 3))  # load_state_dict converts, as torch's
    into_float[0].load_state_dict(ember.load(tmp_path / "t.pt"))
    into_float[1].load_state_dict(torch.load(tmp_path / "t.pt"))
    _same(into_float[0].weight.detach(), into_float[1].weight.detach())
    for path in (tmp_path / "e.pt", tmp_path / "e.safetensors"):
        ember.save(model.state_dict(), path)
        back = torch.nn.Linear(5, 3).to(torch.bfloat16)
        load = safetensors.torch.load_file if path.suffix == ".safetensors" else torch.load
        back.load_state_dict(load(path))
        _same(model.bias.detach(), back.bias.detach())
        fresh = ember.nn.Sequential(ember.nn.Linear(5, 3)).to(ember.bfloat16)
        fresh[0].load_state_dict(ember.load(path))
        _same(fresh[0].weight.detach(), lin.weight.detach())
    # a bfloat16 parameter saved whole keeps its class and requires_grad, in both libraries
    ember.save({"p": model.weight}, tmp_path / "p.pt")
    p = torch.load(tmp_path / "p.pt")["p"]
    assert isinstance(p, torch.nn.Parameter) and p.dtype is torch.bfloat16 and p.requires_grad
    torch.save({"p": lin.weight}, tmp_path / "tp.pt")
    assert isinstance(ember.load(tmp_path / "tp.pt")["p"], ember.nn.Parameter)


@pytest.mark.parametrize("name", ["complex32", "complex64", "complex128"])
def test_lazy_conjugate_and_negative_views_load_with_their_values(tmp_path, name):
    t = _pair(name, seed=3)[0]
    views = {"conj": t.conj(), "neg": torch._neg_view(t)}
    if name != "complex32":  # torch cannot resolve both bits of a complex32 tensor
        views["both"] = torch._neg_view(t).conj()
    torch.save(views, tmp_path / "t.pt")
    ours, theirs = ember.load(tmp_path / "t.pt"), torch.load(tmp_path / "t.pt")
    for k in theirs:
        assert ours[k].is_conj() == theirs[k].is_conj()
        _same(ours[k].resolve_conj(), theirs[k].resolve_conj().resolve_neg())
    ember.save(ours, tmp_path / "e.pt")
    for k, v in torch.load(tmp_path / "e.pt").items():
        _same(ours[k].resolve_conj(), v)


def _v3_pickle(dtype_global: bytes) -> bytes:
    """A torch zip checkpoint whose one tensor is rebuilt by _rebuild_tensor_v3 with the given dtype global."""
    buf = io.BytesIO()
    torch.save({"a": torch.ones(2, dtype=torch.uint64)}, buf)
    src, out = zipfile.ZipFile(io.BytesIO(buf.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data.replace(b"ctorch\nuint64\n", dtype_global) if info.filename.endswith(".pkl")
                         else data)
    return out.getvalue()


@pytest.mark.parametrize("glob, ember_error", [
    (b"ctorch\nfloat32\n", None),                     # a different dtype over the same bytes: allowed
    (b"ctorch\nfloat8_e5m2\n", NotImplementedError),  # allowed by torch, absent from ember
    (b"cbuiltins\nprint\n", pickle.UnpicklingError),  # never
])
def test_rebuild_v3_dtype_argument_is_checked(tmp_path, glob, ember_error):
    path = tmp_path / "v3.pt"
    path.write_bytes(_v3_pickle(glob))
    if ember_error is None:
        _same(ember.load(path)["a"], torch.load(path)["a"])
        return
    with pytest.raises(ember_error):
        ember.load(path)
    if ember_error is pickle.UnpicklingError:
        with pytest.raises(pickle.UnpicklingError):
            torch.load(path)
