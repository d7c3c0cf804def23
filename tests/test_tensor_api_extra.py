"""The rarer Tensor methods (ember/_tensor_extra.py), each call run on torch 2.13.0 and on ember: values, sharing,
exception classes and messages."""
import warnings

import numpy as np
import pytest
import torch

import ember


def _outcome(fn, lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = fn(lib)
        except Exception as e:  # noqa: BLE001
            return type(e).__name__, str(e).split("\n")[0]
    if isinstance(out, (torch.Tensor, ember.Tensor)):
        out = ("tensor", str(out.dtype).split(".")[-1], out.detach().numpy().tolist())
    elif isinstance(out, tuple) and out and isinstance(out[0], (torch.Tensor, ember.Tensor)):
        out = [t.detach().numpy().tolist() for t in out]
    return "ok", out


def _same(fn, message=True):
    t, e = _outcome(fn, torch), _outcome(fn, ember)
    assert t[0] == e[0], (t, e)
    if t[0] == "ok" or message:
        assert t == e, (t, e)
    return t


def _x(L):
    return L.arange(6.0).reshape(2, 3)


@pytest.mark.parametrize("call", [
    lambda L: _x(L).adjoint(), lambda L: L.tensor(2.0).adjoint(), lambda L: L.ones(3).adjoint(),
    lambda L: L.tensor([[1 + 2j, 3j]]).adjoint().resolve_conj(),
    lambda L: (_x(L) - 2).prelu(L.tensor([0.25])), lambda L: (_x(L) - 2).prelu(L.tensor([0.1, 0.2, 0.3])),
    lambda L: (_x(L) - 2).hardshrink(), lambda L: (_x(L) - 2).hardshrink(1.5),
    lambda L: _x(L).resize_as(L.zeros(3, 2)), lambda L: _x(L).resize_as(L.zeros(7)),
    lambda L: _x(L).slice_inverse(L.zeros(2, 2), 1, 0, 2), lambda L: _x(L)[:, 1:].slice_inverse(_x(L), 1, 1),
    lambda L: _x(L).unsafe_split_with_sizes([1, 2], 1), lambda L: _x(L).unsafe_split_with_sizes([1, 1]),
    lambda L: (_x(L).sparse_dim(), _x(L).dense_dim(), _x(L).is_distributed(), _x(L).name),
    lambda L: _x(L).module_load(L.ones(2, 3)), lambda L: _x(L).module_load(L.ones(2, 3), assign=True),
    lambda L: _x(L).clone().map2_(L.ones(3), L.full((2, 1), 2.0), lambda a, b, c: a * c + b),
    lambda L: _x(L).map2_(L.ones(2), L.ones(2, 1), lambda a, b, c: a),
    lambda L: L.ones(2, requires_grad=True).map2_(L.ones(2), L.ones(2), lambda a, b, c: a),
    lambda L: _x(L).to_sparse_coo().to_dense(),
    lambda L: _x(L).sparse_mask(L.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 0.0]]).to_sparse()).to_dense(),
])
def test_methods_as_torch(call):
    _same(call)


@pytest.mark.parametrize("name,args", [
    ("solve", (1,)), ("eig", ()), ("lstsq", (1,)), ("symeig", ()), ("reinforce", (1.0,)),
    ("smm", (np.eye(3),)), ("sspaddmm", (np.eye(3), np.eye(3))), ("crow_indices", ()), ("col_indices", ()), ("ccol_indices", ()),
    ("row_indices", ()),
])
def test_methods_that_only_raise_in_torch(name, args):
    def call(L):
        tensors = [L.tensor(a, dtype=L.float32) if isinstance(a, np.ndarray) else a for a in args]
        return getattr(_x(L), name)(*tensors)
    kind, first_line = _same(call, message=False)
    assert kind == "RuntimeError"
    e = _outcome(call, ember)[1]
    # the first sentence is torch's; what follows it points at the replacement in ember's words
    assert e.split(". ")[0] == first_line.split(". ")[0]


