"""Autograd corner cases checked against torch 2.13: a leaf's integer grad_dtype (accepted, refused once a
gradient reaches it), allow_mutation_on_saved_tensors's clone-on-write (a saved tensor is copied only when
written in place, and backward sees its saved values), hooks on a view written in place, and the warning
backward(create_graph=True) gives once per process."""
import gc
import subprocess
import sys
import weakref

import pytest
import torch

import ember


def _both(case):
    """``case(lib)`` for ember and for torch."""
    return case(ember), case(torch)


# ---------------------------------------------------------------- grad_dtype

@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("how", ["backward", "grad", "hooked"])
def test_integer_grad_dtype_is_accepted_then_refused_in_backward_as_torch(dtype, how):
    def case(lib):
        x = lib.tensor([1.5, -2.5, 3.0], requires_grad=True)
        x.grad_dtype = getattr(lib, dtype)  # accepted, as torch's
        x.grad = lib.ones(3, dtype=getattr(lib, dtype))  # so is a .grad of that dtype
        assert x.grad_dtype is getattr(lib, dtype) and x.grad.dtype is getattr(lib, dtype)
        y = (x * 1.7).sum()
        if how == "hooked":
            x.register_hook(lambda g: g)
        with pytest.raises(RuntimeError) as info:
            lib.autograd.grad(y, x) if how == "grad" else y.backward()
        return type(info.value)
    assert _both(case) == (RuntimeError, RuntimeError)


@pytest.mark.parametrize("dtype", ["float16", "float64", "complex64"])
def test_floating_and_complex_grad_dtype_cast_the_gradient_as_torch(dtype):
    def case(lib):
        x = lib.tensor([1.5, -2.5, 3.0], requires_grad=True)
        x.grad_dtype = getattr(lib, dtype)
        (x * 1.7).sum().backward()
        (x * 1.7).sum().backward()
        g = lib.autograd.grad((x * 1.7).sum(), x)[0]
        return str(x.grad.dtype).split(".")[-1], x.grad.tolist(), str(g.dtype).split(".")[-1], g.tolist()
    e, t = _both(case)
    assert e == t


# ---------------------------------------------------------------- allow_mutation_on_saved_tensors

def _saving(lib):
    """A Function that saves its input and reports the address its backward finds it at."""
    class Scale(lib.autograd.Function):
        seen = None

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            s, = ctx.saved_tensors
            Scale.seen = s.data_ptr()
            return g * s
    return Scale


