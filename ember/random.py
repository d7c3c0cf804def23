"""Random numbers: generators, seeding, and the random factories and in-place fillers.

Each ``Generator`` owns a NumPy ``np.random.Generator(PCG64)``, so the same seed gives
the same numbers in every op that draws. The stream differs from torch's (its
Mersenne Twister and kernels are not reproduced), so only distributions, shapes,
dtypes and reproducibility match torch, not the exact values.
"""
from __future__ import annotations

import numpy as np

from . import _dtype
from ._tensor import Tensor
from .autograd.function import Op
from ._ops.common import check_inplace, write_inplace
from ._factories import _size, _finish


def _allocating(fn):
    """A sampler whose failed allocation raises RuntimeError, as torch's allocator does (NumPy: MemoryError)."""
    import functools

    @functools.wraps(fn)
    def sample(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MemoryError:
            raise RuntimeError(f"{fn.__name__}: can't allocate memory for the requested size") from None
    return sample

_DEFAULT_SEED = 67280421310721  # torch's default generator seed, so initial_seed() reads the same
_MASK64 = (1 << 64) - 1


class Generator:
    """A source of random numbers with its own seed and state, as ``torch.Generator``."""

    def __init__(self, device="cpu") -> None:
        if str(device).split(":")[0] != "cpu":
            raise RuntimeError(f"ember: device '{device}' is not available (only 'cpu' in this build)")
        self.manual_seed(_DEFAULT_SEED)

    @property
    def device(self):
        from ._tensor import device
        return device("cpu")

    def manual_seed(self, seed: int) -> "Generator":
        """Reset the state from ``seed``; returns the generator."""
        seed = int(seed)
        if not -(1 << 63) <= seed < (1 << 64):
            raise RuntimeError(f"Overflow when unpacking long long: seed {seed} is out of range")
        self._seed = seed & _MASK64  # torch stores negative seeds as their 64-bit two's complement
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Seed from the OS's entropy; returns the new seed."""
        s = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed the current stream started from."""
        return self._seed

    def get_state(self) -> Tensor:
        """The full state as a uint8 tensor (restore it with ``set_state``)."""
        st = self._rng.bit_generator.state
        raw = (st["state"]["state"].to_bytes(16, "little") + st["state"]["inc"].to_bytes(16, "little")
               + bytes([st["has_uint32"]]) + int(st["uinteger"]).to_bytes(4, "little")
               + self._seed.to_bytes(8, "little"))
        return Tensor._make(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state) -> "Generator":
        """Restore a state from ``get_state`` (a uint8 tensor or bytes)."""
        if isinstance(new_state, Tensor):
            if new_state.dtype is not _dtype.uint8:
                raise TypeError(f"set_state: expected a torch.ByteTensor (uint8), but got {new_state.dtype}")
            raw = new_state._data.tobytes()
        else:
            raw = bytes(new_state)
        if len(raw) != _STATE_BYTES:
            raise RuntimeError(f"set_state: expected a state of {_STATE_BYTES} bytes, got {len(raw)}")
        bg = np.random.PCG64()
        bg.state = {"bit_generator": "PCG64",
                    "state": {"state": int.from_bytes(raw[0:16], "little"), "inc": int.from_bytes(raw[16:32], "little")},
                    "has_uint32": raw[32], "uinteger": int.from_bytes(raw[33:37], "little")}
        self._rng = np.random.Generator(bg)
        self._seed = int.from_bytes(raw[37:45], "little")
        return self

    def __repr__(self) -> str:
        return f"<ember.Generator object at {hex(id(self))}>"


_STATE_BYTES = 45
default_generator = Generator()


def _gen(generator) -> np.random.Generator:
    return (default_generator if generator is None else generator)._rng


def manual_seed(seed: int) -> Generator:
    """Seed the default generator; returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator non-deterministically; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The default generator's initial seed."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The default generator's state as a uint8 tensor."""
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    """Restore the default generator's state."""
    default_generator.set_state(new_state)


def _float_dtype(dtype, op: str) -> _dtype.dtype:
    dt = _dtype.get_default_dtype() if dtype is None else _dtype.as_dtype(dtype)
    if not dt.is_floating_point:
        raise NotImplementedError(f"{op}: not implemented for '{_TYPE_NAMES[dt.name]}' (needs a floating point dtype)")
    return dt


_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
               "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _uniform(rng, shape, dt) -> np.ndarray:
    if dt.np is np.float32 or dt.np is np.float64:
        return rng.random(shape, dtype=dt.np)
    return rng.random(shape, dtype=np.float32).astype(dt.np)


def _normal(rng, shape, dt) -> np.ndarray:
    if dt.np is np.float32 or dt.np is np.float64:
        return rng.standard_normal(shape, dtype=dt.np)
    return rng.standard_normal(shape, dtype=np.float32).astype(dt.np)


# ----------------------------------------------------------------------------- factories
@_allocating
def rand(*sizes, size=None, generator: Generator | None = None, dtype=None, device=None,
         requires_grad: bool = False, out=None, layout=None, pin_memory: bool = False) -> Tensor:
    """Uniform samples on [0, 1)."""
    dt = _float_dtype(dtype, "rand")
    return _finish(_uniform(_gen(generator), _size(sizes, size), dt), requires_grad, device)


@_allocating
def randn(*sizes, size=None, generator: Generator | None = None, dtype=None, device=None,
          requires_grad: bool = False, out=None, layout=None, pin_memory: bool = False) -> Tensor:
    """Standard normal samples."""
    dt = _float_dtype(dtype, "randn")
    return _finish(_normal(_gen(generator), _size(sizes, size), dt), requires_grad, device)


def _int_range(low: int, high: int, op: str) -> None:
    if low >= high:
        raise RuntimeError(f"{op}: expects 'from' to be less than 'to', but got from={low} >= to={high}")


def _integers(rng, low: int, high: int, shape, dt) -> np.ndarray:
    return rng.integers(low, high, shape, dtype=np.int64).astype(dt.np)


@_allocating
def randint(*args, size=None, generator: Generator | None = None, dtype=None, device=None,
            requires_grad: bool = False, out=None, layout=None, pin_memory: bool = False) -> Tensor:
    """Integers drawn uniformly from [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None:
        if not args:
            raise TypeError("randint() missing required argument 'size'")
        *args, size = args
    if len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError(f"randint() takes (high, size) or (low, high, size), got {len(args) + 1} positional arguments")
    low, high = int(low), int(high)
    _int_range(low, high, "randint")
    dt = _dtype.int64 if dtype is None else _dtype.as_dtype(dtype)
    shape = _size((size,) if isinstance(size, int) else tuple(size))
    return _finish(_integers(_gen(generator), low, high, shape, dt), requires_grad, device)


@_allocating
def randperm(n: int, *, generator: Generator | None = None, dtype=None, device=None,
             requires_grad: bool = False, out=None, layout=None, pin_memory: bool = False) -> Tensor:
    """A random permutation of ``0 .. n-1``."""
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    dt = _dtype.int64 if dtype is None else _dtype.as_dtype(dtype)
    return _finish(_gen(generator).permutation(int(n)).astype(dt.np), requires_grad, device)


def rand_like(input: Tensor, *, generator: Generator | None = None, dtype=None, device=None,
              requires_grad: bool = False, memory_format=None, layout=None) -> Tensor:
    """Uniform samples on [0, 1) shaped like ``input``."""
    dt = _float_dtype(input.dtype if dtype is None else dtype, "rand_like")
    return _finish(_uniform(_gen(generator), input._data.shape, dt), requires_grad, device)


def randn_like(input: Tensor, *, generator: Generator | None = None, dtype=None, device=None,
               requires_grad: bool = False, memory_format=None, layout=None) -> Tensor:
    """Standard normal samples shaped like ``input``."""
    dt = _float_dtype(input.dtype if dtype is None else dtype, "randn_like")
    return _finish(_normal(_gen(generator), input._data.shape, dt), requires_grad, device)


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *, generator: Generator | None = None,
                 dtype=None, device=None, requires_grad: bool = False, memory_format=None,
                 layout=None) -> Tensor:
    """Integers from [low, high) shaped like ``input``, in ``input``'s dtype."""
    if high is None:
        low, high = 0, low
    _int_range(int(low), int(high), "randint_like")
    dt = input.dtype if dtype is None else _dtype.as_dtype(dtype)
    return _finish(_integers(_gen(generator), int(low), int(high), input._data.shape, dt), requires_grad, device)


class _ZeroGrad(Op):
    """A sample whose value depends on its inputs only through randomness: its gradient is zero, as in torch."""

    @staticmethod
    def forward(*arrays):
        return arrays[-1]

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.shapes = [tuple(a.shape) if isinstance(a, Tensor) else None for a in inputs[:-1]]

    @staticmethod
    def backward(ctx, g):
        from ._factories import zeros
        return tuple(None if s is None else zeros(s, dtype=g.dtype) for s in ctx.shapes)


class Normal(_ZeroGrad):
    pass


class Bernoulli(_ZeroGrad):
    pass


@_allocating
def normal(mean, std=1.0, size=None, *, generator: Generator | None = None, dtype=None, device=None,
           requires_grad: bool = False, out=None, layout=None, pin_memory: bool = False) -> Tensor:
    """Normal samples with element-wise ``mean`` and ``std`` (tensors or numbers, broadcast)."""
    rng = _gen(generator)
    tm, ts = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not tm and not ts:
        if size is None:
            raise TypeError("normal(): with float mean and std, the size argument is required")
        dt = _float_dtype(dtype, "normal")
        shape = _size((size,) if isinstance(size, int) else tuple(size))
        return _finish((_normal(rng, shape, dt) * std + mean).astype(dt.np), requires_grad, device)
    if tm and ts:
        try:
            shape = np.broadcast_shapes(mean._data.shape, std._data.shape)
        except ValueError:
            raise RuntimeError(f"normal: the shapes of mean {list(mean.shape)} and std {list(std.shape)} "
                               "are not broadcastable") from None
        dt = _dtype.promote_types(mean.dtype, std.dtype)
    else:
        shape = (mean if tm else std)._data.shape
        dt = (mean if tm else std).dtype
    if not dt.is_floating_point:
        raise RuntimeError(f"normal: expected a floating point mean/std, but got {dt}")
    s = std._data if ts else std
    if np.any(np.asarray(s) < 0):
        raise RuntimeError("normal expects all elements of std >= 0.0")
    m = mean._data if tm else mean
    sample = (_normal(rng, shape, dt) * s + m).astype(dt.np)
    return Normal.apply(mean, std, sample)


def bernoulli(input: Tensor, p: float | None = None, *, generator: Generator | None = None, out=None) -> Tensor:
    """0/1 samples: 1 with probability ``input`` (element-wise) or ``p``; ``input``'s dtype and shape."""
    prob = input._data if p is None else p
    if np.any((np.asarray(prob) < 0) | (np.asarray(prob) > 1)):
        raise RuntimeError("bernoulli: all elements of the probability must satisfy 0 <= p <= 1")
    dt = input.dtype
    u = _gen(generator).random(input._data.shape)
    sample = (u < prob).astype(dt.np)
    return Bernoulli.apply(input, sample)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None, out=None) -> Tensor:
    """Category indices drawn from each row of (unnormalised) probabilities ``input``."""
    if out is not None and out.dtype is not _dtype.int64:
        raise RuntimeError(f"multinomial expects Long tensor out, got: {out.dtype}")
    p = input._data
    if p.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {list(input.shape)}")
    if not input.is_floating_point():
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {input.dtype}")
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples (got {num_samples})")
    rows = p.reshape(-1, p.shape[-1]).astype(np.float64)
    if not np.all(np.isfinite(rows)) or np.any(rows < 0):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    total = rows.sum(-1, keepdims=True)
    if np.any(total <= 0):
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    rng = _gen(generator)
    if replacement:
        cdf = np.cumsum(rows / total, axis=-1)
        cdf[:, -1] = 1.0  # guard rounding so that every draw lands in a category
        u = rng.random((rows.shape[0], num_samples))
        # side="right": category k is drawn for cdf[k-1] <= u < cdf[k], never when its probability is zero
        idx = np.stack([np.searchsorted(c, r, side="right") for c, r in zip(cdf, u)])
    else:
        if num_samples > rows.shape[1]:
            raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without "
                               f"replacement (n_sample={num_samples}, size={rows.shape[1]})")
        if np.any((rows > 0).sum(-1) < num_samples):
            raise RuntimeError("multinomial: invalid multinomial distribution (with replacement=False, not "
                               "enough non-negative category to sample)")
        # sampling without replacement in proportion to p = taking the smallest Exp(1)/p keys
        with np.errstate(divide="ignore"):
            keys = rng.standard_exponential(rows.shape) / rows
        idx = np.argsort(keys, axis=-1, kind="stable")[:, :num_samples]
    return _finish(idx.astype(np.int64).reshape(p.shape[:-1] + (num_samples,)), False, None, out)


