"""Datasets: MNIST, Fashion-MNIST (IDX files), MNIST-1D and 8x8 digits (generated locally)."""
from .mnist import MNIST, FashionMNIST, read_idx, DatasetFileError
from .synthetic import MNIST1D, Digits

__all__ = ["MNIST", "FashionMNIST", "MNIST1D", "Digits", "read_idx", "DatasetFileError"]
