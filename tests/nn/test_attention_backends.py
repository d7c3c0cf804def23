"""ember.nn.attention against torch.nn.attention on the CPU: SDPBackend's names and values, and what
scaled_dot_product_attention does inside sdpa_kernel for each choice of backends (runs, or raises torch's
RuntimeError after its warnings), with the backend switches restored afterwards."""
import importlib
import pickle
import warnings

import numpy as np
import pytest
import torch

import ember

R = np.random.default_rng(0)
Q4, K4, V4 = (R.standard_normal((1, 2, 4, 8)).astype(np.float32) for _ in range(3))
INPUTS = {
    "4d": lambda L: (L.tensor(Q4), L.tensor(K4), L.tensor(V4)),
    "3d": lambda L: (L.tensor(Q4[0]), L.tensor(K4[0]), L.tensor(V4[0])),
    "value_dim": lambda L: (L.tensor(Q4), L.tensor(K4), L.tensor(V4[..., :6])),
    "batch_broadcast": lambda L: (L.tensor(np.concatenate([Q4, Q4])), L.tensor(K4), L.tensor(V4)),
    "last_dim_stride": lambda L: (L.tensor(np.ascontiguousarray(Q4.transpose(0, 1, 3, 2))).transpose(-1, -2),
                                  L.tensor(K4), L.tensor(V4)),
}
KWARGS = {"plain": {}, "dropout": {"dropout_p": 0.5}, "causal": {"is_causal": True},
          "mask": {"attn_mask": "mask"}}
CHOICES = [["MATH"], ["FLASH_ATTENTION"], ["EFFICIENT_ATTENTION"], ["CUDNN_ATTENTION"], ["OVERRIDEABLE"], ["ERROR"],
           [], ["EFFICIENT_ATTENTION", "MATH"], ["FLASH_ATTENTION", "CUDNN_ATTENTION"], "MATH"]


def run(L, choice, inputs, kwargs):
    A = importlib.import_module(f"{L.__name__}.nn.attention")
    backends = getattr(A.SDPBackend, choice) if isinstance(choice, str) else [getattr(A.SDPBackend, b)
                                                                                 for b in choice]
    kw = {k: (L.tensor(np.tril(np.ones((4, 4), bool))) if v == "mask" else v) for k, v in kwargs.items()}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            with A.sdpa_kernel(backends) as yielded:
                out = L.nn.functional.scaled_dot_product_attention(*INPUTS[inputs](L), **kw)
            result = ("ok", yielded, None if "dropout_p" in kw else out.numpy())
        except RuntimeError as err:
            result = ("RuntimeError", str(err), None)
    # torch's warnings end with where they were raised in its C++ sources
    said = [str(w.message).split(" (Triggered internally")[0] for w in seen]
    flags = [getattr(L.backends.cuda, f"{n}_sdp_enabled")() for n in ("flash", "math", "mem_efficient", "cudnn")]
    return result[:2], said, flags, result[2]


@pytest.mark.parametrize("choice", CHOICES, ids=str)
@pytest.mark.parametrize("inputs", list(INPUTS))
@pytest.mark.parametrize("kwargs", list(KWARGS))
def test_sdpa_inside_sdpa_kernel_as_torch(choice, inputs, kwargs):
    t = run(torch, choice, inputs, KWARGS[kwargs])
    e = run(ember, choice, inputs, KWARGS[kwargs])
    assert e[:3] == t[:3]
    assert e[2] == [True] * 4  # every switch back on after the block
    if t[3] is not None:
        np.testing.assert_allclose(e[3], t[3], rtol=1e-5, atol=1e-6)


def test_sdp_backend_enum_as_torch():
    from torch.nn.attention import SDPBackend as T
    from ember.nn.attention import SDPBackend as E
    assert list(E.__members__) == list(T.__members__)
    for name in T.__members__:
        t, e = getattr(T, name), getattr(E, name)
        assert (str(e), repr(e), int(e), e.value, e.name) == (str(t), repr(t), int(t), t.value, t.name)
        assert (e == int(e)) == (t == int(t)) and hash(e) == hash(t)
    assert E(1) is E.FLASH_ATTENTION and pickle.loads(pickle.dumps(E.MATH)) is E.MATH


@pytest.mark.parametrize("bad", ["MATH", 3, ("MATH",)], ids=str)
def test_sdpa_kernel_rejects_what_torch_rejects(bad):
    messages = []
    for L in (torch, ember):
        A = importlib.import_module(f"{L.__name__}.nn.attention")
        arg = tuple(getattr(A.SDPBackend, b) for b in bad) if isinstance(bad, tuple) else bad
        with pytest.raises(AssertionError) as info:
            with A.sdpa_kernel(arg):
                pass
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_switches_restored_after_an_error_and_nested_blocks_as_torch():
    def run(L):
        A = importlib.import_module(f"{L.__name__}.nn.attention")
        seen = []
        with pytest.raises(ZeroDivisionError):
            with A.sdpa_kernel(A.SDPBackend.MATH):
                1 / 0
        seen.append(L.backends.cuda.flash_sdp_enabled())
        with A.sdpa_kernel([A.SDPBackend.MATH, A.SDPBackend.FLASH_ATTENTION]):
            with A.sdpa_kernel(A.SDPBackend.EFFICIENT_ATTENTION):
                seen.append((L.backends.cuda.math_sdp_enabled(), L.backends.cuda.mem_efficient_sdp_enabled()))
            seen.append((L.backends.cuda.math_sdp_enabled(), L.backends.cuda.mem_efficient_sdp_enabled()))
        L.backends.cuda.enable_math_sdp(False)  # the global switches alone decide too
        L.backends.cuda.enable_flash_sdp(False)
        try:
            L.nn.functional.scaled_dot_product_attention(*INPUTS["4d"](L))
        except RuntimeError as err:
            seen.append(str(err))
        finally:
            L.backends.cuda.enable_math_sdp(True)
            L.backends.cuda.enable_flash_sdp(True)
        return seen
    assert run(ember) == run(torch)


def test_absent_until_now_is_importable():
    import ember.nn.attention as a
    assert hasattr(ember.nn, "attention") and a.sdpa_kernel and a.SDPBackend
