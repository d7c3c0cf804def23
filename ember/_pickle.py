"""The pickle half of PyTorch's checkpoint formats, without torch.

Reading with ``weights_only=True`` goes through ``RestrictedUnpickler``: a small interpreter of
the opcodes that torch's files use. It resolves a global only by looking its name up in an
allowlist (the tensor and storage rebuild functions, ``OrderedDict``, ``torch.Size``, the dtypes,
and whatever ``add_safe_globals`` added), so nothing is imported and only allowlisted callables
run. ``FullUnpickler`` (``weights_only=False``) is Python's own unpickler, with torch's names mapped
onto ember's. ``TorchPickler`` writes tensors, dtypes and sizes under torch's names, so that
``torch.load`` reads ember's files.
"""
from __future__ import annotations

import functools
import pickle
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
import struct
import sys
from codecs import encode as _encode
from collections import Counter, OrderedDict
from typing import Any, Callable

import numpy as np

from . import _dtype
from ._tensor import Tensor, Size, device
from .nn.parameter import Parameter


class CheckpointError(pickle.UnpicklingError, RuntimeError):
    """A malformed checkpoint (truncated, corrupted or crafted), or a pickle that a weights-only load refuses.

    Both classes torch raises for a corrupt file: ``RuntimeError`` (a broken zip archive) and
    ``pickle.UnpicklingError`` (a broken pickle, or a global outside the allowlist).
    """


class MissingDtype(NotImplementedError):
    """A checkpoint's tensors have a dtype that ember lacks (float8, uint16/32, quantized)."""


def from_bytes(raw, dt: np.dtype, little: bool = True) -> np.ndarray:
    """``raw`` as a flat array of ``dt`` written in the given byte order (a view unless it must be swapped)."""
    arr = np.frombuffer(raw, dt)
    if little == (sys.byteorder == "little"):
        return arr
    # swap each real component (bfloat16 and complex32 have no byte-swapped NumPy dtype to do it)
    unit = dt.itemsize // 2 if dt.kind == "c" or dt.names else dt.itemsize
    return arr.view(f"u{unit}").byteswap().view(dt)


def np_dtype(d) -> np.dtype:
    """The NumPy dtype of an ember dtype that a checkpoint names; MissingDtype if it cannot be stored here."""
    try:
        return d.np
    except NotImplementedError as e:  # bfloat16 without ml_dtypes
        raise MissingDtype(f"ember.load: the checkpoint holds {d} tensors: {e}") from None


