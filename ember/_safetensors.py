"""safetensors files (https://github.com/huggingface/safetensors), read without pickle.

An 8-byte little-endian header length, a JSON header mapping each tensor name to its dtype, shape
and byte range, then the raw little-endian data. A flat ``{name: tensor}`` dict (a module's state
dict) is stored as exactly that, so ``safetensors.torch.load_file`` reads it. Any other structure (an
optimizer's state dict, nested dicts, lists, tuples, numbers) is stored as a JSON tree in the
header's ``__metadata__`` whose leaves name their tensors explicitly: names are made unique when
written, so two paths can never share one.
"""
from __future__ import annotations

import json
import math
from collections import OrderedDict
from typing import Any

import numpy as np

from . import _dtype
from ._pickle import CheckpointError, MissingDtype, from_bytes, np_dtype
from ._tensor import Tensor

# the spec's dtype codes that ember has (bfloat16 without ml_dtypes raises NotImplementedError when read)
_CODES = {"BOOL": _dtype.bool_, "U8": _dtype.uint8, "I8": _dtype.int8, "I16": _dtype.int16, "I32": _dtype.int32,
          "I64": _dtype.int64, "U64": _dtype.uint64, "F16": _dtype.float16, "BF16": _dtype.bfloat16,
          "F32": _dtype.float32, "F64": _dtype.float64, "C64": _dtype.complex64}
_NAMES = {d.np: k for k, d in _CODES.items() if d in _dtype.ALL}
# the spec's codes for dtypes ember lacks
_LACKING = ("U16", "U32", "F8_E4M3", "F8_E5M2", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2")


class UnsupportedDtype(KeyError, TypeError):
    """A dtype that safetensors has no code for: a KeyError, as ``safetensors.torch`` raises (and a TypeError)."""

    def __str__(self) -> str:
        return str(self.args[0])
STRUCT_KEY = "ember.structure"
MAX_HEADER = 100 * 1024 * 1024  # the safetensors spec's own limit
MAX_DEPTH = 200


def is_flat(obj) -> bool:
    """Whether ``obj`` is a ``{str: tensor}`` dict, stored as plain safetensors."""
    return (isinstance(obj, dict) and bool(obj) and type(obj) in (dict, OrderedDict) and "__metadata__" not in obj
            and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()))


def write(obj: Any, fh) -> None:
    """Write ``obj`` (tensors in any structure of dicts/lists/tuples/numbers/strings) as safetensors."""
    tensors: dict[str, np.ndarray] = {}
    if is_flat(obj):
        tensors = {k: v._data for k, v in obj.items()}
        metadata = None
    else:
        metadata = {STRUCT_KEY: json.dumps(_encode(obj, tensors, "", 0), separators=(",", ":"))}
    header: dict = {"__metadata__": metadata} if metadata else {}
    offset, arrays = 0, []
    for name, arr in tensors.items():
        if arr.dtype not in _NAMES:
            raise UnsupportedDtype(f"ember.save: safetensors has no code for {_dtype.from_np(arr.dtype)} (tensor "
                                   f"{name!r}); it stores {', '.join(map(str, _CODES.values()))}: save to a .pt file")
        arr = np.asarray(arr, dtype=arr.dtype.newbyteorder("<"), order="C")
        header[name] = {"dtype": _NAMES[arr.dtype.newbyteorder("=")], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}
        arrays.append(arr)
        offset += arr.nbytes
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # the spec pads the header to 8-byte alignment with spaces
    fh.write(len(head).to_bytes(8, "little") + head)
    for arr in arrays:
        fh.write(memoryview(arr.reshape(-1).view(np.uint8)))


def read(buf, fname: str) -> Any:
    """What ``write`` wrote, or any safetensors file as a ``{name: tensor}`` dict."""
    tensors, metadata = _deserialize(buf, fname)
    if metadata and STRUCT_KEY in metadata:
        text = metadata[STRUCT_KEY]
        _check_json_size(text, len(buf), fname, 32)
        try:
            structure = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise CheckpointError(f"ember.load: {fname}: corrupted structure metadata ({type(e).__name__})") from None
        return _decode(structure, tensors, fname, 0)
    return {k: Tensor._make(v) for k, v in tensors.items()}


# ------------------------------------------------------------------ structure <-> JSON
def _unique(tensors: dict, name: str) -> str:
    name, base, k = name or "tensor", name or "tensor", 1
    while name in tensors or name == "__metadata__":
        name, k = f"{base}#{k}", k + 1
    return name


def _encode(obj, tensors: dict, path: str, depth: int):
    if depth > MAX_DEPTH:
        raise ValueError(f"ember.save: structure nested deeper than {MAX_DEPTH} levels")
    sub = depth + 1
    if isinstance(obj, Tensor):
        name = _unique(tensors, path)
        tensors[name] = obj.detach()._data
        return {"__tensor__": name}
    if isinstance(obj, np.ndarray):
        return _encode(Tensor._make(obj), tensors, path, depth)
    if isinstance(obj, dict):
        if type(obj) is dict and all(isinstance(k, str) for k in obj) and not any(k.startswith("__") for k in obj):
            return {k: _encode(v, tensors, f"{path}.{k}" if path else k, sub) for k, v in obj.items()}
        items = [[_encode(k, tensors, f"{path}.key{i}", sub), _encode(v, tensors, f"{path}.{k}", sub)]
                 for i, (k, v) in enumerate(obj.items())]
        return {"__odict__" if isinstance(obj, OrderedDict) else "__items__": items}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{path}.{i}", sub) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, f"{path}.{i}", sub) for i, v in enumerate(obj)]
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"ember.save: cannot store an object of type {type(obj).__name__} in a safetensors file "
                    "(tensors, dicts, lists, tuples, numbers, strings and None only: no pickle); save to a "
                    ".pt file to pickle it")


