"""Image transforms on NumPy arrays (HxW or HxWxC), as torchvision.transforms."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ._tensor import Tensor


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return "Compose(\n" + "".join(f"    {t}\n" for t in self.transforms) + ")"


class ToTensor:
    """HxW or HxWxC array -> CxHxW float32 tensor; uint8 images scaled to [0, 1]."""

    def __call__(self, pic) -> Tensor:
        a = np.asarray(pic)
        if a.ndim == 2:
            a = a[:, :, None]
        if a.ndim != 3:
            raise ValueError(f"pic should be 2/3 dimensional. Got {a.ndim} dimensions.")
        out = np.ascontiguousarray(a.transpose(2, 0, 1))
        out = out.astype(np.float32) / 255.0 if a.dtype == np.uint8 else out.astype(np.float32)
        return Tensor._make(out)

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """(x - mean) / std per channel of a CxHxW tensor."""

    def __init__(self, mean, std, inplace: bool = False) -> None:
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        if (self.std == 0).any():
            raise ValueError("std evaluated to zero after conversion to float32, leading to division by zero.")

    def __call__(self, t: Tensor) -> Tensor:
        a = t._data if isinstance(t, Tensor) else np.asarray(t, np.float32)
        if a.ndim < 3:
            raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). Got {a.shape}.")
        shape = (-1, 1, 1)
        return Tensor._make(((a - self.mean.reshape(shape)) / self.std.reshape(shape)).astype(a.dtype))

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


def _draw_below(n: int, generator) -> int:
    """One ``randint(0, n, (1,))`` draw: what torchvision draws, so a seed gives torch's crops."""
    from .random import randint
    return int(randint(0, n, (1,), generator=generator).item())


def _draw_unit(generator) -> float:
    """One ``rand(1)`` draw (float32, as torchvision's)."""
    from .random import rand
    return float(rand(1, generator=generator).item())


def _hw(x):
    a = x._data if isinstance(x, Tensor) else np.asarray(x)
    # tensors are C x H x W; arrays H x W (x C)
    return a, (a.shape[-2], a.shape[-1]) if isinstance(x, Tensor) else (a.shape[0], a.shape[1])


class RandomCrop:
    """Crop a random ``size`` window, after optional zero (or ``fill``) padding."""

    def __init__(self, size, padding: int | None = None, fill: float = 0, generator=None) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding, self.fill, self.generator = padding, fill, generator

    def __call__(self, x):
        is_t = isinstance(x, Tensor)
        a = x._data if is_t else np.asarray(x)
        hw_axes = (a.ndim - 2, a.ndim - 1) if is_t else (0, 1)
        if self.padding:
            pad = [(0, 0)] * a.ndim
            for ax in hw_axes:
                pad[ax] = (self.padding, self.padding)
            a = np.pad(a, pad, constant_values=self.fill)
        h, w = a.shape[hw_axes[0]], a.shape[hw_axes[1]]
        th, tw = self.size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size {(h, w)}")
        if (h, w) == (th, tw):  # torchvision draws nothing then
            return Tensor._make(a.copy()) if is_t else a.copy()
        i, j = _draw_below(h - th + 1, self.generator), _draw_below(w - tw + 1, self.generator)
        sl = [slice(None)] * a.ndim
        sl[hw_axes[0]], sl[hw_axes[1]] = slice(i, i + th), slice(j, j + tw)
        out = np.ascontiguousarray(a[tuple(sl)])
        return Tensor._make(out) if is_t else out

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p``."""

    def __init__(self, p: float = 0.5, generator=None) -> None:
        self.p, self.generator = p, generator

    def __call__(self, x):
        if not _draw_unit(self.generator) < self.p:
            return x
        if isinstance(x, Tensor):
            return Tensor._make(np.ascontiguousarray(x._data[..., ::-1]))
        return np.ascontiguousarray(np.asarray(x)[:, ::-1])

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class Lambda:
    """Apply a user function."""

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, x):
        return self.lambd(x)

    def __repr__(self) -> str:
        return "Lambda()"
