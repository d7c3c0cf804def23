"""Discrete Fourier transforms, as ``torch.fft``: NumPy's FFTs through the backend seam, in torch's dtypes
(float32 in, complex64 out), differentiable.

Three primitives carry the gradients: ``C2C`` (complex to complex), ``R2C`` (real to the first half of the
spectrum) and ``C2R`` (that half back to a real signal). A DFT is linear, so each backward is the adjoint
transform: the DFT of the other direction with the dual scaling (``_DUAL``). Every other function (2-D, n-D,
Hermitian, shifts) is composed of these three and ``Resize``, which zero-pads or trims the signal to ``n``.
"""
from __future__ import annotations

import warnings

from . import _dtype
from ._backend import xp
from ._tensor import Tensor
from .autograd.function import Op
from ._ops.complex import cj, real

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
           "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftshift", "ifftshift", "fftfreq", "rfftfreq"]

# the adjoint of a transform scaled 1 (norm "backward" forward) is the other direction scaled 1 ("forward")
_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _complex_of(x) -> object:
    return _dtype.from_np(x.dtype).to_complex().np


def _real_of(x) -> object:
    return _dtype.from_np(x.dtype).to_real().np


class Resize(Op):
    """The signal zero-padded or trimmed to ``sizes`` along ``dims`` (its own adjoint, sizes swapped)."""

    @staticmethod
    def forward(x, dims, sizes):
        shape = list(x.shape)
        for d, n in zip(dims, sizes):
            shape[d] = n
        out = xp.zeros(shape, x.dtype)
        common = tuple(slice(0, min(a, b)) for a, b in zip(x.shape, shape))
        out[common] = x[common]
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.dims, ctx.sizes = inputs[1], tuple(inputs[0]._data.shape[d] for d in inputs[1])

    @staticmethod
    def backward(ctx, g):
        return Resize.apply(g, ctx.dims, ctx.sizes)


class C2C(Op):
    @staticmethod
    def forward(x, dims, norm, inverse):
        f = xp.fft.ifftn if inverse else xp.fft.fftn
        return f(x, axes=dims, norm=norm).astype(x.dtype, copy=False)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, ctx.dims, ctx.norm, ctx.inverse = inputs

    @staticmethod
    def backward(ctx, g):
        return C2C.apply(g, ctx.dims, _DUAL[ctx.norm], not ctx.inverse)


class R2C(Op):
    """The one-sided spectrum of a real signal along ``dim``."""

    @staticmethod
    def forward(x, dim, norm):
        return xp.fft.rfft(x, axis=dim, norm=norm).astype(_complex_of(x), copy=False)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.dim, ctx.norm = inputs
        ctx.n = x._data.shape[ctx.dim]

    @staticmethod
    def backward(ctx, g):
        # the missing half of the spectrum does not depend on anything else: its gradient is zero
        full = Resize.apply(g, (ctx.dim,), (ctx.n,))
        return real(C2C.apply(full, (ctx.dim,), _DUAL[ctx.norm], True))


class C2R(Op):
    """The real signal of length ``n`` whose one-sided spectrum along ``dim`` is the input (n // 2 + 1 long)."""

    @staticmethod
    def forward(x, dim, n, norm):
        return xp.fft.irfft(x, n=n, axis=dim, norm=norm).astype(_real_of(x), copy=False)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, ctx.dim, ctx.n, ctx.norm = inputs

    @staticmethod
    def backward(ctx, g):
        gx = R2C.apply(g, ctx.dim, _DUAL[ctx.norm])
        # each coefficient other than the first and (n even) the last stands for itself and its mirror image
        half = gx._data.shape[ctx.dim]
        w = xp.ones(half, _real_of(g._data))
        w[1:ctx.n - half + 1] = 2
        shape = [1] * g._data.ndim
        shape[ctx.dim] = half
        return gx * Tensor._make(w.reshape(shape))


# ----------------------------------------------------------------------------- arguments, as torch checks them
def _norm(norm: str | None) -> str:
    if norm is None:
        return "backward"
    if norm not in _DUAL:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    return norm


def _dims_sizes(x: Tensor, s, dim, op: str) -> tuple:
    """torch's reading of ``s`` and ``dim``: the transformed dims and their signal lengths (None: as given)."""
    ndim = x._data.ndim
    if isinstance(dim, int):
        dim = (dim,)
    if isinstance(s, int):
        s = (s,)
    if dim is not None:
        dims = tuple(_wrap(d, ndim) for d in dim)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"{op}: FFT dims must be unique")
        if s is not None and len(s) != len(dims):
            raise RuntimeError(f"{op}: When given, dim and shape arguments must have the same length")
    elif s is not None:
        if len(s) > ndim:
            raise RuntimeError(f"{op}: Got shape with {len(s)} values but input tensor only has {ndim} dimensions.")
        dims = tuple(range(ndim - len(s), ndim))
    else:
        dims = tuple(range(ndim))
    sizes = None if s is None else tuple(None if n == -1 else _check_n(n) for n in s)
    return dims, sizes