# ------------------------------------------------------------------ storages and tensor rebuilds
class _Lacking:
    """A torch dtype that ember has no counterpart for, as a checkpoint names it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


class StorageType:
    """A torch storage class named in a pickle (``torch.FloatStorage``): stands for its dtype."""

    def __init__(self, name: str, dt) -> None:
        self.name, self.dtype = name, dt

    def __repr__(self) -> str:
        return f"StorageType({self.name})"


class Storage:
    """A flat array that tensors loaded from one storage record view, sharing its memory."""

    def __init__(self, array: np.ndarray, location: str = "cpu") -> None:
        self.array, self.location = array, location
        self._typed: dict = {}

    def typed(self, dt: np.dtype) -> "Storage":
        """This byte storage's memory as elements of ``dt`` (torch's UntypedStorage), one array per dtype."""
        if dt not in self._typed:
            if self.array.dtype != np.uint8 or self.array.nbytes % dt.itemsize:
                raise CheckpointError(f"a storage of {self.array.size} elements of {self.array.dtype} cannot hold "
                                      f"elements of {_dtype.from_np(dt)}")
            # through a memoryview, so that the typed array is its tensors' memory root and shares the bytes
            self._typed[dt] = Storage(np.frombuffer(self.array.data, dt), self.location)
        return self._typed[dt]

    @property
    def dtype(self):
        return _dtype.from_np(self.array.dtype)

    def size(self) -> int:
        """Number of elements."""
        return self.array.size

    def nbytes(self) -> int:
        """Number of bytes."""
        return self.array.nbytes

    def cpu(self) -> "Storage":
        """This storage (ember only has the CPU)."""
        return self


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _strided(storage, offset, size, stride) -> np.ndarray:
    """A view of ``storage`` with torch's element offset and strides, bounds-checked."""
    if not isinstance(storage, Storage):
        raise CheckpointError(f"a tensor must be rebuilt from a storage, got {type(storage).__name__}")
    if not (_is_int(offset) and isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
            and all(_is_int(s) and s >= 0 for s in size + stride) and offset >= 0 and len(size) <= 64):
        raise CheckpointError(f"invalid tensor geometry: offset {offset!r}, size {size!r}, stride {stride!r}")
    arr = storage.array
    if 0 in size:
        return np.empty(size, arr.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= arr.size:
        raise CheckpointError(f"tensor of size {size} and stride {stride} at offset {offset} reaches element "
                              f"{last} of a storage of {arr.size}")
    # an ndarray over the storage's own buffer, so that its .base is the storage (storage_offset() works)
    return np.ndarray(size, arr.dtype, buffer=arr, offset=offset * arr.itemsize,
                      strides=tuple(s * arr.itemsize for s in stride))


def _rebuild_tensor(storage, storage_offset, size, stride) -> Tensor:
    return Tensor._make(_strided(storage, storage_offset, size, stride))


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None) -> Tensor:
    t = _rebuild_tensor(storage, storage_offset, size, stride)
    if metadata:  # torch's lazy conjugate and negative views: the storage holds the values before them
        if not isinstance(metadata, dict):  # other keys torch ignores, and so does ember
            raise CheckpointError(f"tensor metadata must be a dict, got {type(metadata).__name__}")
        t = t.neg() if metadata.get("neg") else t
        t = t.conj() if metadata.get("conj") else t  # is_conj() is True on it, as on torch's
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, dtype=None,
                       metadata=None) -> Tensor:
    # torch's rebuild for the dtypes without a typed storage class (uint64, complex32, float8...): bytes + dtype
    if not isinstance(dtype, _dtype.dtype):
        raise MissingDtype(f"ember.load: the checkpoint holds {dtype!r:.60} tensors; ember has no such dtype")
    if not isinstance(storage, Storage):
        raise CheckpointError(f"a tensor must be rebuilt from a storage, got {type(storage).__name__}")
    return _rebuild_tensor_v2(storage.typed(np_dtype(dtype)), storage_offset, size, stride, requires_grad,
                              metadata=metadata)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    if not isinstance(data, Tensor):
        raise CheckpointError(f"a parameter must hold a tensor, got {type(data).__name__}")
    return Parameter(data, bool(requires_grad))


def _set_state(obj, state) -> None:
    if isinstance(state, dict) and all(isinstance(k, str) for k in state):
        if isinstance(obj, Tensor) and any(k.startswith("_") or hasattr(type(obj), k) for k in state):
            raise CheckpointError(f"a tensor's saved attributes may not replace its own: {sorted(state)!r:.200}")
        obj.__dict__.update(state)
    elif state:
        raise CheckpointError(f"unsupported state {type(state).__name__} for {type(obj).__name__}")


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    p = _rebuild_parameter(data, requires_grad, backward_hooks)
    _set_state(p, state)
    return p


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in _REBUILDS or not isinstance(args, tuple):
        raise CheckpointError(f"_rebuild_from_type_v2 may only call a tensor rebuild function, got {func!r}")
    t = func(*args)
    if new_type is Parameter and type(t) is Tensor:
        t = Parameter(t, t.requires_grad)
    elif new_type is not type(t):
        raise CheckpointError(f"cannot rebuild a tensor as {new_type!r}")
    _set_state(t, state)
    return t


def _latin1_bytes(s, encoding="latin1"):
    # protocol 2 writes bytes as _codecs.encode(str, 'latin1'); other codecs could import modules
    if not isinstance(s, str) or encoding not in ("latin1", "latin-1"):
        raise CheckpointError(f"_codecs.encode is only allowed with latin1 strings, got {encoding!r}")
    return _encode(s, "latin1")


def _bytearray(data=b""):
    if not isinstance(data, (bytes, bytearray)):  # bytearray(10**12) would allocate a terabyte
        raise CheckpointError(f"bytearray may only be rebuilt from bytes, got {type(data).__name__}")
    return bytearray(data)


