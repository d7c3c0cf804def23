"""Random numbers: generators, seeding, and the random factories and in-place fillers.

torch's CPU generator, reproduced: a 32-bit Mersenne Twister (mt19937) seeded with ``init_genrand`` on
the low 32 bits of the seed, whose raw words each sampler turns into values as torch's CPU kernel does.
So ``ember.manual_seed(s)`` followed by the same calls gives the same numbers as ``torch.manual_seed(s)``
(rand, randn, randint, randperm, the in-place fillers, poisson, binomial, the gamma and Dirichlet samplers
behind ember.distributions, module initialisation, DataLoader shuffling), up to
the last bits of the transcendental functions in normal samples. ``bernoulli_``/dropout with a scalar
probability follow torch's generic kernel, which torch itself uses only on non-Intel CPUs (on Intel CPUs
it switches to MKL's own stream); they are right in distribution everywhere.
"""
from __future__ import annotations

import contextlib
import math
import struct
from fractions import Fraction

import numpy as np

from . import _dtype
from ._tensor import Tensor
from .autograd.function import Op
from ._ops.common import broadcast_error, check_inplace, write_inplace, write_out, _type_name
from ._ops.out import resize_out
from ._factories import _size, _finish, out_dtype
from . import _sampler_kernels as _kernels


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
_N = 624  # words in the twister's state
_U64 = np.uint64


def _init_genrand(seed: int) -> np.ndarray:
    """The twister's state from a 32-bit seed (Matsumoto and Nishimura's init_genrand)."""
    key, s = np.empty(_N, np.uint32), seed & 0xFFFFFFFF
    for j in range(_N):
        key[j] = s
        s = (1812433253 * (s ^ (s >> 30)) + j + 1) & 0xFFFFFFFF
    return key


def _digits(dt: np.dtype) -> int:
    """The significand bits of a float dtype (torch's ``numeric_limits<T>::digits``)."""
    return {8: 53, 4: 24}.get(dt.itemsize, 8 if dt.name == "bfloat16" else 11)


def _shape(size) -> tuple:
    return () if size is None else (size,) if isinstance(size, (int, np.integer)) else tuple(size)


