"""MNIST and Fashion-MNIST from their IDX files (gzip or raw), with checked downloads."""
from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
from typing import Callable

import numpy as np

from ._base import ArrayDataset

_SPLITS = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
           False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


class DatasetFileError(RuntimeError):
    """A dataset file that is missing, truncated or corrupted."""


def read_idx(path: str) -> np.ndarray:
    """Read an IDX file (optionally gzipped), checking its magic number, dims and size."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DatasetFileError(f"{path}: cannot read ({type(e).__name__}: {e}); the file is truncated or "
                               "corrupted: delete it and download again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetFileError(f"{path}: not an IDX file of unsigned bytes (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    head = 4 + 4 * ndim
    if ndim == 0 or len(raw) < head:
        raise DatasetFileError(f"{path}: truncated IDX header")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    expected = head + int(np.prod(dims))
    if len(raw) != expected:
        raise DatasetFileError(f"{path}: IDX header promises dims {dims} ({expected} bytes) but the file has "
                               f"{len(raw)} bytes: truncated or corrupted")
    return np.frombuffer(raw, dtype=np.uint8, offset=head).reshape(dims).copy()


class MNIST(ArrayDataset):
    """The MNIST handwritten digits (60,000 train / 10,000 test, 28x28 grey).

    Args:
        root: folder holding the four IDX files (``.gz`` or not), directly or under
            ``<root>/<ClassName>/raw`` as torchvision lays them out.
        train: the training split (else the test split).
        transform: applied to each image (a 28x28 uint8 NumPy array).
        target_transform: applied to each label (an int).
        download: fetch the files if missing, verifying their checksums.
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/"]
    # (file, md5 of the official .gz, md5 of the decompressed IDX data); either identifies the file
    resources = [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", None),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", None),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", None),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", None)]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]
    default_root: str | None = None

    def __init__(self, root: str | None = None, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        self.root = root if root is not None else self.default_root
        if self.root is None:
            raise ValueError(f"{type(self).__name__}: give root= (a folder for the IDX files)")
        self.train = train
        if download:
            self.download()
        images, labels = (self._find(name) for name in _SPLITS[train])
        x, y = read_idx(images), read_idx(labels)
        if x.shape[0] != y.shape[0]:
            raise DatasetFileError(f"{images} has {x.shape[0]} images but {labels} has {y.shape[0]} labels")
        super().__init__(x, y, transform, target_transform)

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")

    def _find(self, stem: str) -> str:
        for folder in (self.root, self.raw_folder):
            for name in (stem + ".gz", stem):
                path = os.path.join(folder, name)
                if os.path.exists(path):
                    return path
        raise DatasetFileError(f"{type(self).__name__}: {stem}(.gz) not found in {self.root} or {self.raw_folder}; "
                               "pass download=True to fetch it")

    def download(self) -> None:
        """Fetch any missing file from the mirrors and verify its checksum."""
        os.makedirs(self.raw_folder, exist_ok=True)
        for name, md5_gz, md5_raw in self.resources:
            path = os.path.join(self.raw_folder, name)
            if os.path.exists(path) and _verified(path, md5_gz, md5_raw):
                continue
            errors = []
            for mirror in self.mirrors:
                try:
                    with urllib.request.urlopen(mirror + name, timeout=60) as r:
                        payload = r.read()
                except OSError as e:
                    errors.append(f"{mirror}: {e}")
                    continue
                tmp = path + ".part"
                with open(tmp, "wb") as fh:
                    fh.write(payload)
                if _verified(tmp, md5_gz, md5_raw):
                    os.replace(tmp, path)
                    break
                os.unlink(tmp)
                errors.append(f"{mirror}{name}: checksum mismatch")
            else:
                raise DatasetFileError(f"could not download {name}: " + "; ".join(errors))

    def __repr__(self) -> str:
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n    Root location: "
                f"{self.root}\n    Split: {'Train' if self.train else 'Test'}")


def _verified(path: str, md5_gz: str | None, md5_raw: str | None) -> bool:
    with open(path, "rb") as fh:
        blob = fh.read()
    if md5_gz is not None and hashlib.md5(blob).hexdigest() == md5_gz:
        return True
    if md5_raw is not None:
        try:
            raw = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
        except (OSError, EOFError):
            return False
        return hashlib.md5(raw).hexdigest() == md5_raw
    return False


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST (same layout as MNIST); ``root=None`` reads Debian's dataset-fashion-mnist."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
                 ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", "9018921c3c673c538a1fc5bad174d6f9"),
                 ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", "8181f5470baa50b63fa0f6fddb340f0a"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", "15d484375f8d13e6eb1aabb0c3f46965")]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
    default_root = "/usr/share/datasets/fashion-mnist"