_REBUILDS = {_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter, _rebuild_parameter_with_state}

# torch's typed storage classes (written with _rebuild_tensor_v2); bfloat16 without ml_dtypes raises on use
_STORAGE_DTYPES = {"Float": _dtype.float32, "Double": _dtype.float64, "Half": _dtype.float16,
                   "Long": _dtype.int64, "Int": _dtype.int32, "Short": _dtype.int16, "Char": _dtype.int8,
                   "Byte": _dtype.uint8, "Bool": _dtype.bool_, "BFloat16": _dtype.bfloat16,
                   "ComplexFloat": _dtype.complex64, "ComplexDouble": _dtype.complex128}
# the rest of torch's dtypes are written as bytes + dtype (_rebuild_tensor_v3: torch.storage._new_dtypes())
_V3_DTYPES = (_dtype.uint64, _dtype.complex32)

# torch names that weights_only allows but ember has no dtype for: named, so that loading them says so
_MISSING_STORAGES = ("QInt8", "QUInt8", "QInt32", "QUInt4x2", "QUInt2x4")
_MISSING_DTYPES = ("uint16", "uint32", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
                   "float8_e8m0fnu", "float4_e2m1fn_x2", "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16",
                   *(f"{k}int{n}" for k in ("u", "") for n in range(1, 8)))


@functools.cache
def _torch_names() -> dict[str, Any]:
    """torch's global names in a checkpoint -> ember's objects: the weights-only allowlist."""
    names: dict[str, Any] = {
        "collections.OrderedDict": OrderedDict, "collections.Counter": Counter,
        "torch.nn.parameter.Parameter": Parameter, "torch.Size": Size, "torch.Tensor": Tensor,
        "torch.device": device, "_codecs.encode": _latin1_bytes, "builtins.bytearray": _bytearray,
        "builtins.set": set, "builtins.complex": complex,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
        "torch.storage.UntypedStorage": StorageType("UntypedStorage", _dtype.uint8),
    }
    names.update({f"torch._utils.{f.__name__}": f for f in _REBUILDS})
    names.update({f"torch.{d.name}": d for d in _dtype.ALL + (_dtype.bfloat16,)})
    names.update({f"torch.{k}Storage": StorageType(f"{k}Storage", d) for k, d in _STORAGE_DTYPES.items()})
    names.update({f"torch.{k}Storage": StorageType(f"{k}Storage", None) for k in _MISSING_STORAGES})
    names.update({f"torch.{k}": _Lacking(f"torch.{k}") for k in _MISSING_DTYPES})
    return names


# ------------------------------------------------------------------ the allowlist users extend
_user_globals: list = []


def user_globals() -> dict[str, Any]:
    """``add_safe_globals`` entries as ``{"module.qualname": object}``."""
    out = {}
    for g in _user_globals:
        if isinstance(g, tuple):
            if len(g) != 2 or not isinstance(g[1], str):
                raise ValueError(f"Expected (global, 'module.name') but got {g!r}")
            out[g[1]] = g[0]
        else:
            out[f"{g.__module__}.{g.__qualname__}"] = g
    return out


def _weights_only_message(detail: str) -> str:
    return ("Weights only load failed. Re-running `ember.load` with `weights_only` set to `False` will likely "
            "succeed, but it can result in arbitrary code execution. Do it only if you got the file from a "
            f"trusted source.\n\n{detail}")


def _refuse_global(full: str) -> CheckpointError:
    return CheckpointError(_weights_only_message(
        f"Unsupported global: GLOBAL {full} was not an allowed global by default. Please use "
        f"`ember.serialization.add_safe_globals([{full}])` or the `ember.serialization.safe_globals([{full}])` "
        "context manager to allowlist this global if you trust this class/function."))


# ------------------------------------------------------------------ the restricted unpickler
_SET_TARGETS = (dict, OrderedDict, Counter)


