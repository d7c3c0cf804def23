"""The base of ember's datasets: (sample, label) pairs held as two tensors."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from ..utils.data import Dataset


class ArrayDataset(Dataset):
    """(x, y) pairs from two arrays, with optional transforms."""

    def __init__(self, x: np.ndarray, y: np.ndarray, transform=None, target_transform=None) -> None:
        self.data = Tensor._make(np.ascontiguousarray(x))
        self.targets = Tensor._make(np.ascontiguousarray(y).astype(np.int64))
        self.transform, self.target_transform = transform, target_transform

    def __getitem__(self, index: int):
        x, y = self.data._data[index], int(self.targets._data[index])
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def __len__(self) -> int:
        return self.data.shape[0]