class _Stream:
    """torch's CPU sampling kernels on a Mersenne Twister, with NumPy ``Generator`` signatures.

    NumPy's MT19937 hands out the raw 32-bit words in bulk; each method turns them into values exactly as
    torch's kernel does (which words, how many, in what order). The signatures are NumPy's, so vmap's
    per-sample draws (``ember.func``) and NumPy-style callers work unchanged; NumPy's own samplers (its
    ``gamma``, ``binomial``, ...) fall through to the same twister: reproducible, not torch's. torch's gamma,
    Poisson, binomial and Dirichlet kernels are ``poisson``, ``binomial``, ``_standard_gamma`` and
    ``_sample_dirichlet`` below.
    """

    def __init__(self, seed: int) -> None:
        self.bits = np.random.MT19937()
        self.fresh_key = _init_genrand(seed)  # torch tells a never-used state apart in get_state()
        self.bits.state = {"bit_generator": "MT19937", "state": {"key": self.fresh_key, "pos": _N}}
        self._np = np.random.Generator(self.bits)
        self.normal_cache = None  # the unused half of torch's last scalar Box-Muller pair (a double)
        self.float_normal_cache = None  # torch's float twin: never filled by its CPU kernels, kept in the state

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._np, name)

    # raw draws: torch's random() and random64() (two words, the first the high half)
    def words(self, n: int) -> np.ndarray:
        return self.bits.random_raw(n)

    def words64(self, n: int) -> np.ndarray:
        w = self.words(2 * n)
        return (w[0::2] << _U64(32)) | w[1::2]

    def unit(self, n: int, digits: int) -> np.ndarray:
        """n uniforms on [0, 1) with ``digits`` random bits each: 53 from one random64 (a double), else from
        one random() (a float, exact)."""
        if digits == 53:
            return (self.words64(n) & _U64((1 << 53) - 1)).astype(np.float64) * 2.0 ** -53
        return (self.words(n).astype(np.uint32) & np.uint32((1 << digits) - 1)).astype(np.float32) * \
            np.float32(2.0 ** -digits)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float64) -> np.ndarray:
        """torch's ``uniform_(low, high)``: ``u * (high - low) + low`` with one rounding (a fused multiply-add),
        in double for float64, else in float from 24-bit uniforms."""
        shape, dt = _shape(size), np.dtype(dtype)
        u = self.unit(math.prod(shape), 53 if dt.itemsize == 8 else 24).reshape(shape)
        if (low, high) == (0, 1) and dt.itemsize >= 4:
            return u.astype(dt)
        if dt.itemsize == 8:
            return _fma64(u, np.float64(high) - np.float64(low), np.float64(low))
        lo, hi = np.asarray(low).astype(dt), np.asarray(high).astype(dt)
        width = (hi.astype(np.float32) - lo.astype(np.float32)).astype(dt).astype(np.float64)
        # the product is exact in double, so a double sum rounded to float is the fused result
        out = (u.astype(np.float64) * width + lo.astype(np.float64)).astype(np.float32).astype(dt)
        return np.where(out == hi, lo, out) if dt.itemsize < 4 else out  # torch keeps `high` out of half's range

    def random(self, size=None, dtype=np.float64) -> np.ndarray:
        return self.uniform(0.0, 1.0, size, dtype)

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=np.float64, serial: bool = False) -> np.ndarray:
        """torch's ``normal_(loc, scale)``: Box-Muller over blocks of 16 uniforms for 16 or more contiguous
        elements, else (``serial``) one pair at a time in double, keeping the pair's second sample."""
        shape, dt = _shape(size), np.dtype(dtype)
        n = math.prod(shape)
        if n >= 16 and not serial:
            # computed in float for the narrower dtypes, as torch's (there with vectorised log/sin/cos)
            digits, full = (53 if dt.itemsize == 8 else 24), n - n % 16
            z = np.empty(n, np.float64 if digits == 53 else np.float32)
            # float and double draw all n uniforms first; half and bfloat16 (computed in float) only full blocks
            z[:n if dt.itemsize >= 4 else full] = self.unit(n if dt.itemsize >= 4 else full, digits)
            z[:full] = _box_muller(z[:full])
            if n % 16:  # torch redraws the last 16 (overwriting some finished ones)
                z[n - 16:] = _box_muller(self.unit(16, digits))
        else:
            z = np.empty(n)
            start = 0
            if n and self.normal_cache is not None:
                z[0], self.normal_cache, start = self.normal_cache, None, 1
            pairs = (n - start + 1) // 2
            u = self.unit(2 * pairs, 53)
            r, theta = np.sqrt(-2.0 * np.log1p(-u[1::2])), (2.0 * math.pi) * u[0::2]
            seq = np.stack([r * np.cos(theta), r * np.sin(theta)], 1).ravel()
            z[start:] = seq[:n - start]
            if (n - start) % 2:
                self.normal_cache = float(seq[-1])
        return (z.reshape(shape) * scale + loc).astype(dt)

    def standard_normal(self, size=None, dtype=np.float64) -> np.ndarray:
        return self.normal(0.0, 1.0, size, dtype)

    def exponential(self, scale=1.0, size=None, dtype=np.float64) -> np.ndarray:
        """torch's ``exponential_(1 / scale)``: ``-1/lambda * log(1 - u)`` in double."""
        u = self.unit(math.prod(_shape(size)), 53).reshape(_shape(size))
        return (-scale * np.log1p(-u)).astype(dtype)

    def standard_exponential(self, size=None, dtype=np.float64) -> np.ndarray:
        return self.exponential(1.0, size, dtype)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint: bool = False):
        """torch's ``random_(low, high)``: one draw modulo the range, 64 bits wide for a range of 2^32 or more
        (in the dtypes that hold such ranges), else 32."""
        if high is None:
            low, high = 0, low
        low, high = int(low), int(high) + bool(endpoint)
        shape, dt = _shape(size), np.dtype(dtype)
        if _dtype.is_float(dt):
            low, high = _float_bounds(low, high, dt)
        n, span = math.prod(shape), high - low
        if span == 1 << 64:  # torch's full 64-bit range: the draw itself, as a signed integer
            v = self.words64(n).view(np.int64)
        else:
            wide = span >= 1 << 32 and (dt.itemsize == 8 or dt.name in ("float32", "bfloat16"))
            with np.errstate(over="ignore"):
                v = ((self.words64(n) if wide else self.words(n)) % _U64(span)).astype(np.int64) + np.int64(low)
        out = v.astype(dt).reshape(shape)
        return out[()] if size is None else out

    def full_range(self, size, dtype) -> np.ndarray:
        """torch's ``random_()`` without bounds: [0, 2^digits] for floats, [0, max] for integers, 0/1 for bool."""
        shape, dt = _shape(size), np.dtype(dtype)
        n = math.prod(shape)
        if dt == np.bool_:
            return (self.words(n) & _U64(1)).astype(dt).reshape(shape)
        top = (1 << _digits(dt)) + 1 if _dtype.is_float(dt) else int(np.iinfo(dt).max) + 1
        w = self.words64(n) if dt.itemsize == 8 else self.words(n)
        return (w % _U64(top)).astype(dt).reshape(shape)

    def permutation(self, n: int) -> np.ndarray:
        """torch's randperm: Fisher-Yates swapping i with i + random() % (n - i); from n = 2^32/20 on, the
        inside-out variant with random64() % (i + 1)."""
        if n < 0xFFFFFFFF // 20:
            targets = (self.words(max(n - 1, 0)) % np.arange(n, 1, -1, dtype=_U64)).astype(np.int64)
            perm = list(range(n))
            for i, j in enumerate((targets + np.arange(len(targets))).tolist()):
                perm[i], perm[j] = perm[j], perm[i]
            return np.array(perm, dtype=np.int64)
        out = np.empty(n, np.int64)
        for i, z in enumerate((self.words64(n) % np.arange(1, n + 1, dtype=_U64)).tolist()):
            out[i], out[z] = out[z], i
        return out