# ----------------------------------------------------------------------------- in-place fillers
class _Overwrite(Op):
    """The graph side of an in-place random fill: the new values do not depend on the old ones."""

    @staticmethod
    def forward(x, new):
        return new

    @staticmethod
    def backward(ctx, g):
        return None


def _fill(self: Tensor, arr: np.ndarray, name: str) -> Tensor:
    check_inplace(self, name)
    return write_inplace(self, _Overwrite.apply(self, arr.astype(self._data.dtype, copy=False)), name)


def uniform_(self: Tensor, from_: float = 0.0, to: float = 1.0, *, generator: Generator | None = None,
             **kwargs) -> Tensor:
    """Fill with uniform samples on [from, to)."""
    from_ = kwargs.pop("from", from_)
    if from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={from_} > to={to}")
    dt = _float_dtype(self.dtype, "uniform_")
    return _fill(self, _uniform(_gen(generator), self._data.shape, dt) * (to - from_) + from_, "uniform_")


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill with normal samples."""
    if std < 0:
        raise RuntimeError(f"normal_ expects std >= 0.0, but found std {std}")
    dt = _float_dtype(self.dtype, "normal_")
    return _fill(self, _normal(_gen(generator), self._data.shape, dt) * std + mean, "normal_")


def bernoulli_(self: Tensor, p=0.5, *, generator: Generator | None = None) -> Tensor:
    """Fill with 0/1 samples that are 1 with probability ``p`` (a number or a broadcastable tensor)."""
    prob = p._data if isinstance(p, Tensor) else p
    if np.any((np.asarray(prob) < 0) | (np.asarray(prob) > 1)):
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    return _fill(self, _gen(generator).random(self._data.shape) < prob, "bernoulli_")


def exponential_(self: Tensor, lambd: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill with exponential samples of rate ``lambd``."""
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    if not self.is_floating_point():
        raise RuntimeError("exponential_: Exponential distribution is a continuous probability distribution. dtype "
                           f"must be a floating point but you specified {_TYPE_NAMES[self.dtype.name]}")
    return _fill(self, _gen(generator).standard_exponential(self._data.shape) / lambd, "exponential_")