def test_to_padded_tensor_and_dense_sparse_mask_raise_not_implemented():
    assert _same(lambda L: _x(L).to_padded_tensor(0.0), message=False)[0] == "NotImplementedError"
    assert _same(lambda L: _x(L).sparse_mask(_x(L)), message=False)[0] == "NotImplementedError"


def test_volatile_warns_and_is_false():
    for L in (torch, ember):
        t = _x(L)
        with pytest.warns(UserWarning, match="volatile was removed"):
            assert t.volatile is False
        with pytest.warns(UserWarning, match="volatile was removed and now has no effect"):
            t.volatile = True


@pytest.mark.parametrize("call", [
    lambda L: _x(L).grad_dtype, lambda L: L.ones(2, dtype=L.int64).grad_dtype,
    lambda L: (L.ones(2, requires_grad=True) * 2).grad_dtype,
])
def test_grad_dtype(call):
    t = _same(lambda L: str(call(L)).split(".")[-1])
    assert t[0] != "ok" or t[1] in ("float32", "int64")


# ---------------------------------------------------------------------------------------------- storages
def test_untyped_storage_sizes_and_sharing():
    def run(L):
        t = _x(L)
        s = t.untyped_storage()
        return (s.nbytes(), s.size(), len(s), s.element_size(), str(s.device),
                s.data_ptr() == t.data_ptr(), t[1].untyped_storage().data_ptr() == s.data_ptr(),
                t.t().untyped_storage().data_ptr() == s.data_ptr(), t.clone().untyped_storage().data_ptr() == s.data_ptr(),
                s[0], s[12:16] if L is ember else s.tolist()[12:16], t[1:].storage_offset())
    _same(run)


def test_typed_storage_as_torch():
    def run(L):
        t = _x(L)
        s = t[1].storage()
        return (s.size(), len(s), s.nbytes(), s.element_size(), str(s.dtype).split(".")[-1], s.tolist(), s[-1], s[2],
                s.data_ptr() == t.data_ptr(), s.type(), s.untyped().nbytes(), s.is_shared(), str(s.device))
    _same(run)
    _same(lambda L: _x(L).storage()[6])


def test_set_():
    def share(L):
        src = L.arange(4.0)
        y = L.zeros(3)
        y.set_(src)
        src[0] = 9.0
        return y.tolist(), y.is_set_to(src), src.is_set_to(y), y.shape == src.shape, y.untyped_storage().data_ptr() == src.data_ptr()

    def from_storage(L):
        src = L.arange(6.0)
        a = L.zeros(1).set_(src.untyped_storage(), 1, (2, 2), (1, 1))
        b = L.zeros(1).set_(src.untyped_storage(), 2, (3,))
        c = L.zeros(1).set_(src.untyped_storage())
        src[2] = -1.0
        return a.tolist(), b.tolist(), c.tolist(), a.storage_offset(), a.stride()

    assert _same(share)[1][0] == [9.0, 1.0, 2.0, 3.0]
    _same(from_storage)
    _same(lambda L: L.zeros(2).set_().shape)
    _same(lambda L: L.zeros(2).set_(L.zeros(2, dtype=L.int64)))
    _same(lambda L: L.ones(3, requires_grad=True).set_(L.zeros(2)))


@pytest.mark.parametrize("call", [
    lambda L: _x(L).is_set_to(_x(L)), lambda L: (lambda t: t.is_set_to(t.view(2, 3)))(_x(L)),
    lambda L: (lambda t: t.is_set_to(t.view(6)))(_x(L)), lambda L: (lambda t: t.is_set_to(t[0]))(_x(L)),
    lambda L: (lambda t: t[0].is_set_to(t[0]))(_x(L)), lambda L: (lambda t: t.is_set_to(t.clone()))(_x(L)),
    lambda L: (lambda t: t.const_data_ptr() == t.data_ptr())(_x(L)),
])
def test_is_set_to_and_const_data_ptr(call):
    _same(call)


