"""ember.fft against torch.fft 2.13.0: values, dtypes and gradients of every transform under each norm,
with n/s padding and trimming, the frequency helpers, shifts and torch's errors."""
import numpy as np
import pytest
import torch

import ember

NORMS = (None, "backward", "ortho", "forward")
# (name, real input?, argument sets): one-dim transforms take n, the others s
ONE = [dict(), dict(n=9), dict(n=4, dim=0), dict(n=1, dim=1), dict(dim=-2)]
MULTI = [dict(), dict(s=(3, 10)), dict(s=(7, 4), dim=(0, 2)), dict(dim=(2, 0)), dict(s=(-1, 5)), dict(dim=1)]
KINDS = ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")


def _two_dims(args) -> bool:
    return len(args.get("s", "ab")) == 2 and len(np.atleast_1d(args.get("dim", (0, 1)))) == 2


FUNCS = [(name, args) for name in KINDS for args in ONE] + \
        [(name + k, args) for name in KINDS for k in ("2", "n") for args in MULTI if k == "n" or _two_dims(args)]
REAL_ONLY = ("rfft", "ihfft")


def _input(name, dtype, rng):
    shape = (4, 6, 5)
    x = rng.standard_normal(shape)
    if dtype.is_complex and not name.startswith(REAL_ONLY):
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(str(dtype).split(".")[1])


def _run(lib, name, x, kwargs, cot):
    t = lib.tensor(x, requires_grad=True)
    y = getattr(lib.fft, name)(t, **kwargs)
    c = lib.tensor(cot(tuple(y.shape), y.is_complex()))
    (y * c).real.sum().backward() if y.is_complex() else (y * c).sum().backward()
    return y, t.grad


@pytest.mark.parametrize("name,args", FUNCS, ids=[f"{n}-{a}" for n, a in FUNCS])
@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_values_and_gradients_match_torch(name, args, dtype):
    rng = np.random.default_rng(0)
    x = _input(name, dtype, rng)

    def cot(shape, cplx):
        r = np.random.default_rng(1)
        c = r.standard_normal(shape)
        return c + 1j * r.standard_normal(shape) if cplx else c
    for norm in NORMS:
        kw = dict(args, norm=norm)
        if x.dtype.kind == "c" and name.startswith(REAL_ONLY):
            continue
        ye, ge = _run(ember, name, x, kw, cot)
        yt, gt = _run(torch, name, x, kw, cot)
        assert str(ye.dtype) == str(yt.dtype), (name, kw)
        for e, t, what in ((ye.detach(), yt.detach(), "value"), (ge, gt, "gradient")):
            np.testing.assert_allclose(e.resolve_conj().numpy(), t.resolve_conj().numpy(), rtol=1e-10, atol=1e-10,
                                       err_msg=f"{name} {kw} {what}")


@pytest.mark.parametrize("name", ["fft", "rfft", "ihfft", "fft2", "irfftn", "hfft"])
def test_float32_and_integer_inputs_give_torch_dtypes(name):
    for arr in (np.arange(12.0, dtype=np.float32).reshape(3, 4), np.arange(12).reshape(3, 4)):
        e, t = getattr(ember.fft, name)(ember.tensor(arr)), getattr(torch.fft, name)(torch.tensor(arr))
        assert str(e.dtype) == str(t.dtype)
        np.testing.assert_allclose(e.resolve_conj().numpy(), t.resolve_conj().numpy(), rtol=1e-5, atol=1e-4)


def test_double_backward_matches_torch():
    out = []
    for lib in (ember, torch):
        x = lib.tensor(np.linspace(-1, 2, 8), requires_grad=True)
        y = lib.fft.irfft(lib.fft.rfft(x * x, norm="ortho") * lib.fft.rfft(x), n=8).pow(2).sum()
        g, = lib.autograd.grad(y, x, create_graph=True)
        gg, = lib.autograd.grad((g * lib.arange(8.0, dtype=lib.float64)).sum(), x)
        out.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-10)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-10)


@pytest.mark.parametrize("fn", ["fftshift", "ifftshift"])
@pytest.mark.parametrize("dim", [None, 0, (1,), (0, 1), -1])
def test_shifts(fn, dim):
    x = np.arange(35.0).reshape(5, 7) + 1j
    np.testing.assert_array_equal(getattr(ember.fft, fn)(ember.tensor(x), dim).numpy(),
                                  getattr(torch.fft, fn)(torch.tensor(x), dim).numpy())