# the exclusive top of random_() with no bounds: every integer a float dtype holds exactly, inclusive
_RANDOM_TOP = {"float16": (1 << 11) + 1, "float32": (1 << 24) + 1, "float64": (1 << 53) + 1,
               "int64": (1 << 63) - 1, "int32": (1 << 31) - 1, "int16": (1 << 15) - 1, "int8": (1 << 7) - 1,
               "uint8": 1 << 8, "bool": 2}


def random_(self: Tensor, from_: int | None = None, to: int | None = None, *, generator: Generator | None = None,
            **kwargs) -> Tensor:
    """Fill with integers from [from, to); ``random_(to)`` is [0, to); no bound: the dtype's exact range."""
    from_ = kwargs.pop("from", from_)
    if to is None:
        low, high = 0, (_RANDOM_TOP[self.dtype.name] if from_ is None else from_)
    else:
        low, high = (0 if from_ is None else from_), to
    _int_range(int(low), int(high), "random_")
    return _fill(self, _gen(generator).integers(int(low), int(high), self._data.shape, dtype=np.int64), "random_")


for _fn in (uniform_, normal_, bernoulli_, exponential_, random_):
    setattr(Tensor, _fn.__name__, _fn)
Tensor.bernoulli = bernoulli
Tensor.multinomial = multinomial
from ._ops import random_ops  # noqa: E402,F401  (cauchy_, log_normal_, geometric_: they need the fillers above)

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed", "get_rng_state",
           "set_rng_state", "rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like",
           "normal", "bernoulli", "multinomial"]
