"""ember.save / ember.load: PyTorch's .pt files and safetensors files, written atomically.

- ``save(obj, "x.pt")`` (or ``.pth``, or a file object) writes torch's zip format: ``archive/data.pkl``
  (a pickle naming tensors as torch does) and one ``archive/data/N`` record per storage, so
  ``torch.load`` reads it. Any picklable object can be saved this way, whole modules included.
- ``save(obj, path)`` with any other suffix writes safetensors: tensors in nested dicts, lists,
  tuples, numbers and strings, no pickle.
- ``load`` tells the format by content: torch's zip format, torch's legacy format
  (``_use_new_zipfile_serialization=False``) or safetensors. Pickles are read, by default
  (``weights_only=True``), by a restricted unpickler that only builds tensors, containers and what
  ``add_safe_globals`` allows, and never imports or calls anything else. A malformed file raises
  ``CheckpointError`` (a ``RuntimeError`` and a ``pickle.UnpicklingError``, as torch's corrupt-file errors).
"""
from __future__ import annotations

import contextlib
import io
import os
import pickle
import re
import struct
import zipfile
from typing import Any, Callable

import numpy as np

from . import _safetensors
from ._pickle import (CheckpointError, FullUnpickler, MissingDtype, RestrictedUnpickler, Storage, StorageTable,
                      StorageType, TorchPickler, _user_globals, _weights_only_message, from_bytes, np_dtype)

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals", "safe_globals",
           "CheckpointError", "SafetensorsError"]

SafetensorsError = CheckpointError  # the name before .pt files could be read
DEFAULT_PROTOCOL = 2  # torch's
_MAGIC = 0x1950A86A20F9469CFC6C  # the legacy format's first pickle
_LEGACY_PROTOCOL = 1001
_ALIGN = 64  # torch aligns zip records so that they can be memory-mapped


# ------------------------------------------------------------------ the allowlist
def add_safe_globals(safe_globals: list) -> None:
    """Allow these classes/functions (or ``(obj, "module.name")`` pairs) in ``weights_only`` loads."""
    _user_globals.extend(g for g in safe_globals if g not in _user_globals)


def get_safe_globals() -> list:
    """The globals added by ``add_safe_globals``."""
    return list(_user_globals)


def clear_safe_globals() -> None:
    """Forget every global added by ``add_safe_globals``."""
    _user_globals.clear()


@contextlib.contextmanager
def safe_globals(safe_globals: list):
    """Allow these globals in ``weights_only`` loads inside the ``with`` block."""
    added = [g for g in safe_globals if g not in _user_globals]
    _user_globals.extend(added)
    try:
        yield
    finally:
        for g in added:
            if g in _user_globals:
                _user_globals.remove(g)


# ------------------------------------------------------------------ save
def save(obj: Any, f, pickle_module=None, pickle_protocol: int = DEFAULT_PROTOCOL,
         _use_new_zipfile_serialization: bool = True, _disable_byteorder_record: bool = False) -> None:
    """Save ``obj``: torch's .pt format to a ``.pt``/``.pth`` path or a file object, else safetensors."""
    if hasattr(f, "write"):
        writer = _pt_writer(obj, "archive", pickle_protocol, _use_new_zipfile_serialization)
        writer(f)
        return
    path = os.fspath(f)
    if not isinstance(path, str):
        path = os.fsdecode(path)
    if path.lower().endswith((".pt", ".pth")):
        stem = os.path.splitext(os.path.basename(path))[0] or "archive"
        _write_atomic(path, _pt_writer(obj, stem, pickle_protocol, _use_new_zipfile_serialization))
    else:
        _write_atomic(path, lambda fh: _safetensors.write(obj, fh))


def _pt_writer(obj, archive: str, protocol: int, zipped: bool) -> Callable:
    def write(fh) -> None:
        storages = StorageTable()
        pkl = io.BytesIO()
        TorchPickler(pkl, protocol, storages, legacy=not zipped).dump(obj)
        (_write_zip if zipped else _write_legacy)(fh, archive, pkl.getvalue(), storages, protocol)
    return write