def _float_bounds(low: int, high: int, dt: np.dtype) -> tuple:
    """torch's bounds for integers in a float dtype: one that rounds outward moves in by the spacing there."""
    step = lambda x: 1 << (abs(x).bit_length() - _digits(dt))  # noqa: E731
    if int(np.array(low + 1).astype(dt).astype(np.float64)) < low:
        low = int(np.array(low + 1).astype(dt).astype(np.float64)) + step(low + 1)
    if int(np.array(high - 1).astype(dt).astype(np.float64)) >= high:
        high = int(np.array(high - 1).astype(dt).astype(np.float64)) - step(high - 1)
    return low, high


def _fma64(u: np.ndarray, width: float, low: float) -> np.ndarray:
    """``u * width + low`` rounded once, as torch's fused multiply-add: in long double, and exactly (with
    fractions) for the few results that long double's error could have pushed across a halfway point."""
    wide = u.astype(np.longdouble) * np.longdouble(width) + np.longdouble(low)
    out = wide.astype(np.float64)
    err = (np.abs(u * width) + abs(low)) * 2.0 ** (1 - np.finfo(np.longdouble).nmant)
    unsure = np.abs(np.abs(wide - out) - np.abs(np.spacing(out)) / 2) <= err
    for i in np.flatnonzero(unsure | (np.abs(np.frexp(out)[0]) == 0.5)):
        out.flat[i] = float(Fraction(float(u.flat[i])) * Fraction(width) + Fraction(low))
    return out


def _box_muller(u: np.ndarray) -> np.ndarray:
    """torch's normal_fill_16 on each block of 16 uniforms: the first 8 give the radius, the last 8 the angle."""
    b = u.reshape(-1, 2, 8)
    radius, theta = np.sqrt(-2.0 * np.log(1 - b[:, 0])), (2.0 * math.pi) * b[:, 1]
    return np.stack([radius * np.cos(theta), radius * np.sin(theta)], 1).ravel()


_STATE = struct.Struct("<QiiQ")  # torch's CPUGeneratorImplState: seed, left, seeded, next, then the words
_STATE_BYTES = 5056


