"""Batch, layer, group and RMS norm (functional and modules) against torch 2.13.0 and finite differences."""
import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from torch_compare import compare, f32, f64, leaf

TF = torch.nn.functional


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (4, 3, 5, 6)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_vs_torch(rng, shape, affine):
    c = shape[1]
    stats = [rng.standard_normal(c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32)]
    ember_rm, torch_rm = [ember.tensor(s.copy()) for s in stats], [torch.tensor(s.copy()) for s in stats]
    args = [f32(rng, *shape) * 3 + 1] + ([f32(rng, c), f32(rng, c)] if affine else [])
    compare(lambda x, *wb: F.batch_norm(x, *ember_rm, *wb, training=True, momentum=0.3),
            lambda x, *wb: TF.batch_norm(x, *torch_rm, *wb, training=True, momentum=0.3), *args, atol=1e-4)
    for e, t in zip(ember_rm, torch_rm):
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(64, 8), (16, 5, 33), (8, 6, 9, 7), (2, 3, 4, 5, 6)])
@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
def test_batch_norm_fused_training_vs_torch(rng, batch_split, dtype, shape, affine):
    # the one-op training path: values, all three gradients and the running statistics, including
    # channels whose mean is far larger than their spread (the variance must not cancel)
    c = shape[1]
    x = (rng.standard_normal(shape) * rng.uniform(0.01, 3, (1, c) + (1,) * (len(shape) - 2))
         + rng.uniform(-50, 50, (1, c) + (1,) * (len(shape) - 2))).astype(dtype)
    w = rng.uniform(-2, 2, c).astype(dtype) if affine in ("both", "weight") else None
    b = rng.standard_normal(c).astype(dtype) if affine in ("both", "bias") else None
    given = [a for a in (w, b) if a is not None]
    stats = [np.zeros(c, dtype), np.ones(c, dtype)]
    ember_rm, torch_rm = [ember.tensor(s.copy()) for s in stats], [torch.tensor(s.copy()) for s in stats]

    def call(lib_f, rm, x, *wb):
        it = iter(wb)
        return lib_f(x, *rm, next(it) if w is not None else None, next(it) if b is not None else None,
                     training=True, momentum=0.2, eps=1e-4)
    tol = dict(atol=2e-4, rtol=1e-3) if dtype == np.float32 else dict(atol=1e-10, rtol=1e-9)
    compare(lambda *a: call(F.batch_norm, ember_rm, *a), lambda *a: call(TF.batch_norm, torch_rm, *a),
            x, *given, **tol)
    for e, t in zip(ember_rm, torch_rm):
        np.testing.assert_allclose(e.numpy(), t.numpy(), **tol)


def test_batch_norm_eval_vs_torch(rng):
    c = 3
    rm, rv = rng.standard_normal(c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32)
    compare(lambda x, w, b, m, v: F.batch_norm(x, m, v, w, b, training=False, eps=1e-3),
            lambda x, w, b, m, v: TF.batch_norm(x, m, v, w, b, training=False, eps=1e-3),
            f32(rng, 4, c, 5, 5), f32(rng, c), f32(rng, c), rm, rv, grad=[0, 1, 2])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6, 3), (5, 3, 7), (4, 3, 5, 6)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_eval_unrecorded_vs_torch(rng, batch_split, dtype, shape, affine):
    # under no_grad evaluation's scale and shift run as one kernel split over the batch, not as ops
    args = [rng.standard_normal(shape) * 3 + 1, rng.standard_normal(3), rng.uniform(0.5, 2, 3)]
    args += [rng.standard_normal(3), rng.standard_normal(3)] if affine else [None, None]
    args = [None if a is None else a.astype(dtype) for a in args]
    with ember.no_grad():
        out = F.batch_norm(*(None if a is None else ember.tensor(a, requires_grad=True) for a in args), eps=1e-3)
    assert out.grad_fn is None and out.dtype == ember.tensor(args[0]).dtype
    ref = TF.batch_norm(*(None if a is None else torch.tensor(a) for a in args), eps=1e-3)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("shape, norm", [((4, 5), (5,)), ((2, 3, 4, 5), (4, 5)), ((3, 7), 7)])
def test_layer_norm_vs_torch(rng, shape, norm):
    ns = (norm,) if isinstance(norm, int) else norm
    compare(lambda x, w, b: F.layer_norm(x, norm, w, b, 1e-4), lambda x, w, b: TF.layer_norm(x, ns, w, b, 1e-4),
            f32(rng, *shape) * 2 + 1, f32(rng, *ns), f32(rng, *ns), atol=1e-4)
    compare(lambda x: F.layer_norm(x, norm), lambda x: TF.layer_norm(x, ns), f32(rng, *shape), atol=1e-4)


