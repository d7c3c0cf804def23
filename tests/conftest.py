import numpy as np
import pytest
import torch

import ember

torch.set_num_threads(1)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def to_torch(x, requires_grad=False):
    """A torch tensor with the same values (copied) as an ember tensor or array."""
    if isinstance(x, ember.Tensor):
        x = x.detach().numpy()
    t = torch.from_numpy(np.array(x, copy=True))
    return t.requires_grad_(requires_grad)


def assert_close(e, t, atol=1e-5, rtol=1.3e-6, what=""):
    """Compare an ember result with a torch one: shape, dtype kind and values."""
    if t is None or e is None:
        assert e is None and t is None, f"{what}: one is None (ember {e is None}, torch {t is None})"
        return
    ev = e.detach().numpy() if isinstance(e, ember.Tensor) else np.asarray(e)
    tv = t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    assert ev.shape == tv.shape, f"{what}: shape {ev.shape} != torch {tv.shape}"
    assert ev.dtype == tv.dtype, f"{what}: dtype {ev.dtype} != torch {tv.dtype}"
    np.testing.assert_allclose(ev.astype(np.float64) if ev.dtype.kind != "b" else ev,
                               tv.astype(np.float64) if tv.dtype.kind != "b" else tv,
                               atol=atol, rtol=rtol, err_msg=what, equal_nan=True)


def outcome(call):
    """What ``call()`` gives, comparable between ember and torch: (shape, dtype name, values as lists, number of
    warnings), or the class of the exception it raises."""
    import warnings
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            r = call()
        except Exception as exc:  # noqa: BLE001  (the class is what is compared)
            return type(exc)
    return tuple(r.shape), str(r.dtype).split(".")[1], np.array(r.detach().numpy()).tolist(), len(w)


@pytest.fixture(params=["whole", "split"])
def batch_split(request, monkeypatch):
    """Kernels run whole on one thread, or split over the batch between three threads however small the input."""
    from ember import _backend
    old = _backend.get_threads()
    if request.param == "split":
        monkeypatch.setattr(_backend, "GRAIN", 1)
        monkeypatch.setattr(_backend, "GRAIN_MATMUL", 1)
    _backend.set_threads(3 if request.param == "split" else 1)
    yield request.param
    _backend.set_threads(old)


@pytest.fixture(autouse=True)
def _torch_backend_flags_settable():
    """Importing torch's test databases (tests/conformance) freezes torch.backends' global flags for the
    whole process (disable_global_flags); a later test in the same worker that sets
    ``torch.backends.cudnn.benchmark`` as a user's script does would then fail under torch itself."""
    torch.backends.disable_global_flags.__globals__["__allow_nonbracketed_mutation_flag"] = True
    yield