class Generator:
    """A source of random numbers with its own seed and state, as ``torch.Generator`` (the same stream)."""

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
        self._rng = _Stream(self._seed)
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
        """The full state as a uint8 tensor, byte for byte torch's 5056-byte layout."""
        rng = self._rng
        st = rng.bits.state["state"]
        pos = int(st["pos"])
        fresh = pos == _N and np.array_equal(st["key"], rng.fresh_key)
        raw = bytearray(_STATE_BYTES)
        _STATE.pack_into(raw, 0, self._seed, _N + 1 - pos, 1, 0 if fresh else pos)
        raw[24:24 + 8 * _N] = st["key"].astype("<u8").tobytes()
        if rng.normal_cache is not None:
            struct.pack_into("<d", raw, 5024, rng.normal_cache)
            struct.pack_into("<i", raw, 5040, 1)
        if rng.float_normal_cache is not None:
            struct.pack_into("<f?", raw, 5048, rng.float_normal_cache, True)
        return Tensor._make(np.frombuffer(bytes(raw), dtype=np.uint8).copy())

    def set_state(self, new_state) -> "Generator":
        """Restore a state from ``get_state`` (or torch's ``get_rng_state()``): a uint8 tensor or bytes."""
        if isinstance(new_state, Tensor):
            if new_state.dtype is not _dtype.uint8:
                raise TypeError(f"set_state: expected a torch.ByteTensor (uint8), but got {new_state.dtype}")
            raw = new_state._data.tobytes()
        else:
            raw = bytes(new_state)
        if len(raw) != _STATE_BYTES:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {_STATE_BYTES} but found the input RNG "
                               f"state size to be {len(raw)}")
        seed, left, seeded, nxt = _STATE.unpack_from(raw, 0)
        if not (seeded and 0 < left <= _N and nxt <= _N):
            raise RuntimeError("Invalid mt19937 state")
        key = np.frombuffer(raw, "<u8", _N, 24).astype(np.uint32)
        rng = _Stream(0)
        rng.fresh_key = key if (left, nxt) == (1, 0) else None
        rng.bits.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": _N + 1 - left}}
        if struct.unpack_from("<i", raw, 5040)[0]:
            rng.normal_cache = struct.unpack_from("<d", raw, 5024)[0]
        value, valid = struct.unpack_from("<f?", raw, 5048)
        rng.float_normal_cache = value if valid else None
        self._rng, self._seed = rng, seed
        return self

    def __repr__(self) -> str:
        return f"<ember.Generator object at {hex(id(self))}>"


default_generator = Generator()


def _gen(generator) -> _Stream:
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


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, _caller: str = "fork_rng", _devices_kw: str = "devices",
             device_type: str | None = None):
    """Restore the default generator's state on exit, so draws inside leave the outer stream untouched."""
    if device_type == "meta" or not enabled:
        yield
        return
    if devices is not None and list(devices):  # torch's CPU build fails reading a CUDA device's state
        from .cuda import _no_cuda
        raise _no_cuda("get_rng_state")
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def _float_dtype(dtype, op: str, complex_ok: bool = False) -> _dtype.dtype:
    dt = _dtype.get_default_dtype() if dtype is None else _dtype.as_dtype(dtype)
    if not (dt.is_floating_point or complex_ok and dt in (_dtype.complex64, _dtype.complex128)):
        raise NotImplementedError(f"{op}: not implemented for '{_type_name(dt)}' (needs a floating point dtype)")
    return dt


_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
               "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _uniform(rng, shape, dt) -> np.ndarray:
    if dt.is_complex:  # torch's: (real, imaginary) pairs drawn as reals
        return rng.random(tuple(shape) + (2,), dtype=_real(dt)).view(dt.np).reshape(shape)
    return rng.random(shape, dtype=dt.np)


def _real(dt: _dtype.dtype) -> np.dtype:
    return np.dtype(dt.np).type(0).real.dtype