def _write_zip(fh, archive: str, pkl: bytes, storages: StorageTable, protocol: int) -> None:
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
        records = [("data.pkl", pkl), (".format_version", b"1"), (".storage_alignment", b"64"),
                   ("byteorder", b"little")]
        records += [(f"data/{ref.key}", memoryview(ref.array.view(np.uint8))) for ref in storages.refs.values()]
        records += [("version", b"3\n"), (".data/serialization_id", os.urandom(20).hex().encode())]
        for name, data in records:
            info = zipfile.ZipInfo(f"{archive}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            header = 30 + len(info.filename.encode()) + 4 + (20 if len(data) * 1.05 > zipfile.ZIP64_LIMIT else 0)
            pad = -(fh.tell() + header) % _ALIGN
            info.extra = struct.pack("<HH", 0x4654, pad) + b"\0" * pad  # padding so the data starts aligned
            zf.writestr(info, data)


def _write_legacy(fh, archive: str, pkl: bytes, storages: StorageTable, protocol: int) -> None:
    for head in (_MAGIC, _LEGACY_PROTOCOL, {"protocol_version": _LEGACY_PROTOCOL, "little_endian": True,
                                           "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(head, fh, protocol=protocol)
    fh.write(pkl)
    refs = sorted(storages.refs.values(), key=lambda r: r.key)
    pickle.dump([r.key for r in refs], fh, protocol=protocol)
    for r in refs:
        fh.write(struct.pack("<q", r.array.size))
        fh.write(memoryview(r.array.view(np.uint8)))


# ------------------------------------------------------------------ atomic writes
# a temporary names its host and process, so that only this host's dead processes' files are removed
# (another machine or container sharing the folder has its own process ids)
_TMP = re.compile(r"^\.(?P<name>.+)\.ember-tmp-(?P<host>[\w.-]*)-(?P<pid>\d+)-[0-9a-f]{8}$")
_HOST = re.sub(r"[^\w.-]", "_", os.uname().nodename)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_temporaries(folder: str) -> None:
    """Delete temporaries that saves killed before they could clean up left in ``folder``."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = _TMP.match(name)
        if m and m["host"] == _HOST and int(m["pid"]) != os.getpid() and not _pid_alive(int(m["pid"])):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))


def _write_atomic(path: str, writer: Callable) -> None:
    """Write through ``writer(file)`` to a temporary beside the target, then rename it over the target.

    Readers see the old file or the new one, never half of one. A symlink is followed (the link
    stays, its target is replaced), and the file gets the mode that ``open(path, "wb")`` would give.
    """
    target = os.path.realpath(path)
    folder, base = os.path.split(target)
    _remove_stale_temporaries(folder)
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    tmp = None
    try:
        tmp = os.path.join(folder, f".{base}.ember-tmp-{_HOST}-{os.getpid()}-{os.urandom(4).hex()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 & ~umask, as open() gives
        with os.fdopen(fd, "wb") as fh:
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        tmp = None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


# ------------------------------------------------------------------ load
def load(f, map_location=None, pickle_module=None, *, weights_only: bool | None = None, mmap: bool | None = None,
         **pickle_load_args) -> Any:
    """Load what ``save`` (or ``torch.save``, or any safetensors writer) wrote to a path or file object.

    ``weights_only`` (default True) reads pickles with a restricted unpickler that builds only
    tensors, containers, numbers, strings and the globals allowed by ``add_safe_globals``;
    ``weights_only=False`` runs Python's full unpickler and must only be used on trusted files.
    """
    weights_only = True if weights_only is None else weights_only
    fname = getattr(f, "name", None) or (repr(f) if hasattr(f, "read") else os.fspath(f))
    if hasattr(f, "read"):
        buf = f.read()
        if isinstance(buf, str):
            raise TypeError(f"ember.load: {fname} was opened in text mode; open it with 'rb'")
        buf = bytearray(buf)
    elif mmap:
        buf = np.memmap(f, dtype=np.uint8, mode="c") if os.path.getsize(f) else bytearray()
    else:
        with open(f, "rb") as fh:  # one writable copy of the file; stored zip records become views of it
            buf = bytearray(os.fstat(fh.fileno()).st_size)
            del buf[fh.readinto(buf):]
    zipped = bytes(buf[:4]) == b"PK\x03\x04"
    if mmap and not zipped:
        raise RuntimeError("mmap can only be used with files saved with `ember.save(...)` to a .pt file "
                           "(torch's zip format)")
    try:
        if zipped:
            return _load_zip(buf, fname, map_location, weights_only)
        if bytes(buf[:1]) == b"\x80" and bytes(buf[8:9]) != b"{":  # a pickle, not a header length
            return _load_legacy(buf, fname, map_location, weights_only)
        return _safetensors.read(buf, fname)
    except (CheckpointError, MissingDtype):
        raise
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"ember.load: {fname} is corrupted: {e}") from e
    except Exception as e:
        if not weights_only and not isinstance(e, _CORRUPT):
            raise  # an error in the trusted pickle's own code
        raise CheckpointError(f"ember.load: {fname} is corrupted: {type(e).__name__}: {e}") from e


_CORRUPT = (EOFError, struct.error, zipfile.BadZipFile, zipfile.LargeZipFile, UnicodeError, RecursionError,
            MemoryError, OverflowError)


def _restore(storage: Storage, location: str, map_location) -> Storage:
    """Where torch would put a storage saved on ``location``; ember only has the CPU."""
    if callable(map_location):
        moved = map_location(storage, location)
        return storage if moved is None else moved
    if isinstance(map_location, dict):
        location = map_location.get(location, location)
    elif map_location is not None:
        location = str(map_location)
    location = str(location)
    if location.split(":")[0] in ("cuda", "mps", "xpu", "hpu", "meta", "privateuseone"):
        raise CheckpointError(f"Attempting to deserialize object on a {location.split(':')[0].upper()} device but "
                              "ember only has the CPU. Please use ember.load with map_location='cpu' to map your "
                              "storages to the CPU.")
    if location != "cpu":
        raise CheckpointError(f"don't know how to restore data location {location!r:.50}")
    return storage


def _storage_id(pid, n_fields: int):
    if len(pid) == n_fields and isinstance(pid[1], StorageType) and pid[1].dtype is None:
        raise MissingDtype(f"ember.load: the checkpoint holds tensors stored as torch.{pid[1].name}; ember has "
                           "no such dtype (quantized tensors)")
    if not (len(pid) == n_fields and isinstance(pid[1], StorageType) and isinstance(pid[2], str)
            and isinstance(pid[3], str) and isinstance(pid[4], int) and pid[4] >= 0):
        raise CheckpointError(f"invalid storage reference {pid!r:.200}")
    return np_dtype(pid[1].dtype), pid[2], pid[3], pid[4]


def _unpickle(data, start: int, persistent_load: Callable, weights_only: bool, fname: str, file_size: int):
    """One pickle from ``data[start:]``, and where it ended."""
    if weights_only:
        u = RestrictedUnpickler(data, persistent_load, start, file_size)
        try:
            return u.load(), u.pos
        except CheckpointError as e:
            msg = str(e) if str(e).startswith("Weights only") else _weights_only_message(f"{fname}: {e}")
            raise CheckpointError(msg) from None
    fh = io.BytesIO(data)
    fh.seek(start)
    obj = FullUnpickler(fh, persistent_load).load()
    return obj, fh.tell()


def _load_zip(buf, fname: str, map_location, weights_only: bool):
    with zipfile.ZipFile(_BufferFile(buf)) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        pkls = [n for n in infos if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkls) != 1:
            raise CheckpointError(f"ember.load: {fname}: a torch zip checkpoint has one <archive>/data.pkl, "
                                  f"found {len(pkls)}")
        prefix = pkls[0][:-len("data.pkl")]
        if any(i.file_size > len(buf) for i in infos.values()):
            raise CheckpointError(f"ember.load: {fname}: a record claims more bytes than the file holds")
        order = zf.read(prefix + "byteorder").decode() if prefix + "byteorder" in infos else "little"
        if order not in ("little", "big"):
            raise CheckpointError(f"ember.load: {fname}: unknown byteorder {order!r}")
        storages: dict = {}

        def persistent_load(pid):
            dt, key, location, numel = _storage_id(pid, 5)
            if key not in storages:
                info = infos.get(f"{prefix}data/{key}")
                if info is None:
                    raise CheckpointError(f"missing storage record data/{key}")
                if info.file_size != numel * dt.itemsize:
                    raise CheckpointError(f"storage record data/{key} has {info.file_size} bytes, "
                                          f"{numel} elements of {dt} need {numel * dt.itemsize}")
                # a view of the file's buffer (a memoryview: the storage array is its tensors' memory root)
                stored = info.compress_type == zipfile.ZIP_STORED and order == "little"
                raw = _record(info, buf) if stored else bytearray(zf.read(info))
                arr = from_bytes(raw, dt, order == "little")
                storages[key] = _restore(Storage(arr, location), location, map_location)
            return storages[key]

        return _unpickle(zf.read(infos[pkls[0]]), 0, persistent_load, weights_only, fname, len(buf))[0]


class _BufferFile(io.RawIOBase):
    """A read-only file over a buffer, without copying it (zipfile wants a file)."""

    def __init__(self, buf) -> None:
        self.view, self.pos = memoryview(buf), 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        self.pos = [pos, self.pos + pos, len(self.view) + pos][whence]
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, b) -> int:
        n = max(0, min(len(b), len(self.view) - self.pos))
        b[:n] = self.view[self.pos:self.pos + n]
        self.pos += n
        return n


def _record(info: zipfile.ZipInfo, buf) -> memoryview:
    """A stored record's bytes as a view of the file's buffer."""
    local = bytes(buf[info.header_offset:info.header_offset + 30])
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise CheckpointError(f"record {info.filename} has a broken local header")
    n, m = struct.unpack("<HH", local[26:30])
    start = info.header_offset + 30 + n + m
    if start + info.file_size > len(buf):
        raise CheckpointError(f"record {info.filename} runs past the end of the file")
    return memoryview(buf)[start:start + info.file_size]


def _load_legacy(buf, fname: str, map_location, weights_only: bool):
    data = memoryview(buf)

    def plain(pid):
        raise CheckpointError("unexpected persistent id outside the legacy format's main pickle")
    pos, heads = 0, []
    for _ in range(3):
        obj, pos = _unpickle(data, pos, plain, weights_only, fname, len(data))
        heads.append(obj)
    magic, protocol, sys_info = heads
    if magic != _MAGIC or protocol != _LEGACY_PROTOCOL or not isinstance(sys_info, dict):
        raise CheckpointError(f"ember.load: {fname}: not a torch legacy checkpoint (magic number or protocol)")
    little = sys_info.get("little_endian", True)
    storages: dict = {}  # key -> (array to fill, location)
    budget = [len(buf)]

    def persistent_load(pid):
        if isinstance(pid, tuple) and pid[:1] == ("module",) and len(pid) == 4:
            return pid[1]  # a module class with its source (weights_only=False only: the restricted path refuses it)
        dt, key, location, numel = _storage_id(pid, 6)
        if key not in storages:
            budget[0] -= numel * dt.itemsize
            if budget[0] < 0:
                raise CheckpointError("storages claim more bytes than the file holds")
            storages[key] = Storage(np.zeros(numel, dt), location)
            _restore(storages[key], location, map_location)
        storage, view = storages[key], pid[5]
        if view is not None:
            if not (isinstance(view, tuple) and len(view) == 3 and all(isinstance(v, (int, str)) for v in view)):
                raise CheckpointError(f"invalid storage view {view!r:.100}")
            _, offset, size = view
            if not (isinstance(offset, int) and isinstance(size, int) and 0 <= offset <= offset + size <= numel):
                raise CheckpointError(f"storage view {view!r} lies outside its storage of {numel}")
            return Storage(storage.array[offset:offset + size], storage.location)
        return storage

    obj, pos = _unpickle(data, pos, persistent_load, weights_only, fname, len(data))
    keys, pos = _unpickle(data, pos, plain, weights_only, fname, len(data))
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise CheckpointError(f"ember.load: {fname}: the storage key list is malformed")
    for key in keys:
        if key not in storages:
            raise CheckpointError(f"ember.load: {fname}: data for unknown storage {key!r}")
        arr = storages[key].array
        if pos + 8 > len(data) or struct.unpack("<q", data[pos:pos + 8])[0] != arr.size:
            raise CheckpointError(f"ember.load: {fname}: storage {key!r} is truncated or has the wrong size")
        pos += 8
        raw = data[pos:pos + arr.nbytes]
        if len(raw) != arr.nbytes:
            raise CheckpointError(f"ember.load: {fname}: storage {key!r} is truncated")
        arr[...] = from_bytes(raw, arr.dtype, little)
        pos += arr.nbytes
    if set(storages) - set(keys):
        raise CheckpointError(f"ember.load: {fname}: no data for storages {sorted(set(storages) - set(keys))}")
    return obj
