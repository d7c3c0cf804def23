"""nn.Module's remaining torch API: state-dict hooks, extra state, set_submodule, to_empty, bfloat16, compile.

Each test runs the same code on torch 2.13.0 and on ember and compares what comes out (values, keys, what the
hooks saw, exception classes and messages).
"""
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ember

LIBS = pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])


def _both(fn):
    """``fn(lib)`` on torch and on ember: (torch result, ember result)."""
    return fn(torch), fn(ember)


def _outcome(fn, lib):
    try:
        return "ok", fn(lib)
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)


def _same_outcome(fn):
    t, e = _outcome(fn, torch), _outcome(fn, ember)
    assert t == e
    return t


def _net(L):
    """Linear -> BatchNorm1d in a Sequential, with torch's weights copied in (the same numbers in both)."""
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    if L is torch:
        return ref
    net = ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.BatchNorm1d(2))
    net.load_state_dict({k: ember.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    return net


def _keys(sd) -> list:
    return list(sd.keys())


# ---------------------------------------------------------------------------------------------- casting
def test_bfloat16_casts_floating_parameters_and_buffers_only():
    def run(L):
        net = _net(L)
        assert net.bfloat16() is net
        out = net.eval()(L.ones(4, 3, dtype=L.bfloat16))
        return ([str(t.dtype) for t in net.state_dict().values()],
                out.float().detach().numpy().tolist())
    t, e = _both(run)
    assert t[0] == e[0] and "torch.int64" in t[0]
    np.testing.assert_allclose(e[1], t[1], rtol=1e-2, atol=1e-2)


def test_to_empty_keeps_parameters_shapes_and_dtypes_and_honours_recurse():
    def run(L):
        net = _net(L)
        weight = net[0].weight
        assert net.to_empty(device="cpu") is net
        assert net[0].weight is weight  # the Parameter object survives, with fresh memory
        kept = net[1].running_var.clone()
        net.to_empty(device="cpu", recurse=False)  # the Sequential itself holds nothing
        return ([(k, tuple(v.shape), str(v.dtype), type(v).__name__) for k, v in net.state_dict(keep_vars=True).items()],
                L.equal(net[1].running_var, kept), net[0].weight.requires_grad)
    t, e = _both(run)
    assert t == e


# ---------------------------------------------------------------------------------------------- compile
@LIBS
def test_compile_compiles_the_call_in_place_and_returns_none(lib):
    net = _net(lib).eval()
    x = lib.ones(2, 3)
    before = net(x).detach().numpy()
    seen = []
    net.register_forward_hook(lambda m, args, out: seen.append(tuple(out.shape)))
    assert net._compiled_call_impl is None
    assert net.compile(backend="eager") is None
    assert net._compiled_call_impl is not None
    np.testing.assert_allclose(net(x).detach().numpy(), before, rtol=1e-6)
    assert seen == [(2, 2)]  # hooks still run: what is compiled is the whole call


# ---------------------------------------------------------------------------------------------- extra state
def _extra(L, with_set=True, with_get=True):
    class Counter(L.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = L.nn.Linear(2, 1)
            self.steps = 3

    if with_get:
        Counter.get_extra_state = lambda self: {"steps": self.steps}
    if with_set:
        Counter.set_extra_state = lambda self, state: setattr(self, "steps", state["steps"])
    outer = L.nn.Sequential(Counter())
    return outer


def test_extra_state_is_saved_under_prefix_and_loaded_back():
    def run(L):
        m = _extra(L)
        sd = m.state_dict()
        keys = _keys(sd)
        sd["0._extra_state"] = {"steps": 7}
        res = m.load_state_dict(sd)
        return keys, sd["0._extra_state"], m[0].steps, repr(res)
    t, e = _both(run)
    assert t == e
    assert t[0] == ["0._extra_state", "0.lin.weight", "0.lin.bias"]  # a module's own state before its children


def test_extra_state_missing_and_unexpected_keys_as_torch():
    def missing(L):
        m = _extra(L)
        sd = m.state_dict()
        del sd["0._extra_state"]
        res = m.load_state_dict(sd, strict=False)
        return list(res.missing_keys), list(res.unexpected_keys)

    def missing_strict(L):
        m = _extra(L)
        sd = m.state_dict()
        del sd["0._extra_state"]
        m.load_state_dict(sd)

    def unexpected(L):  # the module only defines get_extra_state: the entry is saved but not loadable
        m = _extra(L, with_set=False)
        m.load_state_dict(m.state_dict())

    def base_calls(L):
        L.nn.Linear(1, 1).get_extra_state()

    assert _same_outcome(missing) == ("ok", (["0._extra_state"], []))  # reported, though strict=False
    assert _same_outcome(missing_strict)[0] == "RuntimeError"
    assert _same_outcome(unexpected)[0] == "RuntimeError"
    assert _outcome(base_calls, torch)[0] == _outcome(base_calls, ember)[0] == "RuntimeError"


# ---------------------------------------------------------------------------------------------- state dict hooks
def test_state_dict_pre_and_post_hooks_see_torch_arguments():
    def run(L):
        net = _net(L)
        seen = []
        net[1].register_state_dict_pre_hook(lambda m, prefix, keep_vars: seen.append(("pre", prefix, keep_vars)))

        def post(m, sd, prefix, local_metadata):
            seen.append(("post", prefix, dict(local_metadata), _keys(sd)))
            sd[prefix + "note"] = L.tensor(1.0)
        h = net[1].register_state_dict_post_hook(post)
        sd = net.state_dict(keep_vars=True)
        out = (seen, _keys(sd), dict(sd._metadata))
        h.remove()
        return out + (_keys(net.state_dict()),)
    t, e = _both(run)
    assert t == e
    assert "1.note" in t[1] and "1.note" not in t[3]


def test_public_post_hook_must_return_none_and_private_hook_may_replace_at_root():
    def public_returns(L):
        net = _net(L)
        net.register_state_dict_post_hook(lambda m, sd, prefix, meta: {"x": 1})
        net.state_dict()

    def private(L):
        net = _net(L)
        net._register_state_dict_hook(lambda m, sd, prefix, meta: OrderedDict(only=L.tensor(2.0)))
        net[0]._register_state_dict_hook(lambda m, sd, prefix, meta: {"ignored": 1})  # not the root: dropped
        return _keys(net.state_dict())

    def same_fn_both_ways(L):
        def hook(m, sd, prefix, meta):
            return None
        net = _net(L)
        net.register_state_dict_post_hook(hook)
        net._register_state_dict_hook(hook)

    assert _same_outcome(public_returns) == ("RuntimeError", "state_dict post-hook must return None")
    assert _same_outcome(private) == ("ok", ["only"])
    assert _same_outcome(same_fn_both_ways)[0] == "RuntimeError"


def test_load_pre_hook_receives_local_share_and_may_rename_keys():
    def run(L):
        net = _net(L)
        src = {k.replace("0.weight", "0.old_weight"): v.clone() + 1 for k, v in net.state_dict().items()}
        seen = []

        def rename(module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
            seen.append((type(module).__name__, prefix, sorted(state_dict), dict(local_metadata), strict,
                         list(missing), list(unexpected), list(errors)))
            if prefix + "old_weight" in state_dict:
                state_dict[prefix + "weight"] = state_dict.pop(prefix + "old_weight")
        net[0].register_load_state_dict_pre_hook(rename)
        res = net.load_state_dict(src)
        return seen, repr(res), net[0].weight.detach().numpy().tolist(), sorted(src)
    t, e = _both(run)
    assert t[0] == e[0] and t[1] == e[1] and t[3] == e[3]
    np.testing.assert_allclose(e[2], t[2], rtol=1e-6)
    assert "0.old_weight" in t[3]  # the caller's dict is left as it was


def test_private_load_pre_hook_without_module_and_metadata_version():
    def run(L):
        net = _net(L)
        seen = []
        net[1]._register_load_state_dict_pre_hook(lambda sd, prefix, meta, *rest: seen.append((prefix, dict(meta))))
        net.load_state_dict(net.state_dict())
        net.load_state_dict(dict(net.state_dict()))  # a plain dict carries no metadata
        net.load_state_dict(net.state_dict(), assign=True)
        return seen
    t, e = _both(run)
    assert t == e


def test_batchnorm_state_dict_without_metadata_may_lack_num_batches_tracked():
    def run(L):
        net = _net(L)
        sd = net.state_dict()
        del sd["1.num_batches_tracked"]
        plain = repr(net.load_state_dict(dict(sd)))  # no metadata: an old checkpoint, filled in
        try:
            net.load_state_dict(sd)  # version 2 metadata: the buffer is required
        except RuntimeError as e:
            return plain, str(e)
    t, e = _both(run)
    assert t == e and "num_batches_tracked" in t[1]


def test_load_post_hook_may_clear_or_add_incompatible_keys():
    def cleared(L):
        net = _net(L)
        seen = []

        def forgive(module, incompatible):
            seen.append((type(incompatible).__name__, list(incompatible.missing_keys),
                         list(incompatible.unexpected_keys)))
            incompatible.missing_keys.clear()
            incompatible.unexpected_keys.clear()
        net.register_load_state_dict_post_hook(forgive)
        sd = net.state_dict()
        del sd["0.bias"]
        sd["extra"] = L.tensor(1.0)
        return seen, repr(net.load_state_dict(sd))

    def added(L):
        net = _net(L)
        net[0].register_load_state_dict_post_hook(lambda m, inc: inc.unexpected_keys.append("made.up"))
        net.load_state_dict(net.state_dict())

    def returns(L):
        net = _net(L)
        net.register_load_state_dict_post_hook(lambda m, inc: inc)
        net.load_state_dict(net.state_dict())

    t = _same_outcome(cleared)
    assert t[1][1] == "<All keys matched successfully>"
    assert _same_outcome(added)[0] == "RuntimeError"
    assert _outcome(returns, torch)[0] == _outcome(returns, ember)[0] == "AssertionError"


def test_hook_handles_remove_and_deepcopy_rebinds_module():
    import copy

    def run(L):
        net = _net(L)
        seen = []
        h = net.register_load_state_dict_pre_hook(lambda m, *a: seen.append(id(m)))
        clone = copy.deepcopy(net)
        clone.load_state_dict(clone.state_dict())
        hit_clone = seen == [id(clone)]
        h.remove()
        net.load_state_dict(net.state_dict())
        return hit_clone, len(seen)
    t, e = _both(run)
    assert t == e == (True, 1)


# ---------------------------------------------------------------------------------------------- set_submodule
@pytest.mark.parametrize("call", [
    lambda L, m: m.set_submodule("0", L.nn.Tanh()),
    lambda L, m: m.set_submodule("new", L.nn.ReLU()),
    lambda L, m: m.set_submodule("new", L.nn.ReLU(), strict=True),
    lambda L, m: m.set_submodule("", L.nn.ReLU()),
    lambda L, m: m.set_submodule("0", 3),
    lambda L, m: m.set_submodule("0.weight", L.nn.ReLU()),
    lambda L, m: m.set_submodule("nope.x", L.nn.ReLU()),
    lambda L, m: m.set_submodule("1.inner", L.nn.ReLU(), strict=True),
    lambda L, m: m.set_submodule("1.inner", L.nn.ReLU()),
])
def test_set_submodule(call):
    def run(L):
        m = _net(L)
        res = call(L, m)
        return res, [(name, type(mod).__name__) for name, mod in m.named_modules()]
    _same_outcome(run)


# ---------------------------------------------------------------------------------------------- class contract
def test_call_super_init_dump_patches_and_init_arguments():
    def run(L):
        class Base:
            def __init__(self, *args, **kwargs):
                self.got = (args, kwargs)

        class Mixed(L.nn.Module, Base):
            call_super_init = True
        m = Mixed(1, k=2)
        return m.got, L.nn.Module.dump_patches, L.nn.Module.call_super_init, L.nn.Module.T_destination.__name__
    t, e = _both(run)
    assert t == e
    assert _same_outcome(lambda L: L.nn.Module(1, 2))[0] == "TypeError"
    assert _same_outcome(lambda L: L.nn.Module(a=1))[0] == "TypeError"


def test_state_dict_positional_arguments_warn_as_torch():
    def run(L):
        with pytest.warns(FutureWarning):
            return _keys(_net(L).state_dict(OrderedDict(), "p."))
    t, e = _both(run)
    assert t == e and t[0] == "p.0.weight"