def _normal(rng, shape, dt, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """torch's ``normal_(mean, std)`` in ``dt``; a complex one, as torch's, draws its (real, imaginary) pairs as
    reals of ``std / sqrt(2)``, both parts offset by ``mean``."""
    if dt.is_complex:
        return rng.normal(mean, std / math.sqrt(2), tuple(shape) + (2,), _real(dt)).view(dt.np).reshape(shape)
    return rng.normal(mean, std, shape, dt.np)


# ----------------------------------------------------------------------------- factories
@_allocating
def rand(*sizes, size=None, generator: Generator | None = None, dtype=None, device=None,
         requires_grad: bool = False, out=None, layout=None, pin_memory: bool = False) -> Tensor:
    """Uniform samples on [0, 1)."""
    dt = _float_dtype(out_dtype(dtype, out, "rand"), "rand", complex_ok=True)
    return _finish(_uniform(_gen(generator), _size(sizes, size), dt), requires_grad, device, out)


@_allocating
def randn(*sizes, size=None, generator: Generator | None = None, dtype=None, device=None,
          requires_grad: bool = False, out=None, layout=None, pin_memory: bool = False) -> Tensor:
    """Standard normal samples."""
    dt = _float_dtype(out_dtype(dtype, out, "randn"), "randn", complex_ok=True)
    return _finish(_normal(_gen(generator), _size(sizes, size), dt), requires_grad, device, out)


def _int_range(low: int, high: int, op: str) -> None:
    if low >= high:
        raise RuntimeError(f"{op}: expects 'from' to be less than 'to', but got from={low} >= to={high}")


def _integers(rng, low: int, high: int, shape, dt) -> np.ndarray:
    return rng.integers(low, high, shape, dtype=dt.np)


@_allocating
def randint(*args, size=None, generator: Generator | None = None, dtype=None, device=None,
            requires_grad: bool = False, out=None, layout=None, pin_memory: bool = False, low=None,
            high=None) -> Tensor:
    """Integers drawn uniformly from [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None:
        if not args:
            raise TypeError("randint() missing required argument 'size'")
        *args, size = args
    if high is not None:
        args = [(args[0] if args else 0) if low is None else low, high]
    elif low is not None:
        args = [low, *args]
    if len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError(f"randint() takes (high, size) or (low, high, size), got {len(args) + 1} positional arguments")
    low, high = int(low), int(high)
    _int_range(low, high, "randint")
    dtype = out_dtype(dtype, out, "randint")
    dt = _dtype.int64 if dtype is None else _dtype.as_dtype(dtype)
    shape = _size((size,) if isinstance(size, int) else tuple(size))
    return _finish(_integers(_gen(generator), low, high, shape, dt), requires_grad, device, out)


@_allocating
def randperm(n: int, *, generator: Generator | None = None, dtype=None, device=None,
             requires_grad: bool = False, out=None, layout=None, pin_memory: bool = False) -> Tensor:
    """A random permutation of ``0 .. n-1``."""
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    dtype = out_dtype(dtype, out, "randperm")
    dt = _dtype.int64 if dtype is None else _dtype.as_dtype(dtype)
    if dt is _dtype.bool_ or dt.is_complex:
        raise NotImplementedError(f'"randperm" not implemented for \'{_type_name(dt)}\'')
    # torch refuses an n whose values the dtype cannot all hold exactly
    limit, text = {_dtype.float16: (2049, "2049"), _dtype.float32: (2 ** 24 + 1, "2^24+1")}.get(dt, (n, ""))
    if n > limit:
        raise RuntimeError(f"randperm: n cannot be greater than {text} for {_type_name(dt)} type.")
    return _finish(_gen(generator).permutation(int(n)).astype(dt.np), requires_grad, device, out)


def rand_like(input: Tensor, *, generator: Generator | None = None, dtype=None, device=None,
              requires_grad: bool = False, memory_format=None, layout=None) -> Tensor:
    """Uniform samples on [0, 1) shaped like ``input``."""
    dt = _float_dtype(input.dtype if dtype is None else dtype, "rand_like", complex_ok=True)
    return _finish(_uniform(_gen(generator), input._data.shape, dt), requires_grad, device)


def randn_like(input: Tensor, *, generator: Generator | None = None, dtype=None, device=None,
               requires_grad: bool = False, memory_format=None, layout=None) -> Tensor:
    """Standard normal samples shaped like ``input``."""
    dt = _float_dtype(input.dtype if dtype is None else dtype, "randn_like", complex_ok=True)
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
        dt = _float_dtype(out_dtype(dtype, out, "normal"), "normal", complex_ok=True)
        shape = _size((size,) if isinstance(size, int) else tuple(size))
        return _finish(_normal(rng, shape, dt, mean, std), requires_grad, device, out)
    if tm and ts:
        try:
            shape = np.broadcast_shapes(mean._data.shape, std._data.shape)
        except ValueError:
            raise RuntimeError(f"normal: the shapes of mean {list(mean.shape)} and std {list(std.shape)} "
                               "are not broadcastable") from None
    else:
        shape = (mean if tm else std)._data.shape
    if tm and not ts and out is not None:
        # torch's result is the mean's shape broadcast with out's (out of (2, 3) for a mean of (3,)); an out that
        # does not broadcast, even an empty one, is refused
        try:
            shape = np.broadcast_shapes(mean._data.shape, out._data.shape)
        except ValueError:
            raise broadcast_error("normal", mean._data.shape, out._data.shape) from None
    # torch's output is made like the mean (else the std), or is out: its kernel draws in that dtype
    dt = (mean if tm else std).dtype if out is None else out.dtype
    if not (dt.is_floating_point or dt in (_dtype.complex64, _dtype.complex128)):
        raise NotImplementedError(f'"normal_kernel_cpu" not implemented for \'{_type_name(dt)}\'')
    s = std._data if ts else std
    if np.any(np.asarray(s) < 0):
        raise RuntimeError("normal expects all elements of std >= 0.0")
    m = mean._data if tm else mean
    # as torch: N(0, 1) samples scaled by a tensor std, or N(0, std) for a number; then the mean added
    # (a complex out takes complex draws, the mean added to their real parts)
    z = (_normal(rng, shape, dt) * s).astype(dt.np) if ts else _normal(rng, shape, dt, 0.0, std)
    result = Normal.apply(mean, std, (z + m).astype(dt.np))
    if out is None:
        return result
    return write_out("normal", result, out)


def bernoulli(input: Tensor, p: float | None = None, *, generator: Generator | None = None, out=None) -> Tensor:
    """0/1 samples: 1 with probability ``input`` (element-wise) or ``p``; ``input``'s dtype and shape."""
    if p is not None and out is not None:  # (torch's overload with p takes no out)
        raise TypeError("bernoulli() received an invalid combination of arguments - got (Tensor, float, out=Tensor): "
                        "bernoulli(input, p) takes no out")
    prob = input._data if p is None else p
    if np.any((np.asarray(prob) < 0) | (np.asarray(prob) > 1)):
        raise RuntimeError("bernoulli: all elements of the probability must satisfy 0 <= p <= 1")
    result = Bernoulli.apply(input, _bernoulli(_gen(generator), input._data.shape, prob).astype(input._data.dtype))
    if out is None:
        return result
    if out.is_complex():
        raise NotImplementedError(f'"bernoulli_tensor_cpu_self_" not implemented for \'{_type_name(out.dtype)}\'')
    # torch resizes out silently (in its own memory) and writes the draws in out's dtype
    resize_out(out, result._data.shape, warn=False)
    return write_out("bernoulli", result.to(out.dtype), out)


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
    if replacement and num_samples > 1:
        # torch's kernel: per row, the normalised running sum (in the input's dtype) and one double uniform
        # per sample; the first category whose running sum reaches it
        cdf = np.cumsum(p.reshape(rows.shape), axis=-1)
        cdf = cdf / cdf[:, -1:]
        cdf[:, -1] = 1
        u = rng.random((rows.shape[0], num_samples))
        idx = np.stack([np.searchsorted(c, r, side="left") for c, r in zip(cdf, u)])
    else:
        if num_samples > rows.shape[1]:
            raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without "
                               f"replacement (n_sample={num_samples}, size={rows.shape[1]})")
        if np.any((rows > 0).sum(-1) < num_samples):
            raise RuntimeError("multinomial: invalid multinomial distribution (with replacement=False, not "
                               "enough non-negative category to sample)")
        # torch's: the largest p / q with q ~ Exp(1) in the input's dtype (the Gumbel-max trick)
        with np.errstate(divide="ignore", invalid="ignore"):
            keys = p.reshape(rows.shape) / rng.standard_exponential(rows.shape, p.dtype)
        idx = np.argsort(-keys, axis=-1, kind="stable")[:, :num_samples]
    return _finish(idx.astype(np.int64).reshape(p.shape[:-1] + (num_samples,)), False, None, out)


