"""Module, Parameter and the containers against torch 2.13.0: registration, traversal, state dicts,
casting, hooks, repr and copies."""
import copy
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from conftest import assert_close


def _pair(build):
    """The same architecture in ember and torch, with torch's weights copied into ember."""
    e, t = build(nn), build(torch.nn)
    e.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in t.state_dict().items()})
    return e, t


class _Net:
    """A model with a shared submodule, a buffer, a non-persistent buffer and a None parameter."""

    @staticmethod
    def build(lib):
        class Net(lib.Module):
            def __init__(self):
                super().__init__()
                self.fc = lib.Linear(3, 4)
                self.body = lib.Sequential(lib.Linear(4, 4), lib.ReLU(), lib.Linear(4, 2, bias=False))
                self.alias = self.fc  # shared: must appear once
                self.scale = lib.Parameter(torch.ones(2) if lib is torch.nn else ember.ones(2))
                self.register_buffer("steps", (torch if lib is torch.nn else ember).zeros(1))
                self.register_buffer("cache", (torch if lib is torch.nn else ember).zeros(2), persistent=False)
                self.register_parameter("unused", None)

            def forward(self, x):
                return self.body(self.fc(x)) * self.scale
        return Net()


def test_named_parameters_buffers_modules_match_torch():
    e, t = _pair(_Net.build)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in t.named_parameters(remove_duplicate=False)]
    assert [n for n, _ in e.named_parameters(prefix="m", recurse=False)] == \
        [n for n, _ in t.named_parameters(prefix="m", recurse=False)]
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in e.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in e.named_children()] == [n for n, _ in t.named_children()]
    assert len(list(e.parameters())) == len(list(t.parameters())) == 6
    assert list(e.state_dict()) == list(t.state_dict())
    assert e.alias is e.fc and e.unused is None


def test_forward_and_parameter_gradients_match_torch(rng):
    e, t = _pair(_Net.build)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    ey, ty = e(ember.tensor(x)), t(torch.tensor(x))
    assert_close(ey, ty, what="output")
    ey.sum().backward()
    ty.sum().backward()
    tp = dict(t.named_parameters())
    for name, p in e.named_parameters():
        assert_close(p.grad, tp[name].grad, what=name)


def test_setattr_registration_and_delattr():
    m = nn.Module()
    m.w = nn.Parameter(ember.zeros(2))
    m.sub = nn.Linear(2, 2)
    m.register_buffer("b", ember.zeros(1))
    m.b = ember.ones(3)  # reassigning a buffer keeps it a buffer
    m.plain = 5
    assert list(m._parameters) == ["w"] and list(m._modules) == ["sub"] and list(m._buffers) == ["b"]
    assert m.b.shape == (3,) and "plain" in m.__dict__
    m.w = None
    assert m._parameters["w"] is None
    with pytest.raises(TypeError, match="cannot assign .* as parameter 'w'"):
        m.w = nn.Linear(1, 1)
    m.w2 = nn.Linear(1, 1)
    m.w2 = nn.Parameter(ember.zeros(1))  # a name moves between registries
    assert "w2" in m._parameters and "w2" not in m._modules
    del m.sub, m.b
    assert "sub" not in m._modules and "b" not in m._buffers
    m.x = nn.Buffer(ember.zeros(2), persistent=False)
    assert "x" in m._buffers and "x" not in m.state_dict()
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nothing'"):
        m.nothing
    assert {"w", "x", "train", "forward"} <= set(dir(m))


def test_registration_errors_match_torch():
    for lib, tens in ((nn, ember), (torch.nn, torch)):
        m = lib.Linear(2, 2)
        with pytest.raises(TypeError, match="cannot assign .* as parameter 'weight'"):
            m.weight = tens.zeros(2, 2)
        with pytest.raises(KeyError, match="attribute 'forward' already exists"):
            m.register_buffer("forward", tens.zeros(1))
        with pytest.raises(KeyError, match=r'buffer name can.*contain "\."'):
            m.register_buffer("a.b", tens.zeros(1))
        with pytest.raises(TypeError, match="cannot assign 'int' object to buffer 'c'"):
            m.register_buffer("c", 3)
        with pytest.raises(TypeError, match="cannot assign 'int' object to parameter 'p'"):
            m.register_parameter("p", 3)
        with pytest.raises(TypeError, match="is not a Module subclass"):
            m.add_module("k", 3)
        with pytest.raises(KeyError, match=r'module name can.*contain "\.", got: a.b'):
            m.add_module("a.b", lib.ReLU())

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ember.zeros(1))
    with pytest.raises(AttributeError, match="cannot assign parameters before Module.__init__"):
        Early()
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)