class RestrictedUnpickler:
    """Interprets a pickle with only allowlisted globals, and bounded work and memory.

    Every object it can create is a constant, a container, or the result of calling an allowlisted
    function; containers and memo entries are counted against a budget proportional to the file's size.
    """

    def __init__(self, data, persistent_load: Callable, start: int = 0, file_size: int = 0) -> None:
        self.data, self.pos, self.persistent_load = memoryview(data), start, persistent_load
        self.size = len(self.data)
        users = user_globals()
        self.names = {**_torch_names(), **users}
        self.allowed = {id(v) for v in self.names.values()}
        self.user_ids = {id(v) for v in users.values()}
        # some 64 bytes per object: at most about 8 bytes of memory per byte of the file, plus 16 MB
        self.budget = 250_000 + max(file_size, len(self.data) - start) // 8

    def _read(self, n: int):
        pos = self.pos
        if n < 0 or pos + n > self.size:
            raise CheckpointError("pickle data was truncated")
        self.pos = pos + n
        return self.data[pos:pos + n]

    def _byte(self) -> int:
        pos = self.pos
        if pos >= self.size:
            raise CheckpointError("pickle data was truncated")
        self.pos = pos + 1
        return self.data[pos]

    def _line(self) -> str:
        end = self.pos
        while end < len(self.data) and self.data[end] != 10 and end - self.pos < 1024:
            end += 1
        if end >= len(self.data) or self.data[end] != 10:
            raise CheckpointError("pickle GLOBAL name is truncated or too long")
        s = bytes(self.data[self.pos:end]).decode("utf-8")
        self.pos = end + 1
        return s

    def _made(self, n: int = 1) -> None:
        self.budget -= n
        if self.budget < 0:
            raise CheckpointError("pickle creates more objects than its size allows")

    def _global(self, module, name):
        if not (isinstance(module, str) and isinstance(name, str)):
            raise CheckpointError("pickle global names must be strings")
        if (module, name) in NAME_MAPPING:  # protocol 2 writes Python 2's names (__builtin__.set)
            module, name = NAME_MAPPING[(module, name)]
        elif module in IMPORT_MAPPING:
            module = IMPORT_MAPPING[module]
        full = f"{module}.{name}"
        if full not in self.names and full.startswith("torch."):
            full = "ember" + full[5:] if "ember" + full[5:] in self.names else full  # torch's name for an allowed class
        if full not in self.names:
            raise _refuse_global(full)
        return self.names[full]

    def _pop_mark(self) -> list:
        items, self.stack = self.stack, self.metastack.pop()
        return items

    def load(self):
        """The unpickled object."""
        self.stack, self.metastack, self.memo = [], [], {}
        ops = _OPS
        while True:
            op = self._byte()
            if op == 0x2e:  # STOP
                if len(self.stack) != 1 or self.metastack:
                    raise CheckpointError("pickle stack is malformed at STOP")
                return self.stack.pop()
            handler = ops.get(op)
            if handler is None:
                raise CheckpointError(f"Unsupported operand {op} ({chr(op)!r}) in a weights-only load")
            handler(self)

    # opcodes ------------------------------------------------------------------
    def _push(self, v) -> None:
        self.stack.append(v)

    def _call(self) -> None:  # REDUCE: only allowlisted callables
        args, func = self.stack.pop(), self.stack[-1]
        if id(func) not in self.allowed or not callable(func):
            raise CheckpointError(f"Trying to call reduce for unrecognized function {func!r}")
        if not isinstance(args, tuple):
            raise CheckpointError("REDUCE arguments must be a tuple")
        self._made()
        self.stack[-1] = func(*args)

    def _newobj(self) -> None:
        args, cls = self.stack.pop(), self.stack.pop()
        if not isinstance(args, tuple):
            raise CheckpointError("NEWOBJ arguments must be a tuple")
        if cls is Parameter:
            self._push(Parameter(*args))
        elif isinstance(cls, type) and id(cls) in self.allowed and cls is not Tensor:
            self._push(cls.__new__(cls, *args))
        else:
            raise CheckpointError("Can only create new objects of nn.Parameter or classes allowlisted "
                                         f"via `add_safe_globals` but got {cls!r}")
        self._made()

    def _build(self) -> None:
        state, inst = self.stack.pop(), self.stack[-1]
        if isinstance(inst, Tensor) and not state:
            return
        if type(inst) is OrderedDict:
            _set_state(inst, state)
        elif id(type(inst)) in self.user_ids:
            inst.__setstate__(state) if hasattr(inst, "__setstate__") else _set_state(inst, state)
        else:
            raise CheckpointError("Can only build Tensor, Parameter, OrderedDict or types allowlisted via "
                                         f"`add_safe_globals`, but got {type(inst)}")

    def _persid(self) -> None:
        pid = self.stack.pop()
        if not (type(pid) is tuple and pid and pid[0] in ("storage", b"storage")):
            raise CheckpointError(f"Only persistent_load of storage is allowed, but got {pid!r:.80}")
        self._push(self.persistent_load(pid))

    def _setitems(self, items: list) -> None:
        target = self.stack[-1] if self.stack else None
        if type(target) not in _SET_TARGETS or len(items) % 2:
            raise CheckpointError(f"can only set items of a dict, got {type(target).__name__}")
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    def _extend(self, items: list, kind: type = list) -> None:
        target = self.stack[-1] if self.stack else None
        if type(target) is not kind:
            raise CheckpointError(f"can only add items to a {kind.__name__}, got {type(target).__name__}")
        target.update(items) if kind is set else target.extend(items)

    def _stack_global(self) -> None:
        if len(self.stack) < 2:
            raise CheckpointError("pickle stack underflow")
        name, module = self.stack.pop(), self.stack.pop()
        self._push(self._global(module, name))

    def _mark(self) -> None:
        self._made()
        self.metastack.append(self.stack)
        self.stack = []

    def _pop_n(self, n: int) -> list:
        if len(self.stack) < n:
            raise CheckpointError("pickle stack underflow")
        items = self.stack[len(self.stack) - n:]
        del self.stack[len(self.stack) - n:]
        return items

    def _tuple_n(self, n: int) -> None:
        self._made()
        self._push(tuple(self._pop_n(n)))

    def _put(self, i: int) -> None:
        if i not in self.memo:
            self._made()
        self.memo[i] = self.stack[-1]

    def _get(self, i: int) -> None:
        if i not in self.memo:
            raise CheckpointError(f"pickle memo has no entry {i}")
        self._push(self.memo[i])

    def _unpack(self, fmt: struct.Struct):
        pos = self.pos
        if pos + fmt.size > self.size:
            raise CheckpointError("pickle data was truncated")
        self.pos = pos + fmt.size
        return fmt.unpack_from(self.data, pos)[0]

    def _text(self, n: int) -> None:
        self._push(str(self._read(n), "utf-8", "surrogatepass"))

    def _bytes(self, n: int) -> None:
        self._push(bytes(self._read(n)))

    def _proto(self) -> None:
        if self._byte() > 5:
            raise CheckpointError("unsupported pickle protocol")

    def _new(self, v) -> None:
        self._made()
        self._push(v)


