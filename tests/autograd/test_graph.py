"""autograd.graph (saved-tensor hooks, multi-tensor hooks, Node, GradientEdge), each case run under torch and ember."""
import importlib
import threading

import numpy as np
import pytest
import torch

import ember
from conftest import assert_close

LIBS = (ember, torch)
RNG = np.random.default_rng(0)
A, B, M = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
X, W, Y = RNG.standard_normal((5, 3)), RNG.standard_normal((4, 2)), RNG.standard_normal((5, 1))


def graph(lib):
    return importlib.import_module(lib.__name__ + ".autograd.graph")


def leaf(lib, arr, requires_grad=True):
    return lib.tensor(arr, dtype=lib.float32, requires_grad=requires_grad)


def both(case):
    """``case(lib)`` under ember and torch: (ember's result, torch's)."""
    return case(ember), case(torch)


def raises(fn):
    """The exception class and message ``fn()`` raises."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 (the class is what is compared)
        return type(e), str(e)
    raise AssertionError("did not raise")


def same_errors(*cases) -> None:
    """Each ``case(lib)`` raises the same exception class and message under ember as under torch."""
    for case in cases:
        e, t = both(lambda lib: raises(lambda: case(lib)))  # noqa: B023 (run at once)
        assert e == t, case.__name__


def logging_hooks(log):
    def pack(t):
        log.append(("pack", tuple(t.shape), t.requires_grad, t.grad_fn is not None))
        return t

    def unpack(t):
        log.append(("unpack", tuple(t.shape)))
        return t
    return pack, unpack


OPS = {
    "mul": lambda lib, a, b: a * b,
    "mul_one_needs_grad": lambda lib, a, b: a * b.detach(),
    "mul_scalar": lambda lib, a, b: a * 2,
    "div": lambda lib, a, b: a / b,
    "matmul": lambda lib, a, b: a @ leaf(lib, M),
    "exp": lambda lib, a, b: a.exp(),
    "sin": lambda lib, a, b: a.sin(),
    "log": lambda lib, a, b: a.abs().log(),
    "relu": lambda lib, a, b: a.relu(),
    "sigmoid": lambda lib, a, b: a.sigmoid(),
    "tanh": lambda lib, a, b: a.tanh(),
    "softmax": lambda lib, a, b: a.softmax(-1),
    "sum": lambda lib, a, b: a.sum(),
    "mean": lambda lib, a, b: a.mean(),
}


@pytest.mark.parametrize("op", sorted(OPS))
def test_builtin_ops_pack_what_torch_saves(op):
    def case(lib):
        a, b = leaf(lib, A), leaf(lib, B)
        log = []
        with graph(lib).saved_tensors_hooks(*logging_hooks(log)):
            y = OPS[op](lib, a, b)
        y.sum().backward()
        # (the order two operands are saved in is the op's own business: compared as a multiset)
        return sorted(log), a.grad, b.grad
    (elog, ega, egb), (tlog, tga, tgb) = both(case)
    assert elog == tlog
    assert_close(ega, tga)
    assert_close(egb, tgb)


def test_pack_to_float16_gives_torch_gradients():
    def case(lib):
        x, w1, w2 = leaf(lib, X), leaf(lib, M), leaf(lib, W)
        dtypes = []

        def pack(t):
            dtypes.append(str(t.dtype))
            return t.to(lib.float16)
        with graph(lib).saved_tensors_hooks(pack, lambda t: t.to(lib.float32)):
            loss = ((x @ w1).tanh() @ w2).exp().sum()
        loss.backward()
        return dtypes, x.grad, w1.grad, w2.grad
    e, t = both(case)
    assert e[0] == t[0] == ["torch.float32"] * 6
    for eg, tg in zip(e[1:], t[1:]):
        assert_close(eg, tg, atol=1e-2, rtol=1e-2)


MODULES = {
    "conv_bn": (lambda nn: nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                         nn.Flatten(), nn.Linear(16, 3)), (2, 2, 4, 4)),
    "lstm": (lambda nn: nn.LSTM(3, 5, num_layers=2, batch_first=True), (2, 4, 3)),
    "layernorm_gelu": (lambda nn: nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.GELU(), nn.Linear(6, 2),
                                                nn.LogSoftmax(-1)), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_under_copying_hooks(name):
    make, shape = MODULES[name]
    x = RNG.standard_normal(shape)

    def case(lib):
        lib.manual_seed(0)
        model = make(lib.nn)
        with graph(lib).saved_tensors_hooks(lambda t: t.clone(), lambda t: t):
            out = model(leaf(lib, x, False))
        out = out[0] if isinstance(out, tuple) else out
        (out ** 2).sum().backward()
        return [p.grad for p in model.parameters()]
    for eg, tg in zip(*both(case)):
        assert_close(eg, tg, atol=1e-4, rtol=1e-4)


def test_pack_to_disk(tmp_path):
    def case(lib):
        x, w = leaf(lib, A), leaf(lib, M)
        files = []

        def pack(t):
            name = str(tmp_path / f"{lib.__name__}_{len(files)}.pt")
            lib.save(t, name)
            files.append(name)
            return name
        with graph(lib).saved_tensors_hooks(pack, lambda name: lib.load(name)):
            (x @ w).sigmoid().sum().backward()
        return len(files), x.grad, w.grad
    e, t = both(case)
    assert e[0] == t[0] == 3
    assert_close(e[1], t[1])
    assert_close(e[2], t[2])


def test_count_saved_bytes():
    def case(lib):
        x, w = lib.tensor(X, requires_grad=True), leaf(lib, M)
        total = [0]

        def pack(t):
            total[0] += t.numel() * t.element_size()
            return t
        with graph(lib).saved_tensors_hooks(pack, lambda t: t):
            ((x.float() @ w).relu() * 3).tanh().sum().backward()
        return total[0]
    e, t = both(case)
    assert e == t


def test_nested_contexts_innermost_wins():
    def case(lib):
        log = []
        g = graph(lib)
        a = leaf(lib, A)
        with g.saved_tensors_hooks(lambda t: log.append("outer") or t, lambda t: log.append("outer-un") or t):
            y = a.exp()
            with g.saved_tensors_hooks(lambda t: log.append("inner") or t, lambda t: log.append("inner-un") or t):
                z = a.sin()
            w = a.cos()
        (y + z + w).sum().backward()
        return log, a.grad
    e, t = both(case)
    assert e[0] == t[0]
    assert_close(e[1], t[1])


def test_no_pack_without_grad_or_outside():
    def case(lib):
        log = []
        a = leaf(lib, A)
        with graph(lib).saved_tensors_hooks(*logging_hooks(log)):
            with lib.no_grad():
                a.exp()
            leaf(lib, A, requires_grad=False).exp()
        a.exp().sum().backward()
        return log
    assert both(case) == ([], [])


def make_function(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            out = x * y
            ctx.save_for_backward(out, x, x + 1, None)
            return out

        @staticmethod
        def backward(ctx, g):
            out, x, mid, none = ctx.saved_tensors
            ctx.log.append(("bw", out.grad_fn is not None, x.requires_grad, mid.requires_grad, none))
            ctx.saved_tensors  # noqa: B018 (each read unpacks again)
            return g * out / x, g * x
    return F


def test_custom_function_save_for_backward():
    def case(lib):
        log = []
        x, y = leaf(lib, A), leaf(lib, B)
        F = make_function(lib)

        def pack(t):
            log.append(("pack", t.requires_grad, None if t.grad_fn is None else t.grad_fn.name(), lib.is_grad_enabled()))
            return t
        with graph(lib).saved_tensors_hooks(pack, lambda t: log.append("unpack") or t):
            o = F.apply(x, y)
        o.grad_fn.log = log
        (o * o).sum().backward()
        return log, x.grad, y.grad
    e, t = both(case)
    assert e[0] == t[0]
    assert_close(e[1], t[1])
    assert_close(e[2], t[2])


@pytest.mark.parametrize("make", ["exp", "mul", "custom"])
def test_create_graph_through_unpacked_tensors(make):
    def case(lib):
        x, y = leaf(lib, A), leaf(lib, B)
        f = {"exp": lambda: (x * y).exp(), "mul": lambda: x * x * y, "custom": lambda: make_function(lib).apply(x, y)}
        with graph(lib).saved_tensors_hooks(lambda t: t.detach().clone(), lambda t: t):
            out = f[make]()
        if make == "custom":
            out.grad_fn.log = []
        gx, gy = lib.autograd.grad(out.sum(), (x, y), create_graph=True)
        return (gx * gy).sum(), lib.autograd.grad((gx * gy).sum(), (x, y))
    e, t = both(case)
    assert_close(e[0], t[0])
    for eg, tg in zip(e[1], t[1]):
        assert_close(eg, tg, atol=1e-4)


@pytest.mark.parametrize("hooks", ["identity", "save_on_cpu", "save_on_cpu_pinned"])
def test_hooks_skip_the_version_check(hooks):
    def case(lib):
        g = graph(lib)
        a, b = leaf(lib, A), leaf(lib, B)
        with {"identity": lambda: g.saved_tensors_hooks(lambda t: t, lambda t: t),
              "save_on_cpu": g.save_on_cpu, "save_on_cpu_pinned": lambda: g.save_on_cpu(pin_memory=True)}[hooks]():
            y = a * b
        with lib.no_grad():  # pinned memory holds a copy; otherwise backward reads the tensor itself
            b.mul_(2)
        y.sum().backward()
        return a.grad
    assert_close(*both(case))


def test_unpack_called_per_backward_and_freed_after():
    def case(lib):
        calls = []
        a = leaf(lib, A)
        with graph(lib).saved_tensors_hooks(lambda t: t, lambda t: calls.append(1) or t):
            y = a.exp().sum()
        y.backward(retain_graph=True)
        y.backward()
        return len(calls), raises(y.backward)[0]
    assert both(case) == ((2, RuntimeError), (2, RuntimeError))


@pytest.mark.parametrize("bad", [5, None])
def test_unpack_must_return_a_tensor(bad):
    def case(lib):
        a = leaf(lib, A)
        with graph(lib).saved_tensors_hooks(lambda t: t, lambda t: bad):
            y = a.exp().sum()
        return raises(y.backward)
    assert both(case)[0] == both(case)[1]


def test_pack_hook_may_not_write_its_input():
    def case(lib):
        a = leaf(lib, A)
        with graph(lib).saved_tensors_hooks(lambda t: t.mul_(2), lambda t: t):
            return raises(lambda: a * a.detach().requires_grad_())
    e, t = both(case)
    assert e == t


def test_disable_saved_tensors_hooks():
    def register(lib):
        g = graph(lib)
        with g.disable_saved_tensors_hooks("no hooks here"):
            with g.saved_tensors_hooks(lambda t: t, lambda t: t):
                pass

    def save_inside(lib):
        g = graph(lib)
        with g.saved_tensors_hooks(lambda t: t, lambda t: t):
            with g.disable_saved_tensors_hooks("no saving"):
                leaf(lib, A).exp()

    def nested(lib):
        g = graph(lib)
        with g.disable_saved_tensors_hooks("outer"):
            with g.disable_saved_tensors_hooks("inner"):
                pass
            with g.saved_tensors_hooks(lambda t: t, lambda t: t):
                pass

    def after(lib):  # the switch ends with its context
        g = graph(lib)
        with g.disable_saved_tensors_hooks("x"):
            pass
        log = []
        with g.saved_tensors_hooks(lambda t: log.append(1) or t, lambda t: t):
            leaf(lib, A).exp()
        return log
    same_errors(register, save_inside, nested)
    assert both(after) == ([1], [1])


def test_save_on_cpu_training_loop():
    def case(lib):
        lib.manual_seed(0)
        model = lib.nn.Sequential(lib.nn.Linear(3, 8), lib.nn.Tanh(), lib.nn.Linear(8, 1))
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        x, y = leaf(lib, X, False), leaf(lib, Y, False)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            with graph(lib).save_on_cpu():
                loss = lib.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, [p for p in model.parameters()]
    e, t = both(case)
    np.testing.assert_allclose(e[0], t[0], rtol=1e-5)
    for ep, tp in zip(e[1], t[1]):
        assert_close(ep, tp)


def test_hooks_are_per_thread():
    def case(lib):
        log = []
        seen_in_thread = []
        with graph(lib).saved_tensors_hooks(lambda t: log.append(1) or t, lambda t: t):
            th = threading.Thread(target=lambda: seen_in_thread.append(leaf(lib, A).exp() is not None))
            th.start()
            th.join(timeout=30)
        return log, seen_in_thread
    assert both(case) == (([], [True]), ([], [True]))


def test_allow_mutation_on_saved_tensors():
    def mutate(lib):
        with graph(lib).allow_mutation_on_saved_tensors():
            a = leaf(lib, [1.0, 2.0, 3.0])
            b = a * 1
            y = (b * b).sum() + b.exp().sum()
            b.mul_(10)
            b[:2].add_(1)
            y.backward()
        return a.grad

    def outside(lib):
        with graph(lib).allow_mutation_on_saved_tensors():
            y = (leaf(lib, A) * 1).sin().sum()
        return raises(y.backward)

    def nested(lib):
        g = graph(lib)
        with g.allow_mutation_on_saved_tensors():
            with g.allow_mutation_on_saved_tensors():
                pass
    assert_close(*both(mutate))
    e, t = both(outside)
    assert e == t
    same_errors(nested)


# ---------------------------------------------------------------- multi-tensor hooks

def test_multi_grad_hook_all():
    def case(lib):
        a, b, c = leaf(lib, A[0]), leaf(lib, B[0]), leaf(lib, A[1])
        calls = []
        h = graph(lib).register_multi_grad_hook((a, b, c), lambda gs: calls.append([None if g is None else g.clone() for g in gs]))
        (a * b).sum().backward()          # c takes no part: None, and fn still runs
        (a * 2 + b * c).sum().backward()  # all three
        ab = a * b
        lib.autograd.grad((ab * 2).sum(), ab)  # none of their gradients is computed: no call
        h.remove()
        (a * b).sum().backward()
        return calls
    e, t = both(case)
    assert len(e) == len(t) == 2
    for ecall, tcall in zip(e, t):
        for eg, tg in zip(ecall, tcall):
            assert_close(eg, tg)


def test_multi_grad_hook_all_non_leaves_under_grad():
    def case(lib):
        x = leaf(lib, A)
        h1, h2 = x * 2, x.exp()
        calls = []
        graph(lib).register_multi_grad_hook((h1, h2), lambda gs: calls.append(list(gs)))
        gx, = lib.autograd.grad((h1 * h2).sum(), x)
        return calls, gx
    e, t = both(case)
    assert len(e[0]) == len(t[0]) == 1
    for eg, tg in zip(e[0][0], t[0][0]):
        assert_close(eg, tg)
    assert_close(e[1], t[1])


def test_multi_grad_hook_any():
    def case(lib):
        a, b = leaf(lib, A[0]), leaf(lib, B[0])
        calls = []
        h = graph(lib).register_multi_grad_hook((a, b), lambda g: calls.append(g.clone()), mode="any")
        (a * 2 + b * 3).sum().backward()
        (a * 5).sum().backward()
        h.remove()
        (a * 7).sum().backward()
        return calls
    e, t = both(case)
    assert len(e) == len(t) == 2
    for eg, tg in zip(e, t):
        assert_close(eg, tg)


def test_multi_grad_hook_errors():
    def bad_mode(lib):
        graph(lib).register_multi_grad_hook((leaf(lib, A),), print, mode="some")

    def no_grad_tensor(lib):
        graph(lib).register_multi_grad_hook((leaf(lib, A, False),), print)

    def leaves_under_grad(lib):
        a, b = leaf(lib, A), leaf(lib, B)
        graph(lib).register_multi_grad_hook((a, b), print)
        lib.autograd.grad((a * b).sum(), (a, b))
    same_errors(bad_mode, no_grad_tensor, leaves_under_grad)


def test_multi_grad_hook_per_parameter_like_ddp():
    def case(lib):
        lib.manual_seed(0)
        model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2))
        params = list(model.parameters())
        seen = []

        def ready(grads):  # all gradients of the pass, before they land in .grad
            seen.append(([g.clone() for g in grads], [p.grad is None for p in params]))
        graph(lib).register_multi_grad_hook(params, ready)
        for _ in range(2):
            model(leaf(lib, X, False)).pow(2).sum().backward()
        return seen, [p.grad for p in params]
    e, t = both(case)
    assert len(e[0]) == len(t[0]) == 2
    for (eg, enone), (tg, tnone) in zip(e[0], t[0]):
        assert enone == tnone
        for x, y in zip(eg, tg):
            assert_close(x, y)
    for x, y in zip(e[1], t[1]):
        assert_close(x, y)


# ---------------------------------------------------------------- Node, GradientEdge, versions

def test_node_type_and_interface():
    def case(lib):
        g = graph(lib)
        a, b = leaf(lib, A), leaf(lib, B)
        y = a * b
        node = y.grad_fn
        node.metadata["tag"] = 1
        calls = []
        node.register_prehook(lambda gout: calls.append("pre"))
        node.register_hook(lambda gin, gout: calls.append(("post", len(gin), len(gout))))
        y.sum().backward()
        acc = node.next_functions[0][0]
        return (isinstance(node, g.Node), issubclass(type(node), g.Node), isinstance(acc, g.Node),
                isinstance(a, g.Node), node.name(), y.grad_fn.metadata, len(node.next_functions),
                node.next_functions[0][1], acc.metadata, acc.next_functions, calls)
    e, t = both(case)
    assert e == t


def test_gradient_edge():
    def case(lib):
        g = graph(lib)
        a = leaf(lib, A)
        y = a * 2
        z = (y * 3).sum()
        ey, ea = g.get_gradient_edge(y), g.get_gradient_edge(a)
        return (ey.node is y.grad_fn, ey.output_nr, ea.node.name().endswith("AccumulateGrad"), ea.output_nr,
                type(ey).__name__, ey._fields, lib.autograd.grad(z, [ey, a], retain_graph=True),
                lib.autograd.grad(z, ey, retain_graph=True), lib.autograd.grad(z, ea, retain_graph=True),
                backward_into(z, ea), backward_into(z, ey))

    def backward_into(z, edge):  # a leaf's edge fills its .grad; a non-leaf's gradient is computed and dropped
        z.backward(inputs=[edge], retain_graph=True)
        return (edge.node.variable.grad.clone() if hasattr(edge.node, "variable") else None,)
    e, t = both(case)
    assert e[:6] == t[:6]
    for eg, tg in zip(sum(e[6:], ()), sum(t[6:], ())):
        assert_close(eg, tg)


def test_gradient_edge_as_output():
    def case(lib):
        g = graph(lib)
        a = leaf(lib, A)
        y = a.exp()
        ey = g.get_gradient_edge(y)
        gy = leaf(lib, B, False)
        first = lib.autograd.grad([ey], [a], grad_outputs=[gy], retain_graph=True)
        lib.autograd.backward([ey], grad_tensors=[gy])
        return first[0], a.grad, raises(lambda: lib.autograd.grad(ey, a))
    e, t = both(case)
    assert_close(e[0], t[0])
    assert_close(e[1], t[1])
    assert e[2] == t[2]


def test_gradient_edge_errors_and_unused():
    def no_grad_edge(lib):
        graph(lib).get_gradient_edge(leaf(lib, A, False))

    def unused(lib, **kw):
        a, c = leaf(lib, A), leaf(lib, B)
        return lib.autograd.grad((a * 2).sum(), [graph(lib).get_gradient_edge(c * 1)], **kw)
    same_errors(no_grad_edge, unused, lambda lib: unused(lib, allow_unused=True, materialize_grads=True))
    assert both(lambda lib: unused(lib, allow_unused=True)) == ((None,), (None,))


def test_gradient_edge_of_a_leaf_keeps_its_hooks():
    def case(lib):
        a = leaf(lib, A)
        a.register_hook(lambda g: g * 10)
        z = (a * 3).sum()
        return lib.autograd.grad(z, [graph(lib).get_gradient_edge(a), a])
    e, t = both(case)
    for eg, tg in zip(e, t):
        assert_close(eg, tg)


def test_increment_version():
    def case(lib):
        g = graph(lib)
        x = leaf(lib, A, False)
        versions = [x._version]
        g.increment_version(x)
        versions.append(x._version)
        g.increment_version([x, x])
        versions.append(x._version)
        a = leaf(lib, A)
        b = a * 1
        y = (b * b).sum()
        g.increment_version(b)
        return versions, raises(y.backward)[0], raises(lambda: g.increment_version(3))
    assert both(case)[0] == both(case)[1]


def test_graph_is_no_longer_absent():
    import ember.autograd.graph as g
    assert g is ember.autograd.graph
    from ember._legacy import ABSENT
    assert "graph" not in ABSENT.get("ember.autograd", ())



def test_packed_originals_are_not_kept():
    # the point of packing to float16 or disk: the graph holds what pack returned, not the float32 array
    import gc
    import weakref
    x = leaf(ember, A)
    with ember.autograd.graph.saved_tensors_hooks(lambda t: t.to(ember.float16), lambda t: t.float()):
        h = x.exp()
        ref = weakref.ref(h._data)
        y = h.sin().sum()
    del h
    gc.collect()
    assert ref() is None
    y.backward()
    assert_close(x.grad, torch.tensor(A, dtype=torch.float32).exp().cos() * torch.tensor(A).float().exp(),
                 atol=1e-2, rtol=1e-2)
