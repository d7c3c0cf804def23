"""Hostile checkpoints: malicious pickles are refused without running or importing anything, and every
truncated or mutated file raises the one corrupt-file class (CheckpointError, an UnpicklingError and a RuntimeError)."""
import builtins
import importlib
import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

import ember
from ember.serialization import CheckpointError


def _zip(pkl: bytes, records: dict | None = None) -> bytes:
    """A torch-style zip checkpoint holding ``pkl`` as its data.pkl."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/byteorder", "little")
        for name, data in (records or {}).items():
            zf.writestr(f"archive/data/{name}", data)
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def _malicious(marker: str) -> dict[str, bytes]:
    cmd = f"touch {marker}"

    class System:
        def __reduce__(self):
            return os.system, (cmd,)

    class Eval:
        def __reduce__(self):
            return eval, (f"open({marker!r}, 'w')",)

    class Exec:
        def __reduce__(self):
            return exec, (f"open({marker!r}, 'w')",)

    out = {f"{c.__name__}-p{p}": pickle.dumps({"x": c()}, protocol=p)
           for c in (System, Eval, Exec) for p in (0, 2, 4, 5)}
    m, c = marker.encode(), cmd.encode()
    out.update({
        "getattr-reduce": b"\x80\x02cbuiltins\ngetattr\nccollections\nOrderedDict\nX\x08\x00\x00\x00__init__\x86R.",
        "dotted-global": b"\x80\x02ccollections\nOrderedDict.__init__.__globals__\n.",
        "rebuild-globals": b"\x80\x02ctorch._utils\n_rebuild_tensor_v2.__globals__\n.",
        "stack-global-memo": (b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93C" + bytes([len(c)]) + c
                              + b"\x85R."),
        "inst": b"(S'" + c + b"'\nios\nsystem\n.",
        "obj-allowed-class": b"\x80\x02(ccollections\nOrderedDict\no.",
        "obj-system": b"\x80\x02(cos\nsystem\nX" + len(c).to_bytes(4, "little") + c + b"o.",
        "build-dtype": b"\x80\x02ctorch\nfloat32\n}X\x02\x00\x00\x00npK\x01sb.",
        "build-size": b"\x80\x02ctorch\nSize\n)R}X\x03\x00\x00\x00boomK\x01sb.",
        "build-tensor-state": b"\x80\x02ctorch\nTensor\n)R}X\x05\x00\x00\x00_dataK\x01sb.",
        "codecs-rot13": b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x05\x00\x00\x00rot13\x86R.",
        "bytearray-bomb": b"\x80\x02cbuiltins\nbytearray\nJ\xff\xff\xff\x7f\x85R.",
        "from-type-odict": (b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\nccollections\nOrderedDict\n"
                            b"ctorch\nTensor\n)}(tR."),
        "newobj-tensor": b"\x80\x02ctorch\nTensor\n)\x81.",
        "param-state-hooks": b"\x80\x02ctorch._utils\n_rebuild_parameter_with_state\n(ctorch\nTensor\n)R\x89}}X\x06"
                             b"\x00\x00\x00_hooksctorch._utils\n_rebuild_tensor\nstR.",
        "ext1": b"\x80\x02\x82\x01.",
        "reduce-dtype": b"\x80\x02ctorch\nfloat32\n)R.",
        "pid-not-storage": b"\x80\x02X\x04\x00\x00\x00evil\x85Q.",
        "pid-int": b"\x80\x02K\x01Q.",
        "pid-nowhere": b"\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x05\x00\x00\x00nokeyX\x03\x00\x00"
                       b"\x00cpuK\x04tQ.",
        "truncated-string": b"\x80\x02X\xff\xff\xff\x7fabc",
        "marks": b"\x80\x02" + b"(" * 100_000 + b".",
        "memo-miss": b"\x80\x02h\x07.",
        "empty-stop": b".",
        "get-text": b"\x80\x02g1\n.",
        "marker-path-string": b"\x80\x02X" + len(m).to_bytes(4, "little") + m + b".",  # harmless: must load
    })
    return out


def _tensor_pickle(size: tuple, stride: tuple, offset: int = 0) -> bytes:
    """data.pkl of one float tensor over storage record 0 (4 floats) with the given geometry."""
    def tup(xs):
        return b"(" + b"".join(b"J" + int(x).to_bytes(4, "little", signed=True) for x in xs) + b"t"
    return (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
            b"X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQJ" + offset.to_bytes(4, "little", signed=True)
            + tup(size) + tup(stride) + b"\x89ccollections\nOrderedDict\n)RtR.")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on protocol-4 payloads
def test_malicious_pickles_are_refused_and_run_nothing(tmp_path):
    marker = str(tmp_path / "pwned")
    payloads = _malicious(marker)
    float32_state = dict(vars(ember.float32)) if hasattr(ember.float32, "__dict__") else None
    for name, pkl in payloads.items():
        for kind, blob in (("zip", _zip(pkl)), ("raw", pkl)):
            p = tmp_path / f"{name}-{kind}.pt"
            p.write_bytes(blob)
            if name == "marker-path-string":
                assert ember.load(p if kind == "zip" else io.BytesIO(_zip(pkl))) == marker
                continue
            with pytest.raises(pickle.UnpicklingError) as info:
                ember.load(p)
            assert isinstance(info.value, CheckpointError), (name, kind, info.value)
            assert not os.path.exists(marker), name
    assert ember.float32.np == np.float32 and (float32_state is None or vars(ember.float32) == float32_state)
    # torch refuses them too (the oracle for "refused"): spot-check the classic ones
    for name in ("System-p2", "Eval-p4", "getattr-reduce", "inst", "build-dtype"):
        with pytest.raises(Exception):
            torch.load(io.BytesIO(_zip(payloads[name])), weights_only=True)
    assert not os.path.exists(marker)


def test_deep_nesting_loads_as_in_torch_without_recursion(tmp_path):
    blob = _zip(b"\x80\x02" + b"]" * 20_000 + b"a" * 19_999 + b".")  # lists nested 20,000 deep
    for lib in (ember, torch):
        x, depth = lib.load(io.BytesIO(blob), weights_only=True), 1
        while x:
            x, depth = x[0], depth + 1
        assert depth == 20_000


def test_refused_global_is_named_with_a_weights_only_hint(tmp_path):
    p = tmp_path / "g.pt"
    p.write_bytes(_zip(pickle.dumps({"x": os.system}, protocol=2)))
    with pytest.raises(pickle.UnpicklingError, match=r"(?s)weights_only.*GLOBAL posix\.system") as e:
        ember.load(p)
    with pytest.raises(pickle.UnpicklingError, match="posix.system"):
        torch.load(p)
    assert "add_safe_globals" in str(e.value)


def test_weights_only_load_imports_nothing(tmp_path, monkeypatch):
    marker = str(tmp_path / "pwned")
    blobs = {name: _zip(pkl) for name, pkl in _malicious(marker).items()}
    imported, outcomes = [], {}
    ember.load(io.BytesIO(blobs["marker-path-string"]))  # zipfile's lazy import of its filename codec (cp437)

    def refuse(name, *a, **k):
        imported.append(name)
        raise AssertionError(f"import of {name!r} during a weights-only load")
    with monkeypatch.context() as m:
        m.setattr(importlib, "import_module", refuse)
        m.setattr(builtins, "__import__", refuse)  # last: monkeypatch itself imports
        for name, blob in blobs.items():
            try:
                outcomes[name] = type(ember.load(io.BytesIO(blob)))
            except Exception as e:
                outcomes[name] = type(e)
    assert imported == [] and not os.path.exists(marker)
    assert outcomes.pop("marker-path-string") is str
    assert set(outcomes.values()) == {CheckpointError}


def test_out_of_bounds_tensor_geometry_is_refused(tmp_path):
    data = np.arange(4, dtype=np.float32).tobytes()
    ok = ember.load(io.BytesIO(_zip(_tensor_pickle((2, 2), (1, 2)), {"0": data})))
    assert ok.tolist() == [[0.0, 2.0], [1.0, 3.0]]
    for size, stride, offset in (((5,), (1,), 0), ((2,), (1,), 3), ((2, 2), (2, 1), 1), ((2,), (-1,), 1),
                                 ((-1,), (1,), 0), ((2,), (1,), -1), ((1,) * 65, (1,) * 65, 0),
                                 ((2 ** 31 - 1, 2), (2 ** 31 - 1, 1), 0)):
        with pytest.raises(CheckpointError):
            ember.load(io.BytesIO(_zip(_tensor_pickle(size, stride, offset), {"0": data})))
    with pytest.raises(CheckpointError, match="bytes"):  # record shorter than the storage claims
        ember.load(io.BytesIO(_zip(_tensor_pickle((2,), (1,)), {"0": data[:8]})))


def _check_variants(tmp_path, blobs) -> dict:
    outcomes = {"loaded": 0, "rejected": 0}
    p = tmp_path / "variant.pt"
    for blob in blobs:
        p.write_bytes(blob)
        try:
            ember.load(p)
            outcomes["loaded"] += 1
        except CheckpointError as e:
            assert str(e)
            outcomes["rejected"] += 1
    return outcomes


def _flips(blob: bytes, rng, n: int, lo: int = 0):
    for _ in range(n):
        b = bytearray(blob)
        for pos in rng.integers(lo, len(b), size=rng.integers(1, 4)):
            b[pos] = rng.integers(0, 256)
        yield bytes(b)


def _sample(tmp_path):
    base = ember.arange(12.0).reshape(3, 4)
    obj = {"w": base, "row": base[1], "p": ember.nn.Parameter(ember.ones(2)),
           "i": ember.tensor([1, 2], dtype=ember.int8),
           "meta": [1, 2.5, "s", (None, True)], "od": {"a": ember.zeros(1)}}
    ember.save(obj, tmp_path / "good.pt")
    torch.save({"w": torch.arange(6.0).reshape(2, 3), "v": [torch.ones(2), 3]}, tmp_path / "legacy.pt",
               _use_new_zipfile_serialization=False)
    return (tmp_path / "good.pt").read_bytes(), (tmp_path / "legacy.pt").read_bytes()


def test_truncated_and_mutated_files_raise_checkpoint_error(tmp_path):
    rng = np.random.default_rng(0)
    good, legacy = _sample(tmp_path)
    variants = [good[:n] for n in rng.integers(0, len(good), 60)] + [legacy[:n] for n in range(0, len(legacy), 7)]
    variants += list(_flips(good, rng, 80)) + list(_flips(legacy, rng, 120))
    outcomes = _check_variants(tmp_path, variants)
    assert outcomes["rejected"] > 100 and outcomes["loaded"] > 0


def test_mutated_pickles_inside_valid_zips_raise_checkpoint_error(tmp_path):
    rng = np.random.default_rng(1)
    good, _ = _sample(tmp_path)
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        pkl = zf.read("good/data.pkl")
        records = {n.split("/")[-1]: zf.read(n) for n in zf.namelist() if "/data/" in n}
    variants = [_zip(m, records) for m in _flips(pkl, rng, 250, lo=2)]
    variants += [_zip(pkl[:n], records) for n in range(0, len(pkl), 5)]
    outcomes = _check_variants(tmp_path, variants)
    assert outcomes["rejected"] > 150 and outcomes["loaded"] > 0


def test_object_budget_bounds_memory_by_the_file_size():
    blob = _zip(b"\x80\x02" + b"]" * 600_000 + b".")  # 600 kB making 600,000 lists
    with pytest.raises(CheckpointError, match="more objects than its size allows"):
        ember.load(io.BytesIO(blob))
    legit = io.BytesIO()
    torch.save([[] for _ in range(30_000)], legit)  # dense but within the budget: loads as in torch
    assert ember.load(io.BytesIO(legit.getvalue())) == torch.load(io.BytesIO(legit.getvalue()))