# ----------------------------------------------------------------------------- gamma, Poisson, binomial, Dirichlet
def _kernel_dtype(t: Tensor, kernel: str, wide: bool = False) -> np.dtype:
    """``t``'s dtype where torch's kernel has it (float and double; ``wide`` adds half and bfloat16)."""
    names = ("float32", "float64") + (("float16", "bfloat16") if wide else ())
    if t.dtype.name not in names:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{_TYPE_NAMES.get(t.dtype.name, t.dtype.name)}\'')
    return t._data.dtype


def _serial(rng, fn, *arrays, expect: int = 4) -> np.ndarray:
    """``fn(draws, *values)`` for each element of the broadcast ``arrays`` in C order (torch's serial kernel
    walks its fresh, contiguous output), all from one stream of scalar draws; the results in double."""
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    cols = [np.broadcast_to(a, shape).ravel().tolist() for a in arrays]
    with _kernels.Draws(rng, expect * math.prod(shape)) as draws:
        out = [fn(draws, *values) for values in zip(*cols)]
    return np.array(out, np.float64).reshape(shape)


class Poisson(_ZeroGrad):
    pass


@_kernels.vmap_rule
def poisson(input: Tensor, generator: Generator | None = None) -> Tensor:
    """Poisson counts with element-wise rates ``input``, in its dtype (torch's sampler, element by element)."""
    dt = _kernel_dtype(input, "poisson_cpu", wide=True)
    lam = input._data.astype(np.float64)
    if not np.all(lam >= 0):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    return Poisson.apply(input, _serial(_gen(generator), lambda d, v: _kernels.poisson(v, d), lam).astype(dt))