def test_state_dict_is_detached_and_keep_vars():
    m = nn.Linear(2, 3)
    sd = m.state_dict()
    assert isinstance(sd, OrderedDict) and list(sd) == ["weight", "bias"]
    assert not sd["weight"].requires_grad and not isinstance(sd["weight"], nn.Parameter)
    assert np.shares_memory(sd["weight"].numpy(), m.weight.detach().numpy())
    assert m.state_dict(keep_vars=True)["weight"] is m.weight
    assert list(m.state_dict(prefix="lin.")) == ["lin.weight", "lin.bias"]


def test_load_state_dict_copies_in_place_and_reports_keys():
    e, t = _pair(_Net.build)
    w = e.fc.weight
    sd = {k: v * 0 + 1 for k, v in e.state_dict().items()}
    res = e.load_state_dict(sd)
    assert e.fc.weight is w and float(w.sum()) == 12.0
    assert res.missing_keys == [] and res.unexpected_keys == [] and repr(res) == "<All keys matched successfully>"
    del sd["fc.bias"]
    sd["extra"] = ember.zeros(1)
    sd["body.0.weight.x"] = ember.zeros(1)
    tsd = {k: torch.tensor(v.numpy()) for k, v in sd.items()}
    res = e.load_state_dict(sd, strict=False)
    tres = t.load_state_dict(tsd, strict=False)
    assert res.missing_keys == tres.missing_keys and res.unexpected_keys == tres.unexpected_keys
    with pytest.raises(RuntimeError) as ee:
        e.load_state_dict(sd)
    with pytest.raises(RuntimeError) as te:
        t.load_state_dict(tsd)
    assert str(ee.value) == str(te.value)


def test_load_state_dict_size_mismatch():
    m = nn.Linear(2, 3)
    with pytest.raises(RuntimeError, match=r"Error\(s\) in loading state_dict for Linear:\n\tsize mismatch for "
                                           r"weight: copying a param with shape .*\[3, 3\]\) from checkpoint, the "
                                           r"shape in current model is .*\[3, 2\]\)\."):
        m.load_state_dict({"weight": ember.zeros(3, 3), "bias": ember.zeros(3)})


def test_load_state_dict_assign_and_dtype_cast():
    m = nn.Linear(2, 1)
    new = ember.ones(1, 2, dtype=ember.float64)
    m.load_state_dict({"weight": new, "bias": ember.zeros(1)})
    assert m.weight.dtype == ember.float32 and m.weight.tolist() == [[1.0, 1.0]]
    m.load_state_dict({"weight": new, "bias": ember.zeros(1)}, assign=True)
    assert isinstance(m.weight, nn.Parameter) and m.weight.dtype == ember.float64 and m.weight.requires_grad


def test_hooks_run_in_order_and_replace_values():
    m = nn.Identity()
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] + 1,))
    h2 = m.register_forward_hook(lambda mod, args, out: out * 10)
    m.register_forward_pre_hook(lambda mod, args: calls.append("first"), prepend=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: calls.append(kwargs) or None, with_kwargs=True)
    assert float(m(ember.tensor(1.0))) == 20.0 and calls == ["first", {}]
    h1.remove()
    with h2:
        assert float(m(ember.tensor(1.0))) == 10.0
    assert float(m(ember.tensor(1.0))) == 1.0


def test_train_eval_apply_requires_grad_and_zero_grad():
    m = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    assert m.eval() is m and not m[1].training and m.train().training and m[1].training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        m.train(1)
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "Dropout", "Sequential"]
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    m.requires_grad_()
    m(ember.ones(1, 2)).sum().backward()
    g = m[0].weight.grad
    m.zero_grad(set_to_none=False)
    assert m[0].weight.grad is g and float(g.abs().sum()) == 0.0
    m.zero_grad()
    assert m[0].weight.grad is None


def test_to_double_half_keep_parameter_identity():
    m = nn.Linear(2, 2)
    m.register_buffer("count", ember.zeros(1, dtype=ember.int64))
    m.register_buffer("running", ember.zeros(2))
    w = m.weight
    m(ember.ones(1, 2)).sum().backward()
    assert m.double() is m and m.weight is w and w.dtype == ember.float64 and w.grad.dtype == ember.float64
    assert m.running.dtype == ember.float64 and m.count.dtype == ember.int64
    assert m.to(ember.float16).weight.dtype == ember.float16 and m.float().bias.dtype == ember.float32
    assert m.to("cpu") is m and w.requires_grad
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point"):
        m.to(ember.int32)