# ---------------------------------------------------------------------------------------------- dim_order
@pytest.mark.parametrize("call", [
    lambda L: L.empty(2, 3, 5, 7).dim_order(), lambda L: L.empty(2, 3, 5, 7).transpose(1, 2).dim_order(),
    lambda L: L.empty(2, 3, 5, 7).permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2).dim_order(),
    lambda L: L.empty(2, 3, 4).permute(2, 0, 1).dim_order(),
    lambda L: L.empty(2, 3, 4).permute(2, 0, 1).dim_order(ambiguity_check=True),
    lambda L: L.empty(1, 2, 3, 4).dim_order(), lambda L: L.empty(1, 2, 3, 4).dim_order(ambiguity_check=True),
    lambda L: L.empty(1, 2, 3, 4).dim_order(ambiguity_check=[L.contiguous_format, L.channels_last]),
    lambda L: L.empty(2, 3).dim_order(ambiguity_check="x"), lambda L: L.empty(5).dim_order(),
    lambda L: L.tensor(1.0).dim_order(), lambda L: L.empty(4, 1, 3)[:, :, ::2].dim_order(),
    lambda L: L.empty(3, 4).expand(2, 3, 4).dim_order(), lambda L: L.empty(6, 6)[::2, ::3].t().dim_order(),
])
def test_dim_order(call):
    _same(call)


# ---------------------------------------------------------------------------------------------- as_subclass
def test_as_subclass_keeps_data_and_autograd():
    def run(L):
        class Mine(L.Tensor):
            pass
        x = L.ones(2, requires_grad=True)
        y = (x * 3).as_subclass(Mine)
        (y * y).sum().backward()
        return type(y).__name__, y.tolist(), x.grad.tolist(), y.data_ptr() == y.as_subclass(L.Tensor).data_ptr()
    _same(run)
    _same(lambda L: _x(L).as_subclass(int), message=True)


@pytest.mark.parametrize("name", ["xpu", "mtia", "ipu"])
def test_devices_torch_cpu_build_lacks(name):
    for make in (lambda L: L.zeros(2), lambda L: L.nn.Linear(2, 2)):
        with pytest.raises(Exception) as t:
            getattr(make(torch), name)()
        with pytest.raises(type(t.value)) as e:  # torch's class (ember's is also a NotImplementedError)
            getattr(make(ember), name)()
        assert isinstance(e.value, NotImplementedError)
        assert str(e.value).split(" (ember")[0] == str(t.value).split(".")[0]
    assert isinstance(getattr(torch.nn.ReLU(), name)(), torch.nn.ReLU)  # nothing to move: no error
    assert isinstance(getattr(ember.nn.ReLU(), name)(), ember.nn.ReLU)


@pytest.mark.parametrize("call", [
    lambda L: _sp(L).smm(L.arange(6.0).reshape(3, 2)).to_dense(),
    lambda L: L.tensor([[1.0, 0.0], [0.0, 0.0]]).to_sparse().sspaddmm(_sp(L), L.arange(6.0).reshape(3, 2), beta=2,
                                                                     alpha=3).to_dense(),
    lambda L: L.tensor([[1.0, 0.0], [0.0, 0.0]]).to_sparse().sspaddmm(_sp(L).to_dense(), L.arange(6.0).reshape(3, 2)),
    lambda L: (_sp(L).to_sparse_coo().to_dense().tolist(), str(_sp(L).to_sparse_csr().to_sparse_coo().layout).split(".")[-1]),
])
def test_sparse_coo_methods(call):
    """smm/sspaddmm give torch's values (ember stores only the nonzero results, torch every product's slot)."""
    _same(call)


def _sp(L):
    return L.tensor([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]).to_sparse()