@_kernels.vmap_rule
def binomial(count: Tensor, prob: Tensor, generator: Generator | None = None) -> Tensor:
    """Successes in ``count`` trials of probability ``prob`` (element-wise), in ``count``'s dtype."""
    if not count.is_floating_point():
        raise ValueError("binomial only supports floating-point dtypes for count, got: "
                         f"{_TYPE_NAMES.get(count.dtype.name)}")
    dt = _kernel_dtype(count, "binomial_cpu")
    if prob.dtype is not count.dtype:
        raise RuntimeError(f"binomial: found dtype {_TYPE_NAMES.get(prob.dtype.name)} for prob but expected "
                           f"{_TYPE_NAMES.get(count.dtype.name)} (count's)")
    rd = _kernels.rounding(dt)
    out = _serial(_gen(generator), lambda d, n, p: _kernels.binomial(n, p, d, rd), count._data, prob._data)
    return _finish(out.astype(dt), False)


class StandardGamma(Op):
    """A Gamma(alpha, 1) sample, differentiable in alpha by torch's implicit reparameterisation."""

    @staticmethod
    def forward(alpha, x):
        return x

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0], Tensor._make(output))

    @staticmethod
    def backward(ctx, g):
        alpha, x = ctx.saved_tensors
        return g * _standard_gamma_grad(alpha.detach(), x.detach()), None


def _gammas(rng, alpha: np.ndarray, dt: np.dtype) -> np.ndarray:
    """torch's gamma kernel: Gamma(alpha, 1) draws in ``dt``, kept at least its smallest normal number."""
    rd = _kernels.rounding(dt)
    draws = _serial(rng, lambda d, a: _kernels.gamma(a, d, rd), alpha).astype(dt)
    tiny = np.finfo(dt).tiny
    return np.where(draws > tiny, draws, tiny)  # std::max(tiny, draw): a nan draw gives tiny


@_kernels.vmap_rule
def _standard_gamma(input: Tensor, generator: Generator | None = None) -> Tensor:
    """Gamma(input, 1) samples (torch's ``_standard_gamma``): reparameterised, so differentiable in ``input``."""
    dt = _kernel_dtype(input, "gamma_cpu")
    return StandardGamma.apply(input, _gammas(_gen(generator), input._data, dt))


def _elementwise(name: str, fn, *tensors: Tensor) -> Tensor:
    """One of torch's gradient formulas, ``fn(*arrays, f32)``, over broadcast tensors (float or double)."""
    dt = _kernel_dtype(tensors[0], name)
    arrays = np.broadcast_arrays(*(t._data for t in tensors))
    with np.errstate(all="ignore"):  # C's arithmetic: inf and nan, no warnings
        out = fn(*(a.astype(np.float64).ravel() for a in arrays), dt == np.float32)
    return _finish(out.reshape(arrays[0].shape).astype(dt), False)


def _standard_gamma_grad(input: Tensor, output: Tensor) -> Tensor:
    """d output / d input of Gamma(input, 1) samples ``output`` at fixed quantile (torch's approximation)."""
    return _elementwise("_standard_gamma_grad_cpu", _kernels.standard_gamma_grad, input, output)


def _dirichlet_grad(x: Tensor, alpha: Tensor, total: Tensor) -> Tensor:
    """The reparameterised gradient of Dirichlet samples ``x`` in their concentrations (torch's approximation)."""
    return _elementwise("_dirichlet_grad_cpu", _kernels.dirichlet_grad, x, alpha, total)


@_kernels.vmap_rule
def _sample_dirichlet(input: Tensor, generator: Generator | None = None) -> Tensor:
    """Dirichlet samples with concentrations along the last dim: gamma draws in double, normalised."""
    dt = _kernel_dtype(input, "dirichlet")
    g = _gammas(_gen(generator), input._data.astype(np.float64), np.dtype(np.float64))
    total = _kernels.row_sums(g) if g.size and g.ndim else g
    with np.errstate(invalid="ignore"):
        x = (g / total).astype(dt)
    tiny, top = np.finfo(dt).tiny, np.nextafter(dt.type(1), dt.type(0))
    x = np.where(x > tiny, x, tiny)  # std::max(tiny, x) and std::min(top, x): a nan becomes tiny
    return _finish(np.where(x < top, x, top), False)


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


