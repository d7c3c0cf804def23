"""Small datasets built locally: MNIST-1D (Greydanus 2020) and scikit-learn's 8x8 digits."""
from __future__ import annotations

import os

import numpy as np

from ._base import ArrayDataset as _ArrayDataset


def _cache_dir() -> str:
    return os.environ.get("EMBER_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "ember"))


class MNIST1D(_ArrayDataset):
    """MNIST-1D (Greydanus, 2020): 40-point 1-D signals of the ten digits, 4000 train / 1000 test.

    Built locally with the ``mnist1d`` package's generator and its default arguments
    (seed 42), then cached as a ``.npz`` (arrays only, loaded without pickle).
    Samples are float32 arrays of shape (40,) and int labels.
    """

    def __init__(self, train: bool = True, transform=None, target_transform=None, root: str | None = None) -> None:
        arrays = self.generate(root)
        x, y = (arrays["x"], arrays["y"]) if train else (arrays["x_test"], arrays["y_test"])
        super().__init__(x.astype(np.float32), y, transform, target_transform)
        self.train = train

    @staticmethod
    def generate(root: str | None = None) -> dict:
        """The dataset's arrays (x, y, x_test, y_test), generated once and cached."""
        folder = root or _cache_dir()
        path = os.path.join(folder, "mnist1d_default.npz")
        if os.path.exists(path):
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        try:
            from mnist1d.data import get_dataset_args, make_dataset
        except ImportError:
            raise ImportError("MNIST1D needs the optional 'mnist1d' package: pip install 'ember[examples]'") from None
        state = np.random.get_state()
        try:
            data = make_dataset(get_dataset_args())
        finally:
            np.random.set_state(state)  # the generator seeds NumPy's global RNG; leave it as it was
        arrays = {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}
        os.makedirs(folder, exist_ok=True)
        tmp = path + f".{os.getpid()}.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
        return arrays


class Digits(_ArrayDataset):
    """scikit-learn's bundled 8x8 handwritten digits (1797 images), split 80/20 with a fixed seed."""

    def __init__(self, train: bool = True, transform=None, target_transform=None, seed: int = 0) -> None:
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise ImportError("Digits needs the optional scikit-learn package: pip install 'ember[examples]'") \
                from None
        d = load_digits()
        perm = np.random.default_rng(seed).permutation(len(d.target))
        cut = int(0.8 * len(perm))
        idx = perm[:cut] if train else perm[cut:]
        super().__init__((d.images[idx] / 16.0).astype(np.float32), d.target[idx], transform, target_transform)
        self.train = train
