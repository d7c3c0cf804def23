"""Differential audit, continued: backward's gradient arguments, grad_dtype, what hooks may return, under torch and
ember (see tests/autograd/_audit.py)."""
import contextlib
import io
import warnings

import numpy as np
import pytest
import torch

import ember
from tests.autograd._audit import _exc_class, compare, leaf as _leaf

_R = np.random.default_rng(7)
X3 = _R.standard_normal(3)
X6 = _R.standard_normal(6)
X23 = _R.standard_normal((2, 3))
W3 = _R.standard_normal(3)


def _msg(rec, fn) -> None:
    """Record the exception ``fn`` raises, its class and torch's exact words, or "ok"."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the class and message are what is compared
        rec.val((_exc_class(e), str(e).replace("torch.Size(", "").replace("])", "]")))
        return
    rec.val("ok")


def backward_gradient_counts(lib, rec):
    def fresh():
        x = _leaf(lib, X3)
        return x, (x * 2).sum(), x * 3
    one = lib.tensor(1.5, dtype=lib.float64)
    x, s, y = fresh()
    lib.autograd.backward([s], [one, lib.ones(3)])  # surplus gradients are ignored
    rec(x)
    x, s, y = fresh()
    lib.autograd.backward(s, [one, lib.ones(3)])
    rec(x)
    x, s, y = fresh()
    _msg(rec, lambda: lib.autograd.backward([s, y], [one]))
    _msg(rec, lambda: lib.autograd.backward([s], []))
    lib.autograd.backward((s, y), (None, lib.ones(3, dtype=lib.float64)), retain_graph=True)
    rec(x)
    _msg(rec, lambda: lib.autograd.backward([s, y], [None, None]))
    _msg(rec, lambda: lib.autograd.backward([s], [2.0]))
    rec.raises(lambda: lib.autograd.backward(s, 2.0))
    lib.autograd.backward(s, lib.tensor(3.0, dtype=lib.float32), retain_graph=True)  # cast to the output's dtype
    lib.autograd.backward(s, lib.tensor(2), retain_graph=True)
    rec(x)
    lib.autograd.backward([], [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lib.autograd.backward(s, grad_variables=one, retain_graph=True)
    rec(x), rec.val([(w.category.__name__, str(w.message)) for w in caught])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _msg(rec, lambda: lib.autograd.backward(s, one, grad_variables=one))
    x, s, y = fresh()
    lib.autograd.backward(s, inputs={"x": x})
    rec(x)
    _msg(rec, lambda: lib.autograd.backward(s, inputs=[]))
    x, s, y = fresh()
    rec.val(lib.autograd.grad([s], [x], [one, lib.ones(3)], retain_graph=True))
    _msg(rec, lambda: lib.autograd.grad([s, y], [x], [one]))
    _msg(rec, lambda: lib.autograd.grad([s], [x], [2.0]))
    _msg(rec, lambda: lib.autograd.grad([y], [x], [None]))
    _msg(rec, lambda: lib.autograd.grad(s, [x, _leaf(lib, X3)]))


def grad_dtype_casts(lib, rec):
    x = lib.tensor(X3, dtype=lib.float32, requires_grad=True)
    rec.val(str(x.grad_dtype))
    x.grad_dtype = lib.float64
    seen = []
    x.register_hook(lambda g: seen.append(str(g.dtype)))
    x.register_post_accumulate_grad_hook(lambda p: seen.append(str(p.grad.dtype)))
    (x * 2).sum().backward()
    (x * x).sum().backward()
    rec.val((str(x.grad_dtype), str(x.grad.dtype), x.grad, seen))
    g, = lib.autograd.grad((x * 3).sum(), x)
    rec.val((str(g.dtype), g))
    (x * x).sum().backward(create_graph=True)
    rec.val((str(x.grad.dtype), x.grad.requires_grad))
    x.grad = None
    x.grad = lib.ones(3, dtype=lib.float64)
    _msg(rec, lambda: setattr(x, "grad", lib.ones(3, dtype=lib.float32)))
    _msg(rec, lambda: setattr(x, "grad_dtype", lib.float32))  # a float64 gradient is there
    _msg(rec, lambda: setattr(x, "grad_dtype", "float32"))
    _msg(rec, lambda: setattr(x * 2, "grad_dtype", lib.float64))
    _msg(rec, lambda: (x * 2).grad_dtype)
    h = lib.tensor(X3, dtype=lib.float32, requires_grad=True)
    h.grad_dtype = lib.float16
    (h * 2).sum().backward()
    rec.val(str(h.grad.dtype))
    d = lib.ones(2)
    d.grad_dtype = lib.float64  # allowed on a leaf that does not require grad
    rec.val((str(d.grad_dtype), str(x.detach().grad_dtype), str(x.clone().detach().grad_dtype)))
    n = lib.tensor(X3, dtype=lib.float32, requires_grad=True)
    n.grad_dtype = None  # any dtype: a Function's float64 gradient stays float64
    rec.val(n.grad_dtype)
    n.grad = lib.ones(3, dtype=lib.float64)
    n.grad = None

    class Double(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g.double() * 2

    Double.apply(n).sum().backward()
    rec.val((str(n.grad.dtype), n.grad))
    rec.val([str(lib.autograd.grad(Double.apply(t).sum(), t)[0].dtype) for t in (n, x, h)])
    p = lib.nn.Parameter(lib.ones(2))
    p.grad_dtype = lib.float64
    (p * 2).sum().backward()
    rec.val(str(p.grad.dtype))


def grad_assignment_checks(lib, rec):
    x = lib.ones(3, requires_grad=True)
    for value in (lib.ones(3, dtype=lib.float64), lib.ones(2), lib.ones(3, dtype=lib.int64),
                  lib.ones(3, dtype=lib.float16), lib.ones(3, dtype=lib.bfloat16), lib.ones(3, dtype=lib.complex64),
                  lib.ones(3, dtype=lib.bool), lib.ones(3, dtype=lib.uint8), lib.ones(3, dtype=lib.int8)):
        _msg(rec, lambda: setattr(x, "grad", value))
    rec.raises(lambda: setattr(x, "grad", 2.0))


def hooks_return_checked(lib, rec):
    def run(hook, leaf: bool):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        (x if leaf else y).register_hook(hook)
        _msg(rec, lambda: y.sum().backward())
        rec(x)

    def named(g):
        return g.double()
    for leaf in (True, False):
        run(named, leaf)
        run(lambda g: g.half(), leaf)
        run(lambda g: g[:2], leaf)
        run(lambda g: g.reshape(1, 3), leaf)
        run(lambda g: 5, leaf)
        run(lambda g: g * 3, leaf)
    x = lib.ones(3, requires_grad=True)
    y = x * 2
    y.grad_fn.register_prehook(lambda gs: (gs[0].double(),))
    _msg(rec, lambda: y.sum().backward(retain_graph=True))
    z = x * x
    z.grad_fn.register_hook(lambda gi, go: (gi[0] * 2,))
    _msg(rec, lambda: z.sum().backward(retain_graph=True))
    w = x * x
    w.grad_fn.register_hook(lambda gi, go: (gi[0] * 2, None))
    _msg(rec, lambda: w.sum().backward())
    rec(x)
    n = lib.tensor(X3, dtype=lib.float32, requires_grad=True)
    n.grad_dtype = None
    n.register_hook(lambda g: g.double())
    _msg(rec, lambda: (n * 2).sum().backward())
    k = _leaf(lib, X3)
    k.register_hook(lambda g: g * 10)
    rec.val(lib.autograd.grad((k * k).sum(), k))
    k.register_hook(lambda g: g.float())
    _msg(rec, lambda: lib.autograd.grad((k * k).sum(), k))




def _checkpointed(lib, log):
    def fn(x):
        log.append(("start", lib.is_grad_enabled()))
        b = x.sin() + 1  # sin saves x; the add saves nothing
        log.append("after sin")
        c = b * b  # the last op that saves: a recomputation stops here
        log.append("after mul")
        return c.sum() + x.sum()
    return fn


def checkpoint_recomputes_as_torch(lib, rec):
    cp = lib.utils.checkpoint
    log = []
    fn = _checkpointed(lib, log)
    for reentrant in (False, True):
        x = _leaf(lib, X3)
        y = cp.checkpoint(fn, x, use_reentrant=reentrant)
        log.append("backward")
        y.backward(retain_graph=not reentrant)
        rec(x), rec.val(log)
        log.clear()
        if not reentrant:  # each backward pass recomputes
            y.backward()
            rec(x), rec.val(log)
            log.clear()
        with cp.set_checkpoint_early_stop(False):
            y = cp.checkpoint(fn, x, use_reentrant=reentrant)
        y.backward()
        rec(x), rec.val(log)
        log.clear()
        y = cp.checkpoint(lambda t: (log.append("no save"), t + 1)[1], x, use_reentrant=reentrant)
        y.sum().backward()
        rec(x), rec.val(log)
        log.clear()
    x = _leaf(lib, X3)
    y = cp.checkpoint(fn, x, use_reentrant=False, early_stop=False)
    g, = lib.autograd.grad(y, x, create_graph=True)
    g.sum().backward()
    rec(g), rec(x), rec.val(log)
    log.clear()
    y = cp.checkpoint(fn, x, use_reentrant=True)
    rec.raises(lambda: lib.autograd.grad(y, x))
    w = _leaf(lib, X3)
    y = cp.checkpoint(lambda t: (t * w).sum(), lib.ones(3, dtype=lib.float64), use_reentrant=False)
    y.backward()
    rec(w)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = cp.checkpoint(lambda t: (t * w).sum(), lib.ones(3, dtype=lib.float64))
    rec.val([str(c.message) for c in caught])
    rec.raises(y.backward)  # reentrant, and no input requires grad: nothing to differentiate
    rec.raises(lambda: cp.checkpoint(fn, x, use_reentrant=True, extra=1))
    rec.raises(lambda: cp.checkpoint(fn, x, use_reentrant=True, context_fn=lambda: (None, None)))
    ctx_log = []

    def context_fn():
        @contextlib.contextmanager
        def note(name):
            ctx_log.append(name + " in")
            yield
            ctx_log.append(name + " out")
        return note("forward"), note("recompute")
    y = cp.checkpoint(fn, x, use_reentrant=False, context_fn=context_fn)
    y.backward()
    rec.val((ctx_log, log))


def legacy_constructor(lib, rec):
    def made(make, values: bool = True):
        try:
            t = make()
        except Exception as e:  # noqa: BLE001 - the class is what is compared
            rec.val(type(e).__name__)
            return
        rec.val((tuple(t.shape), str(t.dtype), t.requires_grad))
        if values:
            rec(t)
    T = lib.Tensor
    for sizes in [(np.array(3),), (np.int64(3),), (3,), (2, 3), (0,), (lib.Size([2, 3]),), (lib.Size([]),),
                  (lib.tensor(2), 3), (np.int32(2), np.int64(3)), (np.array(3, dtype=np.uint8),)]:
        made(lambda: T(*sizes), values=False)
        made(lambda: lib.FloatTensor(*sizes), values=False)
        made(lambda: lib.LongTensor(*sizes), values=False)
    for data in [np.array(3.0), np.array(True), np.array([3, 4]), np.array([1.5], dtype=np.float16), [True, False],
                 [[1, 2], [3, 4]], [np.array([1.0, 2]), np.array([3.0, 4])], [lib.tensor(1.0), lib.tensor(2)],
                 [np.float64(1.5), np.int64(2)], [1, np.array(2.0)], (), [], range(3), [lib.tensor([5.0])],
                 [lib.Size([2, 3])]]:
        made(lambda: T(data))
        made(lambda: lib.DoubleTensor(data))
    for bad in [(np.float64(3.0),), (3.5,), (True,), (None,), ("abc",), (x for x in [1]), (-1,), (2, -3), (2, [3]),
                (2.0, 3.0), ([np.array(1.0), np.array(2.0)],), ([lib.tensor([1.0, 2]), lib.tensor([3.0, 4])],),
                ([1j],), ([[1, 2], [3]],), ([[1, 2], 3],)]:
        made(lambda: T(*bad) if isinstance(bad, tuple) else T(bad))
    x = _leaf(lib, X3)
    a = T(x)  # an alias: a view sharing memory, version and history
    rec(a)
    (a * a).sum().backward()
    rec(x)
    with lib.no_grad():
        x.add_(1)
    rec.val((a._version, T(x * 2).is_leaf, T(lib.tensor([1, 2])).dtype == lib.int64, T(lib.tensor(3)).shape == ()))
    p = lib.nn.Parameter(T(x))
    rec(p)
    made(lambda: T([1.0], requires_grad=True))
    made(lambda: T([1.0], dtype=lib.float64))
    made(lambda: T([1.0], device="cpu"))
    i32 = lib.tensor([1], dtype=lib.int32)
    for args in [(np.array(3),), ([1.5, 2],), (), (2, 3), (lib.tensor([4], dtype=lib.int32),)]:
        made(lambda: i32.new(*args), values=not args or not isinstance(args[0], (int, np.ndarray)))
    _msg(rec, lambda: i32.new(lib.tensor([1.5])))
    _msg(rec, lambda: lib.LongTensor(x))
    f = lib.FloatTensor(lib.tensor(X3, dtype=lib.float32, requires_grad=True))
    rec.val((f.requires_grad, f.is_leaf, f._base is not None))
    rec(x.new(x))


def hooks_leaf_nonleaf_retain(lib, rec):
    x = _leaf(lib, X3)
    y = x * 2
    z = y.sin()
    calls = []
    x.register_hook(lambda g: calls.append(("x", g)))
    y.register_hook(lambda g: calls.append(("y", g)) or g * 3)
    y.retain_grad()
    z.sum().backward(retain_graph=True)
    rec(x), rec(y), rec.val(calls)
    calls.clear()
    z.sum().backward()
    rec(x), rec(y), rec.val(calls)
    rec.raises(lambda: z.sum().backward())
    h = y.register_hook(lambda g: g * 0)
    h.remove()
    w = x * x
    w.register_hook(lambda g: calls.append(("w", g)))
    lib.autograd.grad(w.sum(), [x])
    rec.val(calls)
    x.grad = None
    w2 = (x * 3).exp()
    rec.raises(lambda: w2.register_post_accumulate_grad_hook(lambda p: None))
    x.register_post_accumulate_grad_hook(lambda p: calls.append(("post", p.grad.clone())))
    calls.clear()
    w2.sum().backward()
    rec.val(calls)

def double_backward_inplace(lib, rec):
    x = _leaf(lib, X3)
    y = x * 1
    y.mul_(x)
    y.exp_()
    g, = lib.autograd.grad(y.sum(), x, create_graph=True)
    rec.val(g)
    g2, = lib.autograd.grad(g.sum(), x, create_graph=True)
    rec.val(g2)
    (g2 * lib.tensor(W3)).sum().backward()
    rec(x)
    a = _leaf(lib, X23)
    b = a.clone()
    b[0].pow_(2)
    b.t()[1].sigmoid_()
    g, = lib.autograd.grad(b.sum(), a, create_graph=True)
    g.sum().backward()
    rec.val(g), rec(a)
    c = _leaf(lib, X3)
    t = c.tanh()
    t.add_(c)  # tanh saved its output: its backward refuses
    rec.raises(lambda: lib.autograd.grad(t.pow(2).sum(), c, create_graph=True))
    d = c.exp() * 1
    d.add_(c)
    gg, = lib.autograd.grad(d.pow(2).sum(), c, create_graph=True)
    gg.sum().backward(retain_graph=True)
    rec(c)
    d.mul_(2)  # d was saved by pow, and its double backward reads it again
    rec.raises(lambda: gg.sum().backward())
    rec(c)

def grad_unused_materialize(lib, rec):
    x, y = _leaf(lib, X3), _leaf(lib, W3)
    z = (x * 2).sum()
    rec.raises(lambda: lib.autograd.grad(z, [x, y], retain_graph=True))
    rec.val(lib.autograd.grad(z, [x, y], allow_unused=True, retain_graph=True))
    rec.val(lib.autograd.grad(z, [x, y], materialize_grads=True, retain_graph=True))
    rec.raises(lambda: lib.autograd.grad(z, [x, y], allow_unused=False, materialize_grads=True, retain_graph=True))
    g = lib.autograd.grad(z, [x, y], materialize_grads=True, create_graph=True)
    rec.val([t.requires_grad for t in g])
    c = lib.tensor(2.0, dtype=lib.float64)
    rec.raises(lambda: lib.autograd.grad(x.sum(), c))
    rec.raises(lambda: lib.autograd.grad(c * 2, x))
    rec.val(lib.autograd.grad((x * y).sum(), (x, y), grad_outputs=lib.tensor(2.0, dtype=lib.float64)))
    rec.raises(lambda: lib.autograd.grad((x * y).sum(), x, grad_outputs=lib.ones(3, dtype=lib.float64)))
    rec.val(lib.autograd.grad([(x * y).sum(), (x + y).sum()], [x], allow_unused=True))
    rec.raises(lambda: lib.autograd.grad([], [x]))
    rec.raises(lambda: lib.autograd.grad((x * 2).sum(), []))
    u = x * 2
    rec.val(lib.autograd.grad(u.sum(), u))
    s = lib.autograd.grad(x.sum(), x)[0]
    rec(s)
    rec.val(lib.autograd.grad((x * 2).sum(), [x, x]))
    rec.val(lib.autograd.grad([(x * 2).sum(), (x * 3).sum()], x))
    e = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
    rec.val(lib.autograd.grad(e.sum() * 0, e, is_grads_batched=False))
    rec.val(lib.autograd.grad((e * e).sum(), e, grad_outputs=lib.tensor([1.0, 2.0], dtype=lib.float64), is_grads_batched=True))

def functional_api(lib, rec):
    F = lib.autograd.functional
    def f(x):
        return (x ** 3).sum() + x.prod()
    def g(x, y):
        return x * y.sin(), (x + y).exp()
    x, y = lib.tensor(X3, dtype=lib.float64), lib.tensor(W3, dtype=lib.float64)
    rec.val(F.jacobian(f, x))
    rec.val(F.jacobian(g, (x, y)))
    rec.val(F.jacobian(g, (x, y), vectorize=True))
    rec.val(F.jacobian(lambda a: a * 2, x, strategy="forward-mode", vectorize=True))
    rec.raises(lambda: F.jacobian(lambda a: a * 2, x, strategy="forward-mode"))
    rec.raises(lambda: F.jacobian(lambda a: a * 2, x, strategy="bad"))
    j = F.jacobian(f, x, create_graph=True)
    rec.val(j.requires_grad)
    rec.val(F.hessian(f, x))
    rec.val(F.hessian(lambda a, b: (a * b).sum() ** 2, (x, y)))
    rec.val(F.hessian(f, x, vectorize=True))
    rec.val(F.vjp(f, x))
    rec.val(F.vjp(g, (x, y), (lib.ones(3, dtype=lib.float64), lib.tensor(W3, dtype=lib.float64))))
    rec.val(F.jvp(f, x, lib.tensor(W3, dtype=lib.float64)))
    rec.val(F.jvp(g, (x, y), (lib.ones(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64))))
    rec.val(F.hvp(f, x, lib.tensor(W3, dtype=lib.float64)))
    rec.val(F.vhp(f, x, lib.tensor(W3, dtype=lib.float64)))
    rec.raises(lambda: F.jacobian(lambda a: lib.ones(3, dtype=lib.float64), x, strict=True))
    rec.val(F.jacobian(lambda a: lib.ones(3, dtype=lib.float64), x))
    rec.raises(lambda: F.vjp(lambda a: a.detach(), x, lib.ones(3, dtype=lib.float64), strict=True))
    rec.val(F.vjp(lambda a: a.detach() * 1, x, lib.ones(3, dtype=lib.float64)))
    rec.raises(lambda: F.hessian(lambda a: a.sum() * 2, x, strict=True))
    rec.val(F.hessian(lambda a: a.sum() * 2, x))
    rec.raises(lambda: F.vjp(g, (x, y)))
    rec.raises(lambda: F.hvp(lambda a: a * 2, x, x))
    rec.raises(lambda: F.jvp(f, x, lib.ones(2, dtype=lib.float64)))
    rec.raises(lambda: F.jacobian(lambda a: 3.0, x))
    rec.raises(lambda: F.jacobian(f, [1.0]))
    v, jv = F.jvp(f, x, lib.tensor(W3, dtype=lib.float64), create_graph=True)
    rec.val((v.requires_grad, jv.requires_grad))
    o, vh = F.vhp(f, x, lib.tensor(W3, dtype=lib.float64), create_graph=True)
    rec.val((o.requires_grad, vh.requires_grad))
    xr = _leaf(lib, X3)
    h = F.hessian(f, xr, create_graph=True)
    h.sum().backward()
    rec(xr)
    rec.val(F.jacobian(lambda a, b: (a * b, a.sum()), (x, y), vectorize=True, strategy="reverse-mode"))

def anomaly_messages(lib, rec):
    class Bad(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    x = _leaf(lib, X3)
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("always")
        with lib.autograd.detect_anomaly():
            _msg(rec, lambda: Bad.apply(x).sum().backward())
        rec.val((str(caught[0].message), lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()))
        with lib.autograd.detect_anomaly(check_nan=False):
            rec.val((lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()))
            Bad.apply(x).sum().backward()  # NaN, unchecked
        rec(x)
        x.grad = None
        with lib.autograd.set_detect_anomaly(True):
            rec.val(lib.is_anomaly_enabled())
            _msg(rec, lambda: ((x * 0).log() * 0).sum().backward())
        rec.val(lib.is_anomaly_enabled())
        lib.autograd.set_detect_anomaly(True, check_nan=False)  # as a call: stays on
        rec.val((lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()))
        lib.set_anomaly_enabled(False)
        rec.val((lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()))
        with lib.autograd.detect_anomaly():
            _msg(rec, lambda: (x.sqrt() * 0 + x.log()).sum().backward())
            rec(x)
            b = x * 1
            c = b.exp()
            b.add_(1)
            _msg(rec, lambda: c.sum().backward())


def function_features(lib, rec):
    class Dirty(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            a.mul_(2)
            ctx.mark_dirty(a)
            return a
        @staticmethod
        def backward(ctx, g):
            return g * 2
    x = _leaf(lib, X3)
    y = x * 1
    z = Dirty.apply(y)
    rec(y), rec.val((z is y, y._version))
    (z * z).sum().backward()
    rec(x)
    _msg(rec, lambda: Dirty.apply(_leaf(lib, X3)))
    class NoMat(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.set_materialize_grads(False)
            return a * 2, a * 3
        @staticmethod
        def backward(ctx, g1, g2):
            rec.val((g1 is None, g2 is None))
            return (g1 * 2 if g1 is not None else 0) + (g2 * 3 if g2 is not None else 0)
    x = _leaf(lib, X3)
    p, q = NoMat.apply(x)
    p.sum().backward()
    rec(x)
    class Once(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a ** 2
        @staticmethod
        @lib.autograd.function.once_differentiable
        def backward(ctx, g):
            a, = ctx.saved_tensors
            return 2 * a * g
    x = _leaf(lib, X3)
    g, = lib.autograd.grad(Once.apply(x).sum(), x, create_graph=True)
    rec.val((g.requires_grad,))
    _msg(rec, lambda: g.sum().backward())
    class SaveNum(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a, 3)
            return a * 1
        @staticmethod
        def backward(ctx, g):
            return g
    _msg(rec, lambda: SaveNum.apply(_leaf(lib, X3)))
    class Keeps(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * 2
        @staticmethod
        def backward(ctx, g):
            return g * 2
    x = _leaf(lib, X3)
    k = Keeps.apply(x)
    k.sum().backward()
    _msg(rec, lambda: k.grad_fn.saved_tensors)
    _msg(rec, lambda: Keeps.apply(x, 1))
    _msg(rec, lambda: Keeps.apply(a=x))
    _msg(rec, lambda: Keeps.apply(x) and Keeps.jvp(None, None))
    class Wrong(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b
        @staticmethod
        def backward(ctx, g):
            return g
    _msg(rec, lambda: Wrong.apply(_leaf(lib, X3), _leaf(lib, W3)).sum().backward())
    class WrongShape(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a.sum()
        @staticmethod
        def backward(ctx, g):
            return lib.ones(2, dtype=lib.float64)
    _msg(rec, lambda: WrongShape.apply(_leaf(lib, X3)).backward())
    class ViewOut(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a[:2]
        @staticmethod
        def backward(ctx, g):
            return lib.cat([g, g.new_zeros(1)])
    x = _leaf(lib, X3)
    v = ViewOut.apply(x * 1)
    rec(v)
    _msg(rec, lambda: v.mul_(2))
    v2 = ViewOut.apply(x * 1)
    (v2 * 3).sum().backward()
    rec(x)

def multi_output_partial(lib, rec):
    x = _leaf(lib, X23)
    a, b = x.unbind(0)
    (a * 2).sum().backward()
    rec(x)
    x.grad = None
    p, q = x.split([1, 2], dim=1)
    (q ** 2).sum().backward()
    rec(x)
    x.grad = None
    vals, idx = x.max(dim=1)
    vals.sum().backward()
    rec(x)
    x.grad = None
    u, s, vh = lib.linalg.svd(x, full_matrices=False)
    s.sum().backward()
    rec(x)
    x.grad = None
    q2, r2 = lib.linalg.qr(x.t())
    r2.sum().backward()
    rec(x)
    x.grad = None
    outs = x.chunk(3, dim=1)
    (outs[1] * outs[2]).sum().backward()
    rec(x)
    rec.val(lib.autograd.grad(x.unbind(1)[2].sum(), x))

def nonleaf_inputs_and_retain(lib, rec):
    x = _leaf(lib, X3)
    y = x * 2
    z = (y * y).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        z.backward(inputs=[y], retain_graph=True)
    rec(x), rec.val(y.grad), rec.val(y.retains_grad)
    z.backward(inputs=[x, y], retain_graph=True)
    rec(x), rec.val(y.grad)
    y.retain_grad()
    y.mul_(3)
    (y * y).sum().backward()
    rec(x), rec.val((y.grad, y.retains_grad))
    _msg(rec, lambda: y.requires_grad_(False))
    _msg(rec, lambda: lib.ones(2).register_hook(lambda g: g))
    _msg(rec, lambda: lib.ones(2).retain_grad())
    r = lib.ones(2, requires_grad=True)
    r.retain_grad()
    rec.val(r.retains_grad)
    handles = []
    t = _leaf(lib, X3)
    s = t * 1
    def first(g):
        handles[1].remove()  # removing another hook during backward
        return g * 2
    handles.append(s.register_hook(first))
    handles.append(s.register_hook(lambda g: g * 100))
    (s * 1).sum().backward()
    rec(t)
    t.grad = None
    s2 = t * 1
    def adder(g):
        s2.register_hook(lambda g2: g2 * 7)  # added during backward
        return g
    s2.register_hook(adder)
    (s2 * 1).sum().backward(retain_graph=True)
    rec(t)
    (s2 * 1).sum().backward()
    rec(t)


def accumulate_node_hooks(lib, rec):
    x = _leaf(lib, X3)
    y = x * 2
    acc = y.grad_fn.next_functions[0][0]
    rec.val((acc.name(), acc.next_functions, acc.variable is x))
    seen = []
    acc.register_prehook(lambda gs: seen.append(("pre", gs[0].clone())) or (gs[0] * 2,))
    acc.register_hook(lambda gi, go: seen.append(("post", gi, go[0].clone())))
    x.register_hook(lambda g: seen.append(("tensor", g.clone())) or g + 1)
    y.sum().backward(retain_graph=True)
    rec(x), rec.val(seen)
    seen.clear()
    y.sum().backward()
    rec(x), rec.val(seen)
    seen.clear()
    g, = lib.autograd.grad((x * 3).sum(), x)
    rec.val((g, seen))

def functional_higher_order(lib, rec):
    F = lib.autograd.functional
    def f(x):
        return (x.sin() * x).sum()
    x = _leaf(lib, X3)
    v = lib.tensor(W3, dtype=lib.float64)
    out, hv = F.hvp(f, x, v, create_graph=True)
    hv.sum().backward()
    rec(x), rec.val(out.requires_grad)
    x.grad = None
    out, vj = F.vjp(f, x, create_graph=True)
    vj.sum().backward()
    rec(x)
    x.grad = None
    o, jv = F.jvp(lambda a: a.exp(), x, v, create_graph=True)
    jv.sum().backward()
    rec(x)
    rec.val(F.vjp(f, lib.tensor(X3, dtype=lib.float64)))
    rec.val(F.jvp(lambda a: a.sum() ** 2, lib.tensor(2.0, dtype=lib.float64)))
    _msg(rec, lambda: F.jvp(lambda a: a * 2, lib.tensor(X3, dtype=lib.float64)))
    _msg(rec, lambda: F.vhp(lambda a: a * 2, lib.tensor(X3, dtype=lib.float64), v))
    _msg(rec, lambda: F.hessian(lambda a: (a, a), lib.tensor(X3, dtype=lib.float64)))
    _msg(rec, lambda: F.vjp(lambda a: a * 2, lib.tensor(X3, dtype=lib.float64), (v, v)))
    _msg(rec, lambda: F.vjp(lambda a: a * 2, lib.tensor(X3, dtype=lib.float64), lib.ones(2, dtype=lib.float64)))
    _msg(rec, lambda: F.jacobian(lambda a: [a], lib.tensor(X3, dtype=lib.float64)))
    _msg(rec, lambda: F.jacobian(lambda a: a * 2, 3.0))
    _msg(rec, lambda: F.jacobian(lambda a, b: a * b, (lib.tensor(X3, dtype=lib.float64), 2.0)))
    rec.val(F.jacobian(lambda a: a.sum(), lib.tensor(X3, dtype=lib.float64)))
    rec.val(F.hessian(lambda a, b: (a * b * b).sum(), (lib.tensor(X3, dtype=lib.float64), v)))
    _msg(rec, lambda: F.vjp(lambda a: lib.ones(3, dtype=lib.float64), lib.tensor(X3, dtype=lib.float64),
                            lib.ones(3, dtype=lib.float64), strict=True))
    _msg(rec, lambda: F.jvp(lambda a: a.detach(), lib.tensor(X3, dtype=lib.float64), v, strict=True))
    _msg(rec, lambda: F.hvp(lambda a: a.sum(), lib.tensor(X3, dtype=lib.float64), v, strict=True))
    _msg(rec, lambda: F.hessian(lambda a: a.sum(), lib.tensor(X3, dtype=lib.float64), strict=True))
    _msg(rec, lambda: F.jacobian(lambda a: a.detach() * 2, lib.tensor(X3, dtype=lib.float64), strict=True))

def functional_v_checks(lib, rec):
    F = lib.autograd.functional
    x, y = lib.tensor(X3, dtype=lib.float64), lib.tensor(W3[:2], dtype=lib.float64)
    one = lib.ones(3, dtype=lib.float64)
    for call in (lambda: F.vjp(lambda a: a * 2, x, (one, one)), lambda: F.vjp(lambda a: a * 2, x, lib.ones(2)),
                 lambda: F.vjp(lambda a, b: (a * 2, b), (x, y), (one,)),
                 lambda: F.vjp(lambda a, b: (a * 2, b), (x, y), (one, one)),
                 lambda: F.jvp(lambda a: a * 2, x, lib.ones(4, dtype=lib.float64)),
                 lambda: F.jvp(lambda a, b: a * b.sum(), (x, y), (one, one)),
                 lambda: F.vhp(lambda a: a.sum(), x, lib.ones(2, dtype=lib.float64)),
                 lambda: F.hvp(lambda a: a, x, one), lambda: F.hvp(lambda a: (a.sum(), a.sum()), x, one),
                 lambda: F.vjp(lambda a: a * 2, x), lambda: F.jvp(lambda a: a * 2, x),
                 lambda: F.vjp(lambda a: a * 2, x, 3.0), lambda: F.vjp(lambda a: 3.0, x)):
        _msg(rec, call)


def functional_strict_messages(lib, rec):
    F = lib.autograd.functional
    x, v = lib.tensor(X3, dtype=lib.float64), lib.tensor(W3, dtype=lib.float64)
    for call in (lambda: F.vjp(lambda a: lib.ones(3, dtype=lib.float64), x, v, strict=True),
                 lambda: F.vjp(lambda a, b: a * 2, (x, x), v, strict=True),
                 lambda: F.jvp(lambda a: a.detach(), x, v, strict=True),
                 lambda: F.jvp(lambda a, b: a * 2, (x, x), (v, v), strict=True),
                 lambda: F.hvp(lambda a: a.sum(), x, v, strict=True),
                 lambda: F.vhp(lambda a: a.sum(), x, v, strict=True),
                 lambda: F.vhp(lambda a, b: (a * a).sum(), (x, x), (v, v), strict=True),
                 lambda: F.hessian(lambda a: a.sum(), x, strict=True),
                 lambda: F.hessian(lambda a: lib.ones((), dtype=lib.float64), x, strict=True),
                 lambda: F.hessian(lambda a, b: (a * a).sum(), (x, x), strict=True),
                 lambda: F.jacobian(lambda a: a.detach() * 2, x, strict=True),
                 lambda: F.jacobian(lambda a, b: a * 2, (x, x), strict=True),
                 lambda: F.jacobian(lambda a, b: (a * b, b.detach()), (x, x), strict=True)):
        _msg(rec, call)
    rec.val(F.hessian(lambda a, b: (a * a * b).sum(), (x, v), strict=True))


PROGRAMS = [backward_gradient_counts, grad_dtype_casts, grad_assignment_checks, hooks_return_checked,
            checkpoint_recomputes_as_torch, legacy_constructor, hooks_leaf_nonleaf_retain, double_backward_inplace,
            grad_unused_materialize, functional_api, anomaly_messages, function_features, multi_output_partial,
            nonleaf_inputs_and_retain, accumulate_node_hooks, functional_higher_order, functional_v_checks,
            functional_strict_messages]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_audit(program):
    compare(program, torch, ember)