def test_get_submodule_parameter_buffer():
    e, t = _pair(_Net.build)
    assert e.get_submodule("body.2") is e.body[2] and e.get_submodule("") is e
    assert e.get_parameter("body.0.bias") is e.body[0].bias and e.get_buffer("steps") is e.steps
    for mod in (e, t):
        with pytest.raises(AttributeError, match="Sequential has no attribute `7`"):
            mod.get_submodule("body.7")
        with pytest.raises(AttributeError, match="`weight` is not an nn.Module"):
            mod.get_submodule("fc.weight")
        with pytest.raises(AttributeError, match="`steps` is not an nn.Parameter"):
            mod.get_parameter("steps")


def test_deepcopy_copies_parameters_and_keeps_sharing():
    e, _ = _pair(_Net.build)
    c = copy.deepcopy(e)
    assert c.fc is c.alias and c.fc is not e.fc and isinstance(c.fc.weight, nn.Parameter)
    assert c.fc.weight.requires_grad
    assert_close(c.fc.weight, e.fc.weight.detach())
    c.fc.weight.data.numpy()[...] = 0
    assert float(e.fc.weight.detach().abs().sum()) > 0


def test_parameter_repr_and_defaults():
    p = nn.Parameter(ember.tensor([1.0, 2.0]))
    assert repr(p) == repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    assert p.requires_grad and not nn.Parameter(ember.zeros(1), requires_grad=False).requires_grad
    assert isinstance(p, ember.Tensor) and nn.Parameter().shape == (0,)


def _repr_pair(build):
    return repr(build(nn)), repr(build(torch.nn))


@pytest.mark.parametrize("build", [
    _Net.build,
    lambda lib: lib.Sequential(OrderedDict(conv=lib.Linear(1, 2), act=lib.LeakyReLU(0.2, True))),
    lambda lib: lib.ModuleList([lib.Linear(2, 2) for _ in range(3)] + [lib.ReLU(), lib.ReLU(), lib.Tanh()]),
    lambda lib: lib.ModuleDict({"a": lib.Sequential(lib.Linear(1, 1)), "b": lib.ModuleList()}),
    lambda lib: lib.Sequential(),
])
def test_repr_matches_torch(build):
    e, t = _repr_pair(build)
    assert e == t


def test_parameter_containers_repr():
    ep = nn.ParameterList([nn.Parameter(ember.zeros(2, 3)), ember.zeros(2)])
    tp = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2, 3)), torch.zeros(2)])
    assert repr(ep) == repr(tp)
    ed = nn.ParameterDict({"a": nn.Parameter(ember.zeros(2, 3)), "b": ember.zeros(1)})
    td = torch.nn.ParameterDict({"a": torch.nn.Parameter(torch.zeros(2, 3)), "b": torch.zeros(1)})
    assert repr(ed) == repr(td)


def test_sequential_list_protocol():
    a, b, c, d = nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.Identity()
    s = nn.Sequential(a, b)
    s.append(c)
    s.insert(0, d)
    assert list(s) == [d, a, b, c] and len(s) == 4 and s[-1] is c
    assert list(s[1:3]) == [a, b] and isinstance(s[1:3], nn.Sequential)
    del s[0]
    assert list(s._modules) == ["0", "1", "2"] and s[0] is a
    s.extend([d])
    s[0] = nn.ReLU6()
    assert type(s[0]).__name__ == "ReLU6" and s.pop(1) is b and len(s) == 3
    with pytest.raises(IndexError, match="index 5 is out of range"):
        s[5]
    x = ember.tensor([-1.0, 0.5])
    assert_close(nn.Sequential(nn.ReLU(), nn.Tanh())(x), torch.tanh(torch.relu(torch.tensor([-1.0, 0.5]))))


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml += [nn.Linear(1, 2)]
    ml.insert(0, nn.ReLU())
    assert len(ml) == 3 and isinstance(ml[1:], nn.ModuleList) and len(list(ml.parameters())) == 4
    md = nn.ModuleDict([("x", nn.ReLU())])
    md["y"] = nn.Tanh()
    md.update({"z": nn.Linear(1, 1)})
    assert list(md) == ["x", "y", "z"] and "y" in md and len(list(md.parameters())) == 2
    assert isinstance(md.pop("x"), nn.ReLU) and list(md.keys()) == ["y", "z"]


def test_parameter_list_and_dict_register():
    pl = nn.ParameterList([ember.zeros(2)])
    pl.append(nn.Parameter(ember.ones(1)))
    assert len(pl) == 2 and all(isinstance(p, nn.Parameter) for p in pl)
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]
    pd = nn.ParameterDict({"a": ember.zeros(1)})
    pd["b"] = nn.Parameter(ember.ones(2))
    assert list(pd.keys()) == ["a", "b"] and [n for n, _ in pd.named_parameters()] == ["a", "b"]
    del pd["a"]
    assert "a" not in pd and len(list(pd.parameters())) == 1