def _wrap(d: int, ndim: int) -> int:
    if ndim == 0:
        raise IndexError(f"Dimension specified as {d} but tensor has no dimensions")
    if not -ndim <= d < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {d})")
    return d % ndim


def _check_n(n: int) -> int:
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return n


def _float(x: Tensor) -> Tensor:
    return x if x._data.dtype.kind in "fc" else x.to(_dtype.get_default_dtype())


def _complex(x: Tensor) -> Tensor:
    x = _float(x)
    return x if x._data.dtype.kind == "c" else x.to(x.dtype.to_complex())


def _resize(x: Tensor, dims: tuple, sizes) -> Tensor:
    """``x`` padded or trimmed to ``sizes`` along ``dims`` (None, or a None size: left as it is)."""
    if sizes is None:
        return x
    want = tuple(x._data.shape[d] if n is None else n for d, n in zip(dims, sizes))
    if want == tuple(x._data.shape[d] for d in dims):
        return x
    return Resize.apply(x, dims, want)


def _real_input(x: Tensor, op: str) -> Tensor:
    if x._data.dtype.kind == "c":
        from ._ops.common import _type_name
        raise RuntimeError(f"{op[4:]} expects a real input tensor, but got {_type_name(x.dtype)}")
    return _float(x)


# ----------------------------------------------------------------------------- complex to complex
def _c2c(x: Tensor, s, dim, norm, inverse: bool, op: str) -> Tensor:
    dims, sizes = _dims_sizes(x, s, dim, op)
    x = _resize(_complex(x), dims, sizes)
    return C2C.apply(x, dims, _norm(norm), inverse) if dims else x


def fft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The 1-D discrete Fourier transform."""
    return _c2c(input, n, (dim,), norm, False, "fft_fft")


def ifft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The 1-D inverse discrete Fourier transform."""
    return _c2c(input, n, (dim,), norm, True, "fft_ifft")


def fft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """The 2-D discrete Fourier transform."""
    return _c2c(input, s, dim, norm, False, "fft_fft2")


def ifft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """The 2-D inverse discrete Fourier transform."""
    return _c2c(input, s, dim, norm, True, "fft_ifft2")


def fftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """The n-D discrete Fourier transform."""
    return _c2c(input, s, dim, norm, False, "fft_fftn")


def ifftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """The n-D inverse discrete Fourier transform."""
    return _c2c(input, s, dim, norm, True, "fft_ifftn")


# ----------------------------------------------------------------------------- real signals
def _r2c(x: Tensor, s, dim, norm, op: str) -> Tensor:
    """rfftn: the one-sided transform along the last of ``dims``, then full ones along the others."""
    x = _real_input(x, op)
    dims, sizes = _dims_sizes(x, s, dim, op)
    if not dims:
        raise RuntimeError(f"{op} must transform at least one axis")
    norm = _norm(norm)
    half = R2C.apply(_resize(x, dims, sizes), dims[-1], norm)
    return C2C.apply(half, dims[:-1], norm, False) if len(dims) > 1 else half