def _order(self: Tensor) -> list:
    """``self``'s dims from the slowest-moving in memory to the fastest: the order torch's kernels walk it."""
    a = self._data
    return sorted(range(a.ndim), key=lambda d: -abs(a.strides[d]) if a.shape[d] > 1 else 0)


def _draw(self: Tensor, sample, name: str) -> Tensor:
    """Fill ``self`` with ``sample(shape)``, drawn in the order of ``self``'s memory."""
    order = _order(self)
    arr = sample(tuple(self._data.shape[d] for d in order))
    return _fill(self, np.transpose(arr, np.argsort(order)), name)


def _bernoulli(rng, shape, p) -> np.ndarray:
    """torch's generic kernel: a uniform below p, in double for a number or a double p, else in float."""
    wide = not isinstance(p, np.ndarray) or p.dtype == np.float64
    return rng.random(shape, np.float64 if wide else np.float32) < p


def uniform_(self: Tensor, from_: float = 0.0, to: float = 1.0, *, generator: Generator | None = None,
             **kwargs) -> Tensor:
    """Fill with uniform samples on [from, to)."""
    from_ = kwargs.pop("from", from_)
    if from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={from_} > to={to}")
    dt = _float_dtype(self.dtype, "uniform_")
    return _draw(self, lambda shape: _gen(generator).uniform(from_, to, shape, dt.np), "uniform_")


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill with normal samples."""
    if std < 0:
        raise RuntimeError(f"normal_ expects std >= 0.0, but found std {std}")
    dt = _float_dtype(self.dtype, "normal_")
    serial = not self._data.flags.c_contiguous  # torch draws a strided tensor one pair at a time
    return _draw(self, lambda shape: _gen(generator).normal(mean, std, shape, dt.np, serial), "normal_")


def bernoulli_(self: Tensor, p=0.5, *, generator: Generator | None = None) -> Tensor:
    """Fill with 0/1 samples that are 1 with probability ``p`` (a number or a broadcastable tensor)."""
    prob = p._data if isinstance(p, Tensor) else p
    if np.any((np.asarray(prob) < 0) | (np.asarray(prob) > 1)):
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    if isinstance(prob, np.ndarray):
        prob = np.broadcast_to(prob, self._data.shape)
        return _draw(self, lambda shape: _bernoulli(_gen(generator), shape, prob.transpose(_order(self))), "bernoulli_")
    return _draw(self, lambda shape: _bernoulli(_gen(generator), shape, prob), "bernoulli_")


def exponential_(self: Tensor, lambd: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill with exponential samples of rate ``lambd``."""
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    if not self.is_floating_point():
        raise RuntimeError("exponential_: Exponential distribution is a continuous probability distribution. dtype "
                           f"must be a floating point but you specified {_TYPE_NAMES[self.dtype.name]}")
    return _draw(self, lambda shape: _gen(generator).exponential(1.0 / lambd, shape), "exponential_")


_UNSET = object()


def random_(self: Tensor, from_: int | None = None, to=_UNSET, *, generator: Generator | None = None,
            **kwargs) -> Tensor:
    """Fill with integers from [from, to); ``random_(to)`` is [0, to); ``random_(from, None)`` up to the dtype's
    largest; no bound: [0, the dtype's largest] (for floats: every integer they hold exactly)."""
    from_, to = kwargs.pop("from", from_), kwargs.pop("to", to)
    rng, dt = _gen(generator), self._data.dtype
    if to is _UNSET and from_ is None:
        return _draw(self, lambda shape: rng.full_range(shape, dt), "random_")
    if to is _UNSET:
        low, high = 0, int(from_)
    elif to is None:
        low = int(from_)
        high = (1 << _digits(dt)) + 1 if _dtype.is_float(dt) else \
            2 if dt == np.bool_ else int(np.iinfo(dt).max) + 1
    else:
        low, high = (0 if from_ is None else int(from_)), int(to)
    _int_range(low, high, "random_")
    return _draw(self, lambda shape: rng.integers(low, high, shape, dt), "random_")


for _fn in (uniform_, normal_, bernoulli_, exponential_, random_):
    setattr(Tensor, _fn.__name__, _fn)
Tensor.bernoulli = bernoulli
Tensor.multinomial = multinomial
from ._ops import random_ops  # noqa: E402,F401  (cauchy_, log_normal_, geometric_: they need the fillers above)

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed", "get_rng_state",
           "set_rng_state", "fork_rng", "rand", "randn", "randint", "randperm", "rand_like", "randn_like",
           "randint_like", "normal", "bernoulli", "multinomial", "poisson", "binomial"]