@pytest.mark.parametrize("n,d", [(1, 1.0), (8, 0.1), (9, 2.5)])
@pytest.mark.parametrize("dtype", [None, "float64"])
def test_frequencies(n, d, dtype):
    for fn in ("fftfreq", "rfftfreq"):
        e = getattr(ember.fft, fn)(n, d, dtype=dtype and getattr(ember, dtype))
        t = getattr(torch.fft, fn)(n, d, dtype=dtype and getattr(torch, dtype))
        assert str(e.dtype) == str(t.dtype)
        np.testing.assert_array_equal(e.numpy(), t.numpy())


@pytest.mark.parametrize("call", [
    lambda lib: lib.fft.fft(lib.zeros(3), norm="bad"),
    lambda lib: lib.fft.fft(lib.zeros(3), n=0),
    lambda lib: lib.fft.irfft(lib.zeros(1)),
    lambda lib: lib.fft.fft2(lib.zeros(3, 3), dim=(0, 0)),
    lambda lib: lib.fft.fft2(lib.zeros(3, 3), s=(2,), dim=(0, 1)),
    lambda lib: lib.fft.fftn(lib.zeros(3, 3), s=(2, 2, 2)),
    lambda lib: lib.fft.rfft(lib.zeros(3, dtype=lib.complex64)),
    lambda lib: lib.fft.ihfft(lib.zeros(3, dtype=lib.complex64)),
    lambda lib: lib.fft.fft(lib.zeros(3), dim=2),
    lambda lib: lib.fft.fft(lib.tensor(1.0)),
])
def test_errors_match_torch(call):
    with pytest.raises(Exception) as t:
        call(torch)
    with pytest.raises(t.type, match=str(t.value).replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        call(ember)


@pytest.mark.parametrize("kw", [dict(n_fft=10), dict(n_fft=16, hop_length=4, center=False), dict(n_fft=12, window=12),
                                dict(n_fft=16, window=12, win_length=12, normalized=True),
                                dict(n_fft=16, return_complex=False, onesided=False), dict(n_fft=15, win_length=8)])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_stft_values_and_gradients_match_torch(kw):
    x = np.random.default_rng(0).standard_normal((3, 100))
    res = []
    for lib in (ember, torch):
        k = dict({"return_complex": True}, **kw)
        if "window" in k:
            k["window"] = lib.tensor(np.hanning(k["window"]), requires_grad=True)
        t = lib.tensor(x, requires_grad=True)
        y = lib.stft(t, **k)
        (y * y.conj()).real.sum().backward() if y.is_complex() else (y * y).sum().backward()
        res.append((y.detach().numpy(), t.grad.numpy(), k["window"].grad.numpy() if "window" in k else 0))
    for e, t in zip(*res):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)


def test_stft_needs_return_complex_for_real_input():
    with pytest.raises(RuntimeError, match="return_complex parameter be given"):
        ember.stft(ember.zeros(20), 8)


@pytest.mark.parametrize("kw", [dict(n_fft=10), dict(n_fft=16, hop_length=4, center=False, window=16),
                                dict(n_fft=16, onesided=False, window=16),
                                dict(n_fft=16, onesided=False, return_complex=True, window=16),
                                dict(n_fft=16, hop_length=4, length=40, window=16),
                                dict(n_fft=16, hop_length=4, length=70, window=16, normalized=True),
                                dict(n_fft=16, window=12, win_length=12)])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_istft_values_and_gradients_match_torch(kw):
    x = np.random.default_rng(0).standard_normal((3, 60))
    res = []
    for lib in (ember, torch):
        k = dict(kw)
        if "window" in k:
            k["window"] = lib.tensor(np.hanning(k["window"] + 2)[1:-1], requires_grad=True)
        forward = {n: v for n, v in k.items() if n not in ("length", "return_complex")}
        forward["window"] = torch.tensor(k["window"].detach().numpy()) if "window" in k else None
        z = lib.tensor(torch.stft(torch.tensor(x), return_complex=True, **forward).numpy(), requires_grad=True)
        try:
            y = lib.istft(z, **k)
        except RuntimeError as e:  # a window whose overlap-add has zeros: both refuse
            res.append(type(e))
            continue
        (y * y.conj()).real.sum().backward() if y.is_complex() else (y * y).sum().backward()
        res.append((y.detach().numpy(), z.grad.numpy(), k["window"].grad.numpy() if "window" in k else 0))
    if res[1] is RuntimeError:
        assert res[0] is RuntimeError
        return
    for e, t in zip(*res):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)


def test_istft_needs_complex_input():
    with pytest.raises(RuntimeError, match="istft requires a complex-valued input"):
        ember.istft(ember.zeros(10, 2, 2), 10)