def _c2r(x: Tensor, s, dim, norm, op: str) -> Tensor:
    """irfftn: the full inverse transforms along all but the last of ``dims``, then the one-sided one."""
    x = _complex(x)
    dims, sizes = _dims_sizes(x, s, dim, op)
    if not dims:
        raise RuntimeError(f"{op} must transform at least one axis")
    norm = _norm(norm)
    last = dims[-1]
    n = sizes[-1] if sizes is not None and sizes[-1] is not None else 2 * (x._data.shape[last] - 1)
    _check_n(n)
    x = _resize(x, dims, (sizes[:-1] if sizes is not None else (None,) * (len(dims) - 1)) + (n // 2 + 1,))
    if len(dims) > 1:
        x = C2C.apply(x, dims[:-1], norm, True)
    return C2R.apply(x, last, n, norm)


def rfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The 1-D transform of a real signal: the n // 2 + 1 non-negative frequencies."""
    return _r2c(input, n, (dim,), norm, "fft_rfft")


def irfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The inverse of ``rfft``: a real signal of length ``n`` (default 2 * (input length - 1))."""
    return _c2r(input, n, (dim,), norm, "fft_irfft")


def rfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """The 2-D transform of a real signal, one-sided along the last dim."""
    return _r2c(input, s, dim, norm, "fft_rfft2")


def irfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """The inverse of ``rfft2``."""
    return _c2r(input, s, dim, norm, "fft_irfft2")


def rfftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """The n-D transform of a real signal, one-sided along the last dim."""
    return _r2c(input, s, dim, norm, "fft_rfftn")


def irfftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """The inverse of ``rfftn``."""
    return _c2r(input, s, dim, norm, "fft_irfftn")


# ----------------------------------------------------------------------------- Hermitian signals
# A signal with a Hermitian-symmetric half has a real spectrum: hfftn is irfftn of the conjugate with the
# dual scaling, and ihfftn the conjugate of rfftn, as NumPy defines them.
def hfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The transform of a Hermitian-symmetric signal given by its first half: a real spectrum."""
    return _c2r(cj(_complex(input)), n, (dim,), _DUAL[_norm(norm)], "fft_hfft")


def ihfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The inverse of ``hfft``: the first half of the inverse transform of a real signal."""
    return cj(_r2c(input, n, (dim,), _DUAL[_norm(norm)], "fft_ihfft"))


def hfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """The 2-D ``hfft``."""
    return _c2r(cj(_complex(input)), s, dim, _DUAL[_norm(norm)], "fft_hfft2")


def ihfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """The 2-D ``ihfft``."""
    return cj(_r2c(input, s, dim, _DUAL[_norm(norm)], "fft_ihfft2"))


def hfftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """The n-D ``hfft``."""
    return _c2r(cj(_complex(input)), s, dim, _DUAL[_norm(norm)], "fft_hfftn")


def ihfftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """The n-D ``ihfft``."""
    return cj(_r2c(input, s, dim, _DUAL[_norm(norm)], "fft_ihfftn"))


# ----------------------------------------------------------------------------- helpers
def _shift(x: Tensor, dim, sign: int) -> Tensor:
    dims = tuple(range(x._data.ndim)) if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
    return x.roll(tuple(sign * (x._data.shape[d] // 2) for d in dims), dims) if dims else x


def fftshift(input: Tensor, dim=None) -> Tensor:
    """The zero frequency moved to the middle of ``dim`` (all dims by default)."""
    return _shift(input, dim, 1)


def ifftshift(input: Tensor, dim=None) -> Tensor:
    """The inverse of ``fftshift``."""
    return _shift(input, dim, -1)


def _freq(k, n: int, d: float, dtype, requires_grad: bool) -> Tensor:
    # torch multiplies the integers by 1 / (n d) in the result's dtype
    dt = (_dtype.get_default_dtype() if dtype is None else _dtype.as_dtype(dtype)).np
    t = Tensor._make(k.astype(dt) * dt.type(1.0 / (n * d)))
    return t.requires_grad_(True) if requires_grad else t


def fftfreq(n: int, d: float = 1.0, *, dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """The sample frequencies of an ``n``-point transform with sample spacing ``d``."""
    k = xp.concatenate([xp.arange((n - 1) // 2 + 1), xp.arange(-(n // 2), 0)])
    return _freq(k, n, d, dtype, requires_grad)


def rfftfreq(n: int, d: float = 1.0, *, dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """The non-negative sample frequencies of an ``n``-point ``rfft``."""
    return _freq(xp.arange(n // 2 + 1), n, d, dtype, requires_grad)


# ----------------------------------------------------------------------------- short-time transforms
def stft(input: Tensor, n_fft: int, hop_length: int | None = None, win_length: int | None = None,
         window: Tensor | None = None, center: bool = True, pad_mode: str = "reflect", normalized: bool = False,
         onesided: bool | None = None, return_complex: bool | None = None, align_to_window: bool | None = None
         ) -> Tensor:
    """The short-time Fourier transform of a signal (or a batch of them), as ``torch.stft``."""
    from .nn.functional import pad
    complex_in = input.is_complex() or (window is not None and window.is_complex())
    if return_complex is None:
        if not complex_in:
            raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will "
                               "further require that return_complex=True in a future PyTorch release.")
        return_complex = True
    if input._data.ndim not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, but got a {input._data.ndim}D tensor")
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if not 0 < n_fft <= input._data.shape[-1] + (2 * (n_fft // 2) if center else 0):
        raise RuntimeError(f"stft: expected 0 < n_fft < {input._data.shape[-1]}, but got n_fft={n_fft}")
    if hop <= 0 or not 0 < win <= n_fft:
        raise RuntimeError(f"stft: expected hop_length > 0 and 0 < win_length <= n_fft, but got "
                           f"hop_length={hop}, win_length={win}")
    x = _float(input).reshape((-1, input._data.shape[-1]))
    if center:
        x = pad(x.unsqueeze(1), (n_fft // 2, n_fft // 2), mode=pad_mode).squeeze(1)
    frames = x.unfold(-1, n_fft, hop)  # (batch, frames, n_fft)
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied,which is known to cause "
                      "spectral leakage. Other windows such as torch.hann_window or torch.hamming_window are "
                      "recommended to reduce spectral leakage.", UserWarning, stacklevel=2)
        window = Tensor._make(xp.ones(win, x._data.real.dtype))
    elif window._data.shape != (win,):
        raise RuntimeError(f"stft: expected a 1D window tensor of size equal to win_length={win}, but got "
                           f"window with size {list(window.shape)}")
    left = (n_fft - win) // 2  # a shorter window sits in the middle of each frame
    frames = frames * pad(window, (left, n_fft - win - left))
    norm = "ortho" if normalized else "backward"
    one = not complex_in if onesided is None else onesided
    spec = rfft(frames, norm=norm) if one else fft(frames, norm=norm)
    spec = spec.transpose(-1, -2)
    spec = spec.reshape(input._data.shape[:-1] + spec._data.shape[-2:])
    if return_complex:
        return spec
    warnings.warn("stft with return_complex=False is deprecated. In a future pytorch release, stft will return "
                  "complex tensors for all inputs, and return_complex=False will raise an error.", UserWarning,
                  stacklevel=2)
    from ._ops.complex import view_as_real
    return view_as_real(spec)


def istft(input: Tensor, n_fft: int, hop_length: int | None = None, win_length: int | None = None,
          window: Tensor | None = None, center: bool = True, normalized: bool = False, onesided: bool | None = None,
          length: int | None = None, return_complex: bool = False) -> Tensor:
    """The inverse of ``stft``: each frame's inverse transform, windowed, overlap-added and divided by the
    overlap-added squared window, as ``torch.istft``."""
    from .nn.functional import pad
    if not input.is_complex():
        raise RuntimeError("istft requires a complex-valued input tensor matching the output from stft with "
                           "return_complex=True.")
    if input._data.ndim not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor with 2 or 3 dimensions of complex dtype, but got "
                           f"{input._data.ndim}")
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    fft_size, n_frames = input._data.shape[-2:]
    one = fft_size != n_fft if onesided is None else onesided
    if (n_fft // 2 + 1 if one else n_fft) != fft_size:
        raise RuntimeError(f"istft: expected the frequency dimension (3rd to the last) of the input tensor to match "
                           f"n_fft / 2 + 1 when onesided=True, but got {fft_size}" if one else
                           f"istft: expected the frequency dimension of the input to equal n_fft={n_fft} when "
                           f"onesided=False, but got {fft_size}")
    if not 0 < win <= n_fft or hop <= 0:
        raise RuntimeError(f"istft: expected 0 < win_length <= n_fft and hop_length > 0, but got win_length={win}, "
                           f"hop_length={hop}")
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied.Please provide the same "
                      "window used by stft to make the inversion lossless.", UserWarning, stacklevel=2)
        window = Tensor._make(xp.ones(win, input._data.real.dtype))
    left = (n_fft - win) // 2
    window = pad(window, (left, n_fft - win - left))
    frames = input.reshape((-1,) + input._data.shape[-2:]).transpose(1, 2)  # (batch, frames, freq)
    norm = "ortho" if normalized else "backward"
    if return_complex:
        if one:
            raise RuntimeError("istft: cannot have onesided output if window or input is complex")
        frames = ifft(frames, n_fft, norm=norm)
    else:
        frames = irfft(frames if one else frames.narrow(-1, 0, n_fft // 2 + 1), n_fft, norm=norm)
    total = n_fft + hop * (n_frames - 1)
    pos = Tensor._make((xp.arange(n_frames)[:, None] * hop + xp.arange(n_fft)).reshape(-1))
    y = (frames * window).reshape(frames._data.shape[0], -1)
    y = y.new_zeros((y._data.shape[0], total)).index_add(1, pos, y)
    envelope = (window * window).expand(n_frames, n_fft).reshape(-1)
    envelope = envelope.new_zeros((total,)).index_add(0, pos, envelope)
    start = n_fft // 2 if center else 0
    end = start + length if length is not None else total - n_fft // 2 if center else total
    y, envelope = y[:, start:min(end, total)], envelope[start:min(end, total)]
    if envelope._data.size and float(xp.abs(envelope._data).min()) < 1e-11:
        raise RuntimeError(f"istft: window overlap add min: {float(xp.abs(envelope._data).min())}")
    y = y / envelope
    if end > total:
        y = pad(y, (0, end - total))
    return y.reshape(input._data.shape[:-2] + y._data.shape[-1:])


Tensor.stft, Tensor.istft = stft, istft

from ._ops.out import publish as _publish  # noqa: E402

_publish(globals(), __all__)  # torch's out= on each