def _nonempty(fn):
    def op(u: RestrictedUnpickler) -> None:
        if not u.stack:
            raise CheckpointError("pickle stack underflow")
        fn(u)
    return op


def _marked(fn):
    def op(u: RestrictedUnpickler) -> None:
        if not u.metastack:
            raise CheckpointError("pickle has no MARK to pop")
        fn(u, u._pop_mark())
    return op


_R = RestrictedUnpickler
_I32, _U16, _U32, _U64, _F64 = (struct.Struct(f) for f in ("<i", "<H", "<I", "<Q", ">d"))
_OPS: dict[int, Callable] = {
    ord("\x80"): _R._proto,
    ord("\x95"): lambda u: u._read(8),                                          # FRAME
    ord("("): _R._mark,
    ord("N"): lambda u: u._push(None),
    ord("\x88"): lambda u: u._push(True),
    ord("\x89"): lambda u: u._push(False),
    ord(")"): lambda u: u._push(()),
    ord("]"): lambda u: u._new([]),
    ord("}"): lambda u: u._new({}),
    ord("\x8f"): lambda u: u._new(set()),
    ord("J"): lambda u: u._push(u._unpack(_I32)),                               # BININT
    ord("K"): lambda u: u._push(u._byte()),                                 # BININT1
    ord("M"): lambda u: u._push(u._unpack(_U16)),                               # BININT2
    ord("\x8a"): lambda u: u._push(pickle.decode_long(u._read(u._byte()))),  # LONG1
    ord("\x8b"): lambda u: u._push(pickle.decode_long(u._read(u._unpack(_I32)))),  # LONG4
    ord("G"): lambda u: u._push(u._unpack(_F64)),                               # BINFLOAT
    ord("X"): lambda u: u._text(u._unpack(_U32)),                               # BINUNICODE
    ord("\x8c"): lambda u: u._text(u._byte()),                              # SHORT_BINUNICODE
    ord("\x8d"): lambda u: u._text(u._unpack(_U64)),                            # BINUNICODE8
    ord("C"): lambda u: u._bytes(u._byte()),                                # SHORT_BINBYTES
    ord("B"): lambda u: u._bytes(u._unpack(_U32)),                              # BINBYTES
    ord("\x8e"): lambda u: u._bytes(u._unpack(_U64)),                           # BINBYTES8
    ord("U"): lambda u: u._push(bytes(u._read(u._byte())).decode("latin1")),  # SHORT_BINSTRING
    ord("q"): _nonempty(lambda u: u._put(u._byte())),                       # BINPUT
    ord("r"): _nonempty(lambda u: u._put(u._unpack(_U32))),                     # LONG_BINPUT
    ord("\x94"): _nonempty(lambda u: u._put(len(u.memo))),                      # MEMOIZE
    ord("h"): lambda u: u._get(u._byte()),                                  # BINGET
    ord("j"): lambda u: u._get(u._unpack(_U32)),                                # LONG_BINGET
    ord("c"): lambda u: u._push(u._global(u._line(), u._line())),               # GLOBAL
    ord("\x93"): _R._stack_global,
    ord("R"): _nonempty(_R._call),
    ord("\x81"): _nonempty(_R._newobj),
    ord("b"): _nonempty(_R._build),
    ord("Q"): _nonempty(_R._persid),
    ord("t"): _marked(lambda u, items: (u._made(), u._push(tuple(items)))),     # TUPLE
    ord("l"): _marked(lambda u, items: (u._made(), u._push(items))),            # LIST
    ord("d"): _marked(lambda u, items: (u._new({}), u._setitems(items))),       # DICT
    ord("\x85"): lambda u: u._tuple_n(1),
    ord("\x86"): lambda u: u._tuple_n(2),
    ord("\x87"): lambda u: u._tuple_n(3),
    ord("a"): lambda u: u._extend(u._pop_n(1)),                                 # APPEND
    ord("e"): _marked(lambda u, items: u._extend(items)),                       # APPENDS
    ord("s"): lambda u: u._setitems(u._pop_n(2)),                               # SETITEM
    ord("u"): _marked(lambda u, items: u._setitems(items)),                     # SETITEMS
    ord("\x90"): _marked(lambda u, items: u._extend(items, set)),              # ADDITEMS
    ord("0"): _nonempty(lambda u: u.stack.pop()),                               # POP
    ord("1"): _marked(lambda u, items: None),                                   # POP_MARK
    ord("2"): _nonempty(lambda u: u._push(u.stack[-1])),                        # DUP
}


