"""In-place ops and autograd: leaf checks, version counters, stale saved tensors, graph rewiring, vs torch."""
import numpy as np
import pytest
import torch

import ember
from conftest import assert_close

LIBS = {"ember": ember, "torch": torch}


def raised(fn):
    """The (type, message) an action raises, or None."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001  (the test compares whatever each library raises)
        return type(e), str(e)
    return None


def test_inplace_on_leaf_requiring_grad():
    msgs = [raised(lambda: lib.ones(2, requires_grad=True).add_(1)) for lib in LIBS.values()]
    assert msgs[0] == msgs[1]
    assert msgs[0][0] is RuntimeError and "leaf Variable that requires grad" in msgs[0][1]


def test_augmented_assignment_on_leaf_raises_like_torch():
    def aug(lib):
        x = lib.ones(2, requires_grad=True)
        x += 1
    msgs = [raised(lambda: aug(lib)) for lib in LIBS.values()]
    assert msgs[0] == msgs[1] and msgs[0] is not None


def test_inplace_on_leaf_under_no_grad_keeps_identity():
    for lib in LIBS.values():
        w = lib.ones(2, requires_grad=True)
        before = id(w)
        with lib.no_grad():
            w.mul_(3)
            w += 1
        assert id(w) == before and w.is_leaf and w.requires_grad and w.grad_fn is None
        assert w.tolist() == [4.0, 4.0]


def test_version_counter_matches_torch():
    versions = {}
    for name, lib in LIBS.items():
        x = lib.zeros(3)
        seen = [x._version]
        x.add_(1)
        seen.append(x._version)
        x *= 2
        seen.append(x._version)
        _ = x + 1
        seen.append(x._version)
        versions[name] = seen
    assert versions["ember"] == versions["torch"] == [0, 1, 2, 2]


def test_modified_saved_input_raises():
    msgs = {}
    for name, lib in LIBS.items():
        x = lib.ones(3, requires_grad=True)
        a = x * 1
        y = a * a
        a.add_(1)
        msgs[name] = raised(lambda: y.sum().backward())
    assert msgs["ember"][0] is msgs["torch"][0] is RuntimeError
    assert msgs["ember"] == msgs["torch"]
    assert "one of the variables needed for gradient computation has been modified by an inplace operation" \
        in msgs["ember"][1]


def test_modified_saved_output_raises():
    msgs = {}
    for name, lib in LIBS.items():
        x = lib.ones(3, requires_grad=True)
        y = x.exp()
        y.add_(1)
        msgs[name] = raised(lambda: y.sum().backward())
    assert msgs["ember"] is not None and msgs["ember"][0] is RuntimeError
    assert "has been modified by an inplace operation" in msgs["ember"][1]
    assert msgs["ember"] == msgs["torch"]


def test_unsaved_input_may_change():
    # Add saves nothing, so changing its input afterwards is harmless (as in torch)
    grads = {}
    for name, lib in LIBS.items():
        x = lib.ones(3, requires_grad=True)
        a = x * 2
        y = a + 1
        a.mul_(5)
        (y * 1).sum().backward()
        grads[name] = x.grad.tolist()
    assert grads["ember"] == grads["torch"] == [2.0, 2.0, 2.0]


def test_inplace_chain_gradients_match_torch():
    rng = np.random.default_rng(0)
    arr = rng.standard_normal((2, 3)).astype(np.float32)
    warr = rng.standard_normal(3).astype(np.float32)
    res = {}
    for name, lib in LIBS.items():
        x = lib.tensor(arr, requires_grad=True)
        w = lib.tensor(warr, requires_grad=True)
        h = x * 2
        h.mul_(3)
        h.add_(w)
        h.sub_(x)
        h.div_(2.0)
        out = lib.tanh(h)
        out.sum().backward()
        res[name] = (out, x.grad, w.grad, h.grad_fn.name(), h._version)
    for i in range(3):
        assert_close(res["ember"][i], res["torch"][i], what=str(i))
    assert res["ember"][3:] == res["torch"][3:]


def test_inplace_with_int_result_into_float():
    for lib in LIBS.values():
        x = lib.zeros(2)
        x.add_(lib.tensor([1, 2]))
        assert x.dtype == lib.float32 and x.tolist() == [1.0, 2.0]


def test_inplace_float_into_int_raises():
    msgs = [raised(lambda: lib.zeros(2, dtype=lib.int64).add_(1.5)) for lib in LIBS.values()]
    assert msgs[0] is not None and msgs[1] is not None
    assert msgs[0][0] is msgs[1][0] is RuntimeError
    assert "can't be cast to the desired output type Long" in msgs[0][1]


def test_inplace_broadcast_shape_mismatch_raises():
    for lib in LIBS.values():
        with pytest.raises(RuntimeError):
            lib.zeros(3).add_(lib.ones(2, 3))


def test_modified_saved_leaf_raises_like_torch():
    msgs = {}
    for name, lib in LIBS.items():
        x = lib.ones(3, requires_grad=True)
        w = lib.ones(3, requires_grad=True)
        y = x * w
        with lib.no_grad():
            x.add_(1)
        msgs[name] = raised(lambda: y.sum().backward())
    assert msgs["ember"] == msgs["torch"]