def _decode(s, tensors: dict, fname: str, depth: int):
    if depth > MAX_DEPTH:
        raise CheckpointError(f"ember.load: {fname}: structure nested deeper than {MAX_DEPTH} levels")
    sub = depth + 1
    if isinstance(s, list):
        return [_decode(v, tensors, fname, sub) for v in s]
    if not isinstance(s, dict):
        return s
    if len(s) == 1:
        (tag, v), = s.items()
        if tag == "__tensor__":
            if not isinstance(v, str) or v not in tensors:
                raise CheckpointError(f"ember.load: {fname}: structure refers to a missing tensor {v!r}")
            return Tensor._make(tensors[v])
        if tag in ("__tuple__", "__items__", "__odict__"):
            if not isinstance(v, list):
                raise CheckpointError(f"ember.load: {fname}: {tag} must hold a list")
            if tag == "__tuple__":
                return tuple(_decode(x, tensors, fname, sub) for x in v)
            if not all(isinstance(kv, list) and len(kv) == 2 for kv in v):
                raise CheckpointError(f"ember.load: {fname}: {tag} must hold [key, value] pairs")
            pairs = [(_decode(k, tensors, fname, sub), _decode(x, tensors, fname, sub)) for k, x in v]
            try:
                return (OrderedDict if tag == "__odict__" else dict)(pairs)
            except TypeError:
                raise CheckpointError(f"ember.load: {fname}: unhashable dict key in the structure") from None
        if tag == "__float__":
            if v not in ("inf", "-inf", "nan"):
                raise CheckpointError(f"ember.load: {fname}: invalid float {v!r}")
            return float(v)
    return {k: _decode(v, tensors, fname, sub) for k, v in s.items()}


# ------------------------------------------------------------------ the file format
def _check_json_size(text, file_size: int, fname: str, per: int, start: int = 0, end: int | None = None) -> None:
    """Refuse JSON with more than one container per ``per`` bytes of the file, before parsing it.

    Parsing makes a Python object of some 60 bytes per ``[`` or ``{``: a crafted header of
    millions of empty lists would need gigabytes. A tensor's header entry (``{...}`` with two lists)
    takes at least 45 bytes; ember's structure metadata has a few containers per tensor or number.
    """
    open_, brace = ("[", "{") if isinstance(text, str) else (b"[", b"{")
    end = len(text) if end is None else end
    n = text.count(open_, start, end) + text.count(brace, start, end)
    if n > 100_000 + file_size // per:
        raise CheckpointError(f"ember.load: {fname}: {n} JSON containers in a file of {file_size} bytes "
                              "(corrupted or crafted)")


def _deserialize(buf, fname: str):
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"ember.load: {fname} is not a valid safetensors file: {why}")
    if len(buf) < 8:
        raise bad(f"file too short ({len(buf)} bytes)")
    n = int.from_bytes(buf[:8], "little")
    if n > MAX_HEADER or 8 + n > len(buf):
        raise bad(f"header length {n} exceeds the file size {len(buf)} (truncated or corrupted)")
    _check_json_size(buf if isinstance(buf, (bytes, bytearray)) else bytes(buf), len(buf), fname, 8, 8, 8 + n)
    raw = bytes(buf[8:8 + n])
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:
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
        if dt in _LACKING:
            raise MissingDtype(f"ember.load: {fname}: entry {name!r} has dtype {dt}, which ember does not have")
        if not isinstance(dt, str) or dt not in _CODES:
            raise bad(f"entry {name!r} has unsupported dtype {dt!r}")
        npdt = np_dtype(_CODES[dt])
        if not (isinstance(shape, list) and len(shape) <= 64 and
                all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
            raise bad(f"entry {name!r} has an invalid shape {shape!r}")
        if not (isinstance(offs, list) and len(offs) == 2 and all(isinstance(o, int) and not isinstance(o, bool)
                                                                  for o in offs)):
            raise bad(f"entry {name!r} has invalid data_offsets {offs!r}")
        begin, end = offs
        itemsize = npdt.itemsize
        if not 0 <= begin <= end <= len(data):
            raise bad(f"entry {name!r} data_offsets {offs} lie outside the data ({len(data)} bytes; truncated?)")
        if math.prod(shape) * itemsize != end - begin:
            raise bad(f"entry {name!r}: shape {shape} of {dt} needs {math.prod(shape) * itemsize} bytes, "
                      f"data_offsets give {end - begin}")
        spans.append((begin, end, name))
        tensors[name] = from_bytes(data[begin:end], npdt).copy().reshape(shape)
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            raise bad(f"tensor data overlaps or leaves a hole at byte {pos} (entry {name!r})")
        pos = end
    if pos != len(data):
        raise bad(f"{len(data) - pos} trailing bytes after the last tensor")
    return tensors, metadata