# ------------------------------------------------------------------ the full unpickler
class FullUnpickler(pickle.Unpickler):
    """Python's unpickler (``weights_only=False``: trusted files only), reading torch's names as ember's."""

    def __init__(self, file, persistent_load: Callable) -> None:
        super().__init__(file)
        self._pl = persistent_load
        self._names = _torch_names()

    def persistent_load(self, pid):
        return self._pl(pid)

    def find_class(self, module: str, name: str):
        full = f"{module}.{name}"
        if full in self._names:
            return self._names[full]
        if module == "torch" or module.startswith("torch."):
            try:  # a torch class that ember has under the same path (torch.nn.modules.linear.Linear)
                return super().find_class("ember" + module[5:], name)
            except (ImportError, AttributeError):
                pass
        return super().find_class(module, name)


# ------------------------------------------------------------------ writing
class Global:
    """A global written by name (``torch._utils._rebuild_tensor_v2``) that ember need not import."""

    _cache: dict = {}

    def __new__(cls, module: str, name: str) -> "Global":
        key = (module, name)
        if key not in cls._cache:
            g = cls._cache[key] = super().__new__(cls)
            g.module, g.name = module, name
        return cls._cache[key]

    def __call__(self, *args):
        raise TypeError(f"{self.module}.{self.name} is only a name to pickle")