@pytest.mark.parametrize("shape, groups", [((2, 6, 4, 4), 3), ((3, 4, 5), 2), ((2, 4), 4), ((2, 6, 3, 3), 1)])
def test_group_norm_vs_torch(rng, shape, groups):
    c = shape[1]
    compare(lambda x, w, b: F.group_norm(x, groups, w, b), lambda x, w, b: TF.group_norm(x, groups, w, b),
            f32(rng, *shape) * 2 - 1, f32(rng, c), f32(rng, c), atol=1e-4)


@pytest.mark.parametrize("shape, norm, eps", [((4, 5), (5,), None), ((2, 3, 4), (3, 4), 1e-3)])
def test_rms_norm_vs_torch(rng, shape, norm, eps):
    compare(lambda x, w: F.rms_norm(x, norm, w, eps), lambda x, w: TF.rms_norm(x, norm, w, eps),
            f32(rng, *shape), f32(rng, *norm), atol=1e-4)
    compare(lambda x: F.rms_norm(x, norm), lambda x: TF.rms_norm(x, norm), f32(rng, *shape), atol=1e-4)


@pytest.mark.parametrize("fn, shape, pshape", [
    (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (4, 3, 2), (3,)),
    (lambda x, w, b: F.layer_norm(x, (2, 3), w, b), (2, 2, 3), (2, 3)),
    (lambda x, w, b: F.group_norm(x, 2, w, b), (2, 4, 3), (4,)),
    (lambda x, w, b: F.rms_norm(x, (3,), w) + b, (2, 4, 3), (3,)),
])
def test_norm_gradcheck_and_double_backward(rng, fn, shape, pshape):
    inputs = (leaf(f64(rng, *shape)), leaf(f64(rng, *pshape)), leaf(f64(rng, *pshape)))
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: F.batch_norm(ember.zeros(1, 3), None, None, training=True), ValueError,
     "Expected more than 1 value per channel when training, got input size [1, 3]"),
    (lambda: F.layer_norm(ember.zeros(2, 3), (4,)), RuntimeError,
     "Given normalized_shape=[4], expected input with shape [*, 4], but got input of size[2, 3]"),
    (lambda: F.group_norm(ember.zeros(2, 5, 4), 2), RuntimeError,
     "Expected number of channels in input to be divisible by num_groups, but got input of shape [2, 5, 4] and "
     "num_groups=2"),
    (lambda: F.batch_norm(ember.zeros(2, 3), ember.zeros(4), ember.ones(4)), RuntimeError, "running_mean"),
])
def test_norm_errors(call, exc, msg):
    with pytest.raises(exc) as info:
        call()
    assert msg in str(info.value)


# ----------------------------------------------------------------------------- modules
def copy_torch_state(e, t):
    e.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in t.state_dict().items()})