MUTATIONS = {
    "none": None,
    "add_": lambda lib, x: x.add_(10),
    "zero_": lambda lib, x: x.zero_(),
    "fill_": lambda lib, x: x.fill_(5),
    "copy_": lambda lib, x: x.copy_(lib.ones(3)),
    "setitem": lambda lib, x: x.__setitem__(0, 100.0),
    "prefix view": lambda lib, x: x[:2].mul_(10),  # (a view at the saved tensor's address)
    "data": lambda lib, x: x.data.mul_(7),
    "detach": lambda lib, x: x.detach().mul_(7),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_allow_mutation_copies_a_saved_tensor_only_when_written_as_torch(mutation):
    def case(lib):
        fn = _saving(lib)
        with lib.autograd.graph.allow_mutation_on_saved_tensors():
            a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
            x = a * 1
            y = fn.apply(x)
            address = x.data_ptr()
            if MUTATIONS[mutation] is not None:
                MUTATIONS[mutation](lib, x)
            y.sum().backward()
        # backward multiplies by the saved values as they were; it reads the saved tensor's own memory only
        # when nothing wrote to it
        return a.grad.tolist(), fn.seen == address
    e, t = _both(case)
    assert e == t
    assert t == ([1.0, 2.0, 3.0], mutation == "none")


def test_allow_mutation_builtin_ops_see_saved_values_as_torch():
    def case(lib):
        with lib.autograd.graph.allow_mutation_on_saved_tensors():
            a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
            x = a * 1
            y = (x * x).sum() + x.sin().sum()
            x.mul_(3)
            y2 = (x * x).sum()  # saved after the write: its backward sees the written values
            x.exp_()
            (y + y2).backward()
        return a.grad.tolist()
    e, t = _both(case)
    assert e == pytest.approx(t, rel=1e-6)


def test_allow_mutation_does_not_keep_saved_tensors_alive_after_backward_as_torch():
    def case(lib):
        with lib.autograd.graph.allow_mutation_on_saved_tensors():
            a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
            x = a * 1
            y = _saving(lib).apply(x)
            kept = weakref.ref(x)
            del x
            y.sum().backward()
            del y
            gc.collect()
            return kept() is None
    assert _both(case) == (True, True)


# ---------------------------------------------------------------- hooks on a view written in place

def _view_hooks(lib, write, loss_through_view):
    """Hooks on a view ``v`` of ``y`` and on ``y``; ``write`` runs in place; what each hook saw, and x.grad."""
    x = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    w = lib.tensor([1.0, 2.0, 3.0, 4.0])
    y = x * 1
    v = y[1:]
    seen = []
    v.register_hook(lambda g: seen.append(("v", g.tolist())))
    y.register_hook(lambda g: seen.append(("y", g.tolist())))
    s = (v * 3).sum()  # uses v before the write: the hook sees this part of v's gradient
    write(v, y)
    loss = (v * w[1:]).sum() if loss_through_view else (y * w).sum()
    (s + loss).backward()
    return sorted(seen), x.grad.tolist()


@pytest.mark.parametrize("write", ["view mul_", "view by itself", "view sin_ cos_", "base mul_"])
@pytest.mark.parametrize("loss_through_view", [False, True])
def test_hook_on_a_view_written_in_place_sees_only_the_gradient_before_the_write_as_torch(write, loss_through_view):
    writes = {"view mul_": lambda v, y: v.mul_(2), "view by itself": lambda v, y: v.add_(v),
              "view sin_ cos_": lambda v, y: v.sin_().cos_(), "base mul_": lambda v, y: y.mul_(3)}
    (es, eg), (ts, tg) = _both(lambda lib: _view_hooks(lib, writes[write], loss_through_view))
    assert [name for name, _ in es] == [name for name, _ in ts]
    for (_, e), (_, t) in zip(es, ts):
        assert e == pytest.approx(t, rel=1e-5)
    assert eg == pytest.approx(tg, rel=1e-5)


# ---------------------------------------------------------------- backward(create_graph=True)

_WARNINGS = """
import warnings, sys
import {lib}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    x = {lib}.ones(2, requires_grad=True)
    {lib}.autograd.grad((x * x).sum(), x, create_graph=True)   # grad() does not warn
    print(len(caught))
    (x * 2).sum().backward(create_graph=True)
    (x * x).sum().backward(create_graph=True)                  # once per process
    (x * x).sum().backward()
print(len(caught), caught[-1].category.__name__, str(caught[-1].message).split(" (Triggered")[0])
"""


def test_backward_with_create_graph_warns_once_per_process_as_torch():
    out = {}
    for lib in ("torch", "ember"):
        run = subprocess.run([sys.executable, "-c", _WARNINGS.format(lib=lib)], capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        out[lib] = run.stdout
    assert out["ember"] == out["torch"]
    assert out["torch"].startswith("0\n1 UserWarning Using backward() with create_graph=True will create a reference")


# ---------------------------------------------------------------- forward AD under inference_mode

def test_inference_mode_turns_forward_ad_off_as_torch():
    def case(lib):
        fw = lib.autograd.forward_ad
        seen = []
        with fw.dual_level():
            with lib.inference_mode():
                made = fw.make_dual(lib.tensor([1.0, 2.0]), lib.ones(2))
                seen.append(fw.unpack_dual(made).tangent)
            d = fw.make_dual(lib.tensor([1.0, 2.0]), lib.tensor([3.0, 4.0]))
            with lib.inference_mode():
                seen += [fw.unpack_dual(d.sin()).tangent, fw.unpack_dual(d).tangent]
            with lib.no_grad():  # no_grad leaves forward AD on
                seen.append(fw.unpack_dual(d.sin()).tangent.tolist())
            seen.append(fw.unpack_dual(d).tangent.tolist())
        return seen
    e, t = _both(case)
    assert e[:3] == t[:3] == [None, None, None]
    assert e[3] == pytest.approx(t[3], rel=1e-6) and e[4] == t[4] == [3.0, 4.0]


def test_inference_mode_leaves_func_jvp_on_but_autograd_functional_jvp_off_as_torch():
    def case(lib):
        with lib.inference_mode():
            x, t = lib.tensor([0.5, 1.0]), lib.tensor([1.0, 2.0])
            return ([r.tolist() for r in lib.func.jvp(lib.sin, (x,), (t,))], lib.func.jacfwd(lib.sin)(x).tolist(),
                    [r.tolist() for r in lib.autograd.functional.jvp(lib.sin, x, t)])
    e, t = _both(case)
    assert e[2][1] == t[2][1] == [0.0, 0.0]  # torch's forward AD is off there: a zero tangent
    for a, b in zip((e[0], e[1], e[2][0]), (t[0], t[1], t[2][0])):
        assert a == pytest.approx(b, rel=1e-6) if not isinstance(a[0], list) else \
            all(ra == pytest.approx(rb, rel=1e-6) for ra, rb in zip(a, b))


# ---------------------------------------------------------------- gradients handed to backward, and by Functions

def _error(fn):
    """(type name, message) of what ``fn()`` raises."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the tests compare what each library raises
        return type(e).__name__, str(e)
    return None


def test_a_function_giving_a_gradient_for_a_non_tensor_input_is_refused_as_torch():
    def case(lib):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, g):
                return g * 2, lib.ones(1)
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        return _error(lambda: Scale.apply(x, 2.0).sum().backward())
    e, t = _both(case)
    assert e == t == ("RuntimeError", "function ScaleBackward returned a gradient different than None at position 2, "
                                      "but the corresponding forward input was not a Variable")


@pytest.mark.parametrize("out_dtype,grad_dtype", [("float32", "complex64"), ("complex64", "float32"),
                                                  ("complex64", "complex128"), ("float32", "float64")])
@pytest.mark.parametrize("api", ["backward", "grad"])
def test_a_complex_gradient_for_a_real_output_or_the_reverse_is_refused_as_torch(out_dtype, grad_dtype, api):
    def case(lib):
        x = lib.ones(2, dtype=getattr(lib, out_dtype), requires_grad=True)
        g = lib.ones(2, dtype=getattr(lib, grad_dtype))
        if api == "grad":
            return _error(lambda: lib.autograd.grad(x * 1, x, g)) or str(lib.autograd.grad(x * 1, x, g)[0].dtype)
        return _error(lambda: (x * 1).backward(g)) or str(x.grad.dtype)
    e, t = _both(case)
    assert e == t


# ---------------------------------------------------------------- node hooks, multithreading setting

@pytest.mark.parametrize("kind", ["prehook", "posthook", "posthook keeping None"])
def test_node_hook_may_not_replace_a_none_gradient_as_torch(kind):
    def case(lib):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        if kind == "prehook":  # unbind's node: only the first output's gradient is not None
            a = x.unbind(0)[0]
            a.grad_fn.register_prehook(lambda go: tuple(lib.ones(()) if g is None else g for g in go))
            return _error(a.backward) or x.grad.tolist()
        y = x * 2  # its node's second input (the number) has a None gradient
        second = (lambda gi: gi[0]) if kind == "posthook" else (lambda gi: None)
        y.grad_fn.register_hook(lambda gi, go: (gi[0] * 10, second(gi)))
        return _error(lambda: (y * 3).sum().backward()) or x.grad.tolist()
    e, t = _both(case)
    assert e == t
    assert t == ([60.0] * 3 if kind == "posthook keeping None" else
                 ("RuntimeError", "can't replace a None gradient with a non-None value"))


def test_set_multithreading_enabled_as_torch():
    def case(lib):
        ag = lib.autograd
        seen = [ag.is_multithreading_enabled()]
        with ag.set_multithreading_enabled(False) as entered:
            seen += [entered, ag.is_multithreading_enabled()]
        seen.append(ag.is_multithreading_enabled())
        ag.set_multithreading_enabled(False)  # takes effect at once, as a function
        seen.append(ag.is_multithreading_enabled())
        ag.set_multithreading_enabled(True)
        x = lib.ones(2, requires_grad=True)
        with ag.set_multithreading_enabled(False):
            (x * 2).sum().backward()
        return seen, x.grad.tolist()
    e, t = _both(case)
    assert e == t == ([True, None, False, True, False], [2.0, 2.0])


# ---------------------------------------------------------------- gradcheck's forward-mode checks

def _gradcheck_outcomes(lib):
    """What gradcheck/gradgradcheck return or raise (type, first line) with torch 2.13's forward-mode options."""
    gc, ggc = lib.autograd.gradcheck, lib.autograd.gradgradcheck

    class WrongJvp(lib.autograd.Function):  # backward right (2), jvp wrong (3)
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

        @staticmethod
        def jvp(ctx, t):
            return t * 3

    def x():
        return lib.tensor([0.3, 0.7, 1.1], dtype=lib.float64, requires_grad=True)
    z = lib.tensor([0.3 + 0.2j], dtype=lib.complex128, requires_grad=True)
    calls = [
        lambda: gc(lambda a: a.sin(), (x(),), check_forward_ad=True),
        lambda: gc(lambda a, b: (a.sin() * b, a + b), (x(), x() * 2), check_forward_ad=True, check_backward_ad=False),
        lambda: gc(lambda a: (a * a).real, (z,), check_forward_ad=True),
        lambda: gc(WrongJvp.apply, (x(),)),
        lambda: gc(WrongJvp.apply, (x(),), check_forward_ad=True),
        lambda: gc(WrongJvp.apply, (x(),), check_forward_ad=True, raise_exception=False),
        lambda: gc(lambda a: a.sin(), (x(),), check_backward_ad=False),
        lambda: gc(lambda a: a.sin(), (x(),), check_batched_forward_grad=True),
        lambda: ggc(lambda a, b: a.sin() * b * b, (x(), x() * 2), check_fwd_over_rev=True),
        lambda: ggc(lambda a: WrongJvp.apply(a) * a, (x(),), check_fwd_over_rev=True),
        lambda: ggc(lambda a: a.sin() * a, (x(),), check_fwd_over_rev=True, check_rev_over_rev=False),
        lambda: ggc(lambda a: a.sin() * a, (x(),), check_rev_over_rev=False),
    ]
    out = []
    for call in calls:
        err = _error(call)
        out.append(call() if err is None else (err[0], err[1].split("\n")[0]))
    return out


def test_gradcheck_forward_mode_options_as_torch():
    e, t = _both(_gradcheck_outcomes)
    assert e == t
    assert t[:4] == [True, True, True, True] and t[5] is False
