"""Dataset readers: IDX parsing and its error checks, checked downloads, the real Fashion-MNIST files,
MNIST-1D and Digits, and the transforms."""
import gzip
import hashlib

import numpy as np
import pytest
import torch

import ember
from ember.datasets import DatasetFileError, FashionMNIST, MNIST, MNIST1D, Digits, read_idx
from ember import transforms as T


def _idx(array: np.ndarray) -> bytes:
    head = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return head + array.astype(np.uint8).tobytes()


def _write_split(folder, n=7, seed=0):
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    for stem, arr in (("train-images-idx3-ubyte", imgs), ("train-labels-idx1-ubyte", labels),
                      ("t10k-images-idx3-ubyte", imgs[:3]), ("t10k-labels-idx1-ubyte", labels[:3])):
        (folder / (stem + ".gz")).write_bytes(gzip.compress(_idx(arr)))
    return imgs, labels


def test_reads_idx_files_gzipped_or_raw(tmp_path):
    imgs, labels = _write_split(tmp_path)
    ds = MNIST(str(tmp_path))
    assert len(ds) == 7 and ds.data.dtype == ember.uint8 and ds.targets.dtype == ember.int64
    np.testing.assert_array_equal(ds.data.numpy(), imgs)
    img, y = ds[3]
    np.testing.assert_array_equal(img, imgs[3]) and y == int(labels[3])
    raw = tmp_path / "raw.idx"
    raw.write_bytes(_idx(labels))
    np.testing.assert_array_equal(read_idx(str(raw)), labels)
    assert len(MNIST(str(tmp_path), train=False)) == 3


@pytest.mark.parametrize("mutate,match", [
    (lambda b: b[:-5], "truncated or corrupted"),
    (lambda b: b"\x00\x00\x09\x03" + b[4:], "bad magic"),
    (lambda b: b[:10], "truncated"),
])
def test_corrupted_idx_names_the_file(tmp_path, mutate, match):
    _write_split(tmp_path)
    p = tmp_path / "train-labels-idx1-ubyte.gz"
    p.write_bytes(gzip.compress(mutate(gzip.decompress(p.read_bytes()))))
    with pytest.raises(DatasetFileError, match=match) as info:
        MNIST(str(tmp_path))
    assert "train-labels-idx1-ubyte" in str(info.value)


def test_truncated_gzip_and_missing_files(tmp_path):
    _write_split(tmp_path)
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(DatasetFileError, match="train-images-idx3-ubyte"):
        MNIST(str(tmp_path))
    with pytest.raises(DatasetFileError, match="download=True"):
        MNIST(str(tmp_path / "nowhere"))


def test_download_verifies_checksums(tmp_path, monkeypatch):
    src = tmp_path / "mirror"
    src.mkdir()
    _write_split(src)
    resources = [(f.name, hashlib.md5(f.read_bytes()).hexdigest(), None) for f in sorted(src.iterdir())]
    monkeypatch.setattr(MNIST, "mirrors", [src.as_uri() + "/"])
    monkeypatch.setattr(MNIST, "resources", resources)
    ds = MNIST(str(tmp_path / "root"), download=True)
    assert len(ds) == 7
    assert (tmp_path / "root" / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").exists()
    bad = [(name, "0" * 32, None) for name, _, _ in resources]
    monkeypatch.setattr(MNIST, "resources", bad)
    with pytest.raises(DatasetFileError, match="checksum mismatch"):
        MNIST(str(tmp_path / "root2"), download=True)
    assert not list((tmp_path / "root2" / "MNIST" / "raw").iterdir())


def test_real_fashion_mnist_files():
    train, test = FashionMNIST(), FashionMNIST(train=False)
    assert (len(train), len(test)) == (60000, 10000)
    assert train.data.shape == (60000, 28, 28)
    # the dataset is balanced: 6000 training and 1000 test images per class
    assert np.bincount(train.targets.numpy()).tolist() == [6000] * 10
    assert np.bincount(test.targets.numpy()).tolist() == [1000] * 10
    assert train.classes[9] == "Ankle boot"


def test_mnist1d_and_digits():
    tr, te = MNIST1D(), MNIST1D(train=False)
    assert (len(tr), len(te)) == (4000, 1000)
    x, y = tr[0]
    assert x.shape == (40,) and x.dtype == np.float32 and 0 <= y < 10
    # the generator standardises the whole dataset
    allx = np.concatenate([tr.data.numpy(), te.data.numpy()])
    assert abs(allx.mean()) < 1e-3 and abs(allx.std() - 1) < 1e-3
    assert np.array_equal(MNIST1D().data.numpy(), tr.data.numpy())  # cached, deterministic
    d = Digits()
    assert len(d) + len(Digits(train=False)) == 1797 and d[0][0].shape == (8, 8)


def test_transforms_match_hand_values_and_torch_normalize():
    img = np.arange(12, dtype=np.uint8).reshape(3, 4)
    t = T.ToTensor()(img)
    assert t.shape == (1, 3, 4) and t.dtype == ember.float32
    np.testing.assert_allclose(t.numpy()[0], img / 255.0, rtol=1e-6)
    x = np.random.default_rng(0).random((3, 5, 5)).astype(np.float32)
    out = T.Normalize([0.5, 0.4, 0.3], [0.2, 0.3, 0.4])(ember.tensor(x))
    expect = (torch.tensor(x) - torch.tensor([0.5, 0.4, 0.3])[:, None, None]) / torch.tensor([0.2, 0.3, 0.4])[:, None, None]
    np.testing.assert_allclose(out.numpy(), expect.numpy(), rtol=1e-6)
    g = ember.Generator().manual_seed(0)
    crop = T.RandomCrop(4, padding=2, generator=g)(np.ones((6, 6), np.uint8))
    assert crop.shape == (4, 4)
    flip = T.RandomHorizontalFlip(p=1.0)(img)
    np.testing.assert_array_equal(flip, img[:, ::-1])
    assert T.RandomHorizontalFlip(p=0.0)(img) is img
    pipeline = T.Compose([T.ToTensor(), T.Lambda(lambda z: z * 2)])
    np.testing.assert_allclose(pipeline(img).numpy()[0], img / 255.0 * 2, rtol=1e-6)
    with pytest.raises(ValueError):
        T.RandomCrop(10)(img)


def test_random_transforms_draw_what_torchvision_draws():
    """After the same seed, RandomCrop and RandomHorizontalFlip make torchvision's choices: its algorithm is
    one ``randint(0, n, (1,))`` per crop offset (none when the crop is the whole image) and one float32
    ``rand(1) < p`` per flip, replayed here on torch's generator."""
    img = np.arange(2 * 6 * 7, dtype=np.float32).reshape(2, 6, 7)
    ember.manual_seed(5)
    flip, crop, whole = T.RandomHorizontalFlip(p=0.5), T.RandomCrop((4, 5), padding=1), T.RandomCrop((6, 7))
    got = []
    for _ in range(8):
        got.append(flip(ember.tensor(img)).numpy())
        whole(ember.tensor(img))
        got.append(crop(ember.tensor(img)).numpy())
    torch.manual_seed(5)
    padded = np.pad(img, [(0, 0), (1, 1), (1, 1)])
    for k in range(8):
        np.testing.assert_array_equal(got[2 * k], img[..., ::-1] if torch.rand(1) < 0.5 else img)
        i = torch.randint(0, 8 - 4 + 1, size=(1,)).item()
        j = torch.randint(0, 9 - 5 + 1, size=(1,)).item()
        np.testing.assert_array_equal(got[2 * k + 1], padded[:, i:i + 4, j:j + 5])
