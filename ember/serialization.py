"""ember.save / ember.load: safetensors files, written atomically, read without pickle.

Format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length,
a JSON header mapping each tensor name to its dtype, shape and byte range, then the raw
little-endian data. A flat ``{name: tensor}`` dict (a module's state dict) is stored as
exactly that, so torch's ``safetensors.torch.load_file`` reads it; any other structure (an
optimizer's state dict, nested dicts, lists, numbers) keeps its tensors under generated
names and the rest of the structure as JSON in the header's ``__metadata__``.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Any

import numpy as np

from ._tensor import Tensor

_CODES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "I32": np.int32, "I64": np.int64,
          "F16": np.float16, "F32": np.float32, "F64": np.float64}
_NAMES = {np.dtype(v): k for k, v in _CODES.items()}
_STRUCT_KEY = "ember.structure"
MAX_HEADER = 100 * 1024 * 1024  # the safetensors spec's own limit


class SafetensorsError(ValueError):
    """A file that is not a valid safetensors file (truncated, corrupted or malicious)."""


def save(obj: Any, f, **_ignored) -> None:
    """Save tensors (a state dict, or any structure of dicts/lists/numbers holding tensors) to ``f``."""
    tensors: dict[str, np.ndarray] = {}
    if isinstance(obj, dict) and obj and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
        tensors = {k: v._data for k, v in obj.items()}
        metadata = None
    else:
        structure = _encode(obj, tensors, "")
        metadata = {_STRUCT_KEY: json.dumps(structure)}
    _write_atomic(f, _serialize(tensors, metadata))


def load(f, map_location=None, weights_only: bool = True, **_ignored) -> Any:
    """Load what ``save`` wrote (or any safetensors file, as a ``{name: tensor}`` dict)."""
    tensors, metadata = _deserialize(_read(f), str(f))
    if metadata and _STRUCT_KEY in metadata:
        try:
            structure = json.loads(metadata[_STRUCT_KEY])
        except (json.JSONDecodeError, TypeError) as e:
            raise SafetensorsError(f"ember.load: {f}: corrupted structure metadata ({e})") from None
        return _decode(structure, tensors, str(f))
    return {k: Tensor._make(v) for k, v in tensors.items()}


# ------------------------------------------------------------------ structure <-> JSON
def _encode(obj, tensors: dict, path: str):
    if isinstance(obj, Tensor):
        name = path or "tensor"
        tensors[name] = obj.detach()._data
        return {"__tensor__": name}
    if isinstance(obj, np.ndarray):
        return _encode(Tensor._make(obj), tensors, path)
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not any(k.startswith("__") and k.endswith("__") for k in obj):
            return {k: _encode(v, tensors, f"{path}.{k}" if path else k) for k, v in obj.items()}
        return {"__items__": [[_encode(k, tensors, f"{path}.key{i}"), _encode(v, tensors, f"{path}.{i}")]
                              for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"ember.save: cannot store an object of type {type(obj).__name__} (tensors, dicts, lists, "
                    "tuples, numbers, strings and None only: no pickle)")


def _decode(s, tensors: dict, fname: str):
    if isinstance(s, list):
        return [_decode(v, tensors, fname) for v in s]
    if isinstance(s, dict):
        if "__tensor__" in s:
            name = s["__tensor__"]
            if name not in tensors:
                raise SafetensorsError(f"ember.load: {fname}: structure refers to a missing tensor {name!r}")
            return Tensor._make(tensors[name])
        if "__tuple__" in s:
            return tuple(_decode(v, tensors, fname) for v in s["__tuple__"])
        if "__items__" in s:
            return {_decode(k, tensors, fname): _decode(v, tensors, fname) for k, v in s["__items__"]}
        if "__float__" in s:
            return float(s["__float__"])
        return {k: _decode(v, tensors, fname) for k, v in s.items()}
    return s


# ------------------------------------------------------------------ the file format
def _serialize(tensors: dict, metadata: dict | None) -> bytes:
    header: dict = {}
    if metadata:
        header["__metadata__"] = metadata
    offset, chunks = 0, []
    for name, arr in tensors.items():
        if arr.dtype not in _NAMES:
            raise TypeError(f"ember.save: unsupported dtype {arr.dtype} for tensor {name!r}")
        data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _NAMES[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # the spec pads the header to 8-byte alignment with spaces
    return len(head).to_bytes(8, "little") + head + b"".join(chunks)


def _deserialize(buf: bytes, fname: str):
    def bad(why: str) -> SafetensorsError:
        return SafetensorsError(f"ember.load: {fname} is not a valid safetensors file: {why}")
    if len(buf) < 8:
        raise bad(f"file too short ({len(buf)} bytes)")
    n = int.from_bytes(buf[:8], "little")
    if n > MAX_HEADER or 8 + n > len(buf):
        raise bad(f"header length {n} exceeds the file size {len(buf)} (truncated or corrupted)")
    try:
        header = json.loads(buf[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise bad(f"header is not valid JSON ({type(e).__name__})") from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (isinstance(metadata, dict) and
                                     all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise bad("__metadata__ must map strings to strings")
    data = memoryview(buf)[8 + n:]
    spans, tensors = [], {}
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"entry {name!r} must have exactly dtype, shape and data_offsets")
        dt, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if dt not in _CODES:
            raise bad(f"entry {name!r} has unsupported dtype {dt!r}")
        if not (isinstance(shape, list) and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                for s in shape)):
            raise bad(f"entry {name!r} has an invalid shape {shape!r}")
        if not (isinstance(offs, list) and len(offs) == 2 and all(isinstance(o, int) and not isinstance(o, bool)
                                                                  for o in offs)):
            raise bad(f"entry {name!r} has invalid data_offsets {offs!r}")
        begin, end = offs
        itemsize = np.dtype(_CODES[dt]).itemsize
        if not 0 <= begin <= end <= len(data):
            raise bad(f"entry {name!r} data_offsets {offs} lie outside the data ({len(data)} bytes; truncated?)")
        if math.prod(shape) * itemsize != end - begin:
            raise bad(f"entry {name!r}: shape {shape} of {dt} needs {math.prod(shape) * itemsize} bytes, "
                      f"data_offsets give {end - begin}")
        spans.append((begin, end, name))
        arr = np.frombuffer(data[begin:end], dtype=np.dtype(_CODES[dt]).newbyteorder("<"))
        tensors[name] = arr.astype(np.dtype(_CODES[dt]), copy=True).reshape(shape)
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            raise bad(f"tensor data overlaps or leaves a hole at byte {pos} (entry {name!r})")
        pos = end
    if pos != len(data):
        raise bad(f"{len(data) - pos} trailing bytes after the last tensor")
    return tensors, metadata


def _read(f) -> bytes:
    if hasattr(f, "read"):
        return f.read()
    with open(f, "rb") as fh:
        return fh.read()


def _write_atomic(f, payload: bytes) -> None:
    if hasattr(f, "write"):
        f.write(payload)
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".ember-save-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # atomic: readers see the old file or the new one, never half of one
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