class StorageRef:
    """One storage record to write: a flat array, its key and torch's storage class (typed, or bytes for v3)."""

    def __init__(self, key: str, array: np.ndarray) -> None:
        dt = _dtype.from_np(array.dtype)
        self.key, self.untyped = key, dt in _V3_DTYPES
        if self.untyped:
            self.array, self.type = array.view(np.uint8), Global("torch.storage", "UntypedStorage")
        else:
            self.array = array
            self.type = Global("torch", next(f"{k}Storage" for k, d in _STORAGE_DTYPES.items() if d is dt))


def _memory_root(arr: np.ndarray) -> np.ndarray:
    while True:
        b = arr.base
        if isinstance(b, np.ndarray):
            arr = b
        elif isinstance(getattr(b, "base", None), np.ndarray) and hasattr(b, "__array_interface__"):
            arr = b.base  # as_strided's wrapper
        else:
            return arr


class StorageTable:
    """Assigns tensors to storages so that views of one array share one record, as torch's do."""

    def __init__(self) -> None:
        self.refs: dict = {}    # (id(root), dtype) -> StorageRef
        self._keep: list = []   # roots stay alive while their ids are keys

    def place(self, arr: np.ndarray):
        """``(StorageRef, element offset, element strides)`` for an array."""
        root, size = _memory_root(arr), arr.dtype.itemsize
        offset = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
        contiguous = root.flags.c_contiguous or root.flags.f_contiguous
        # a view of another dtype (x.view(ember.bfloat16)) keeps its whole memory, read as its own dtype
        shared = (arr.dtype.isnative and contiguous and root.nbytes % size == 0
                  and offset >= 0 and offset % size == 0 and all(s >= 0 and s % size == 0 for s in arr.strides))
        if not shared:
            root = np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C")
            offset = 0
        key = (id(root), arr.dtype)
        if key not in self.refs:
            self._keep.append(root)
            flat = root.ravel(order="K")
            flat = flat if flat.dtype == arr.dtype else flat.view(np.uint8).view(arr.dtype)
            self.refs[key] = StorageRef(str(len(self.refs)), flat)
        strides = arr.strides if shared else root.strides
        return self.refs[key], offset // size, tuple(s // size for s in strides)


_OD = Global("collections", "OrderedDict")


class TorchPickler(pickle._Pickler):
    """Pickles ember tensors, parameters, dtypes and sizes as torch does (records in ``storages``)."""

    def __init__(self, file, protocol: int, storages: StorageTable, legacy: bool = False) -> None:
        super().__init__(file, protocol)
        self.storages, self.legacy = storages, legacy

    def persistent_id(self, obj):
        if type(obj) is StorageRef:
            pid = ("storage", obj.type, obj.key, "cpu", obj.array.size)
            return pid + (None,) if self.legacy else pid
        return None

    def save(self, obj, save_persistent_id=True) -> None:
        if type(obj) is _dtype.dtype:
            obj = Global("torch", obj.name)
        if type(obj) is Global:
            memo = self.memo.get(id(obj))
            if memo is not None:
                self.write(self.get(memo[0]))
                return
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            self.memoize(obj)
            return
        super().save(obj, save_persistent_id)

    def reducer_override(self, obj):
        if isinstance(obj, Parameter):
            return (Global("torch._utils", "_rebuild_parameter"),
                    (Tensor._make(obj._data), obj.requires_grad, OrderedDict()))
        if isinstance(obj, Tensor):
            ref, offset, stride = self.storages.place(obj._data)
            args = (ref, offset, tuple(obj._data.shape), stride, obj.requires_grad, OrderedDict())
            if ref.untyped:
                return Global("torch._utils", "_rebuild_tensor_v3"), args + (obj.dtype,)
            return Global("torch._utils", "_rebuild_tensor_v2"), args
        if isinstance(obj, Size):
            return Global("torch", "Size"), (tuple(obj),)
        if isinstance(obj, device):
            return Global("torch", "device"), (str(obj),)
        return NotImplemented