@pytest.mark.parametrize("cls, kw, shape", [
    ("BatchNorm1d", dict(), (8, 4)),
    ("BatchNorm1d", dict(momentum=None), (6, 4, 5)),
    ("BatchNorm2d", dict(eps=1e-3, momentum=0.5), (4, 4, 3, 3)),
    ("BatchNorm2d", dict(affine=False), (4, 4, 3, 3)),
    ("BatchNorm2d", dict(bias=False), (4, 4, 3, 3)),
    ("BatchNorm2d", dict(track_running_stats=False), (4, 4, 3, 3)),
])
def test_batch_norm_modules_train_then_eval_vs_torch(rng, cls, kw, shape):
    e, t = getattr(ember.nn, cls)(4, **kw), getattr(torch.nn, cls)(4, **kw)
    assert repr(e) == repr(t)
    assert list(e.state_dict()) == list(t.state_dict())
    with torch.no_grad():
        for p in t.parameters():
            p.uniform_(0.5, 1.5)
    copy_torch_state(e, t)
    for step in range(3):  # the running statistics (and the cumulative average) accumulate over steps
        compare(e, t, f32(rng, *shape) * (step + 1) + step, atol=1e-4)
        for k, v in t.state_dict().items():
            np.testing.assert_allclose(e.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    e.eval()
    t.eval()
    compare(e, t, f32(rng, *shape), atol=1e-4)
    assert e.state_dict().get("num_batches_tracked") is None or e.num_batches_tracked.dtype is ember.int64


@pytest.mark.parametrize("cls, args, kw, shape", [
    ("LayerNorm", (5,), dict(), (3, 4, 5)),
    ("LayerNorm", ((4, 5),), dict(bias=False, eps=1e-3), (3, 4, 5)),
    ("LayerNorm", (5,), dict(elementwise_affine=False), (3, 5)),
    ("GroupNorm", (2, 6), dict(), (3, 6, 4, 4)),
    ("GroupNorm", (3, 6), dict(affine=False), (3, 6, 5)),
    ("GroupNorm", (3, 6), dict(bias=False), (3, 6, 5)),
    ("RMSNorm", ((4, 5),), dict(), (3, 4, 5)),
    ("RMSNorm", (5,), dict(eps=1e-2, elementwise_affine=False), (3, 5)),
])
def test_norm_modules_vs_torch(rng, cls, args, kw, shape):
    e, t = getattr(ember.nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw)
    assert repr(e) == repr(t)
    assert list(e.state_dict()) == list(t.state_dict())
    with torch.no_grad():
        for p in t.parameters():
            p.uniform_(-1, 1)
    copy_torch_state(e, t)
    compare(e, t, f32(rng, *shape) * 2 + 1, atol=1e-4)
    for (name, ep), (_, tp) in zip(e.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(ep.grad.numpy(), tp.grad.numpy(), atol=1e-4, rtol=1e-4, err_msg=name)


def test_norm_module_errors():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        ember.nn.BatchNorm2d(3)(ember.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        ember.nn.BatchNorm1d(3)(ember.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        ember.nn.GroupNorm(4, 6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, ns, affine", [((4, 6, 16), (16,), "wb"), ((3, 4, 5), (4, 5), "w"), ((5, 8), (8,), ""),
                                               ((8,), (8,), "wb"), ((2, 3, 8), (8,), "b")])
def test_layer_norm_fused_values_gradients_double_backward(rng, dtype, shape, ns, affine):
    """layer_norm's fused op (affine included, row statistics as matrix-vector products): values, gradients by
    backward() and by autograd.grad, and second derivatives, against torch."""
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    arrays = [rng.standard_normal(shape).astype(dtype) * 2 + 1, rng.standard_normal(ns).astype(dtype),
              rng.standard_normal(ns).astype(dtype), rng.standard_normal(shape).astype(dtype)]
    outs = {}
    for lib in (ember, torch):
        x, w, b = (lib.tensor(a, requires_grad=True) for a in arrays[:3])
        w, b = (w if "w" in affine else None), (b if "b" in affine else None)
        leaves = [t for t in (x, w, b) if t is not None]
        y = lib.nn.functional.layer_norm(x, ns, w, b, 1e-5)
        y.backward(lib.tensor(arrays[3]))
        grads = [t.grad for t in leaves]
        y = lib.nn.functional.layer_norm(x, ns, w, b, 1e-5)
        first = lib.autograd.grad(y, leaves, lib.tensor(arrays[3]), create_graph=True)
        target = (first[0] * first[0]).sum()
        if w is not None:
            target = target + (first[1] * first[1]).sum()
        second = lib.autograd.grad(target, [x] + ([w] if w is not None else []))
        outs[lib.__name__] = [y, *grads, *first, *second]
    for e, t in zip(outs["ember"], outs["torch"]):
        assert (e is None) == (t is None)
        if e is not None:
            np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", ["wb", "w", ""])
def test_layer_norm_rows_in_blocks_and_threads_vs_torch(rng, batch_split, monkeypatch, dtype, affine):
    """The fused layer_norm's rows taken a few at a time (blocks of 2 or 3 rows) and, split, shared between
    three threads: values and all gradients (the weight's and bias's summed block by block) as torch's."""
    from ember import _backend
    from ember.nn._functional import normalization
    monkeypatch.setattr(normalization, "_ROW_BLOCK_ELEMENTS", 20)
    monkeypatch.setattr(_backend, "SPLIT_SIDE", 1)
    shape, ns = (5, 7, 8), (8,)
    x = rng.standard_normal(shape).astype(dtype) * 3 + 2
    wb = [rng.standard_normal(ns).astype(dtype) for c in "wb" if c in affine]
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)

    def call(F):
        return lambda x, *p: F.layer_norm(x, ns, p[0] if "w" in affine else None,
                                          p[-1] if "b" in affine else None, 1e-5)
    compare(call(F), call(TF), x, *wb, **tol)
