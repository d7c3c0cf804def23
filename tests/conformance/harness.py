"""What the conformance suites share: torch values made into ember ones and back, the call of a torch
callable on ember, and the comparison of results with torch's own tolerances."""
from __future__ import annotations

import inspect
import types

import numpy as np
import torch

import ember


class Unconvertible(Exception):
    """A torch argument ember has no counterpart for (a complex32 tensor, a sparse layout, ...)."""


class TooManyDims(Unconvertible):
    """A tensor of more than 64 dimensions: NumPy, so ember, cannot hold one (ember's factories refuse it)."""


_MEMORY_FORMATS = {torch.contiguous_format: "contiguous_format", torch.preserve_format: "preserve_format",
                   torch.channels_last: "channels_last", torch.channels_last_3d: "channels_last_3d"}


def to_ember(x, memo: dict | None = None):
    """The same value for ember: tensors copied (keeping requires_grad), dtypes by name, containers recursively.

    One torch tensor passed twice (KLDivLoss's scalar sample gives the same tensor as input and target)
    becomes one ember tensor, so gradients through both uses add up as in torch. Tensors that share
    memory in torch (an ``out=`` that is a view of the input) or that start inside their storage (a
    view at an offset, which ``as_strided`` reads around) become views of one ember copy of that storage,
    so what an op sees of memory is what it sees in torch."""
    memo = {} if memo is None else memo
    if "shared" not in memo:
        memo["shared"] = _shared_storages(x)
    if isinstance(x, torch.Tensor):
        if id(x) not in memo:
            memo[id(x)] = (x, _tensor(x, memo))  # x kept alive so its id is not reused
        return memo[id(x)][1]
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(to_ember(v, memo) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(to_ember(v, memo) for v in x)
    if isinstance(x, dict):
        return {k: to_ember(v, memo) for k, v in x.items()}
    return _value(x)


def _storage_key(t: torch.Tensor):
    if t.layout != torch.strided or t.device.type != "cpu" or not t.numel():
        return None
    return t.untyped_storage().data_ptr(), t.dtype


def _shared_storages(x) -> set:
    """The storages that more than one distinct tensor of ``x`` lives in, or that one tensor views in part."""
    seen: dict = {}
    for t in tensors(x):
        k = isinstance(t, torch.Tensor) and _storage_key(t)
        if k:
            seen.setdefault(k, {})[id(t)] = t
    return {k for k, ts in seen.items() if len(ts) > 1 or any(_partial(t) for t in ts.values())}


def _partial(t: torch.Tensor) -> bool:
    """A view of part of its storage, or of one element many times (``expand``)."""
    return t.storage_offset() != 0 or t.untyped_storage().nbytes() != t.numel() * t.element_size()


def _tensor(x: torch.Tensor, memo: dict | None = None):
    """A copy of one torch tensor, keeping requires_grad."""
    if x.layout in (torch.sparse_coo, torch.sparse_csr):
        return _sparse(x)
    if x.layout != torch.strided:
        raise Unconvertible(f"{x.layout} tensor")
    if x.device.type == "meta":
        raise Unconvertible("meta tensor (ember has only the cpu device)")
    if x.dim() > 64:
        raise TooManyDims(f"a {x.dim()}-dim tensor")
    if x.dtype.itemsize < 1:
        raise Unconvertible(f"{x.dtype} tensor")
    if not hasattr(ember, str(x.dtype).split(".")[1]):
        raise Unconvertible(f"{x.dtype} tensor")
    key = memo is not None and _storage_key(x)
    if key and key in memo["shared"]:
        if key not in memo:
            whole = torch.as_strided(x.detach(), (x.untyped_storage().nbytes() // x.element_size(),), (1,), 0)
            memo[key] = (whole, _tensor(whole))
        with ember.no_grad():
            t = ember.as_strided(memo[key][1], tuple(x.shape), x.stride(), x.storage_offset())
    else:
        x_ = x.detach().resolve_conj().resolve_neg()
        # bfloat16 has no NumPy type in torch; ember's is ml_dtypes', with the same bits
        arr = x_.view(torch.int16).numpy().view(ember.bfloat16.np) if x.dtype is torch.bfloat16 else \
            torch.view_as_real(x_).numpy() if x.dtype is torch.complex32 else x_.numpy()
        # complex32, which NumPy lacks, travels as its float16 parts (a last dim of 2) both ways
        t = ember.view_as_complex(ember.tensor(arr.copy())) if x.dtype is torch.complex32 else ember.tensor(arr.copy())
    return t.requires_grad_(x.requires_grad) if x.requires_grad else t


def _sparse(x: torch.Tensor):
    """A sparse COO or CSR torch tensor as ember's: the same coordinates, its values copied (keeping
    requires_grad, so gradients reach them)."""
    if x.layout == torch.sparse_coo:
        return ember.sparse_coo_tensor(_tensor(x._indices()), _tensor(x._values()), x.shape,
                                       is_coalesced=x.is_coalesced())
    return ember.sparse_csr_tensor(_tensor(x.crow_indices()), _tensor(x.col_indices()), _tensor(x.values()),
                                   x.shape)


def _value(x):
    """A non-container, non-tensor argument."""
    if isinstance(x, torch.dtype):
        name = str(x).split(".")[1]
        if not hasattr(ember, name):
            raise Unconvertible(f"dtype {x}")
        return getattr(ember, name)
    if isinstance(x, torch.Size):
        return ember.Size(x)
    if isinstance(x, torch.device):
        return str(x)
    if isinstance(x, torch.memory_format):
        if not hasattr(ember, _MEMORY_FORMATS[x]):
            raise Unconvertible(f"memory_format {x}")
        return getattr(ember, _MEMORY_FORMATS[x])
    if isinstance(x, torch.layout):
        if not hasattr(ember, str(x).split(".")[1]):
            raise Unconvertible(f"layout {x}")
        return getattr(ember, str(x).split(".")[1])
    if isinstance(x, torch.Generator):
        raise Unconvertible("torch.Generator")
    if isinstance(x, torch.nn.Module):
        return _module(x)
    if callable(x) and getattr(x, "__name__", None):
        for tns, ens in ((torch.nn.functional, ember.nn.functional), (torch, ember)):
            if getattr(tns, x.__name__, None) is x:  # torch's function by name: ember's
                if not hasattr(ens, x.__name__):
                    raise Unconvertible(f"{tns.__name__}.{x.__name__}")
                return getattr(ens, x.__name__)
        if isinstance(x, types.FunctionType):
            return on_ember(x)
    return x


def _module(m: torch.nn.Module):
    """ember's module with the same hyper-parameters as a torch module passed as an argument
    (``TransformerEncoder(layer)``); its weights come later, from the state_dict."""
    if isinstance(m, (torch.nn.TransformerEncoderLayer, torch.nn.TransformerDecoderLayer)):
        attn, lin = m.self_attn, m.linear1
        return getattr(ember.nn, type(m).__name__)(
            attn.embed_dim, attn.num_heads, lin.out_features, m.dropout.p, to_ember(m.activation), m.norm1.eps,
            attn.batch_first, m.norm_first, bias=lin.bias is not None, dtype=to_ember(lin.weight.dtype))
    mine = getattr(ember.nn, type(m).__name__, None)
    if mine is not None and not list(m.parameters()) and not list(m.buffers()):  # PairwiseDistance(), ReLU()...
        names = list(inspect.signature(type(m).__init__).parameters)[1:]
        kwargs = {n: to_ember(getattr(m, _STORED_AS.get(n, n))) for n in names if hasattr(m, _STORED_AS.get(n, n))}
        return mine(**kwargs).train(m.training)
    raise Unconvertible(f"a torch module ({type(m).__name__}) as an argument")


_STORED_AS = {"p": "norm"}  # constructor arguments a torch module keeps under another attribute name


def to_torch(x):
    """An ember result as torch values (tensors copied; tuples, lists and named tuples as lists)."""
    if isinstance(x, ember.Tensor) and x.dtype is ember.complex32:
        return torch.view_as_complex(to_torch(ember.view_as_real(x.detach())))
    if isinstance(x, ember.Tensor):
        arr = np.array(x.detach().numpy(), copy=True)
        if x.dtype is ember.bfloat16:
            return torch.from_numpy(arr.reshape(-1).view(np.int16)).view(torch.bfloat16).reshape(arr.shape)
        return torch.from_numpy(arr) if arr.ndim else torch.from_numpy(arr.reshape(1)).reshape(())
    if isinstance(x, ember.sparse.SparseTensor):
        if x.layout is ember.sparse_coo:
            return torch.sparse_coo_tensor(to_torch(x._indices()), to_torch(x._values()), tuple(x.shape),
                                           is_coalesced=x.is_coalesced())
        return torch.sparse_csr_tensor(to_torch(x.crow_indices()), to_torch(x.col_indices()), to_torch(x.values()),
                                       tuple(x.shape))
    if isinstance(x, ember.dtype):
        return getattr(torch, x.name)
    if isinstance(x, (list, tuple)):
        return [to_torch(v) for v in x]
    return x


def plain(x):
    """A torch result with its tuples and named tuples as lists, so both sides compare alike."""
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, torch.Size):
        return list(x)
    return x


def on_ember(fn):
    """A Python function written against ``torch`` (an OpInfo's lambda), re-bound to see ember as ``torch``."""
    g = dict(fn.__globals__)
    g["torch"] = ember
    if "F" in g:
        g["F"] = ember.nn.functional
    if "wrapper_set_seed" in g:
        g["wrapper_set_seed"] = _seeded
    return types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)


def _seeded(op, *args, **kwargs):
    """torch's ``wrapper_set_seed`` for ember: the op runs right after ``manual_seed(42)``, and the
    generator's state is put back after. ember's generator is torch's (the same numbers for the same
    seed), except bernoulli draws with a number for p, which torch takes from MKL's own stream on Intel
    CPUs: those are lent from torch's generator, seeded the same, so dropout masks match on every machine."""
    from ember import random as erandom
    own, state = erandom._bernoulli, ember.get_rng_state()

    def bernoulli(rng, shape, p):
        if isinstance(p, np.ndarray):
            return own(rng, shape, p)
        return torch.empty(shape, dtype=torch.float64).bernoulli_(float(p)).numpy().astype(bool)

    with torch.random.fork_rng():
        torch.manual_seed(42)
        ember.manual_seed(42)
        erandom._bernoulli = bernoulli
        try:
            return op(*args, **kwargs)
        finally:
            erandom._bernoulli = own
            ember.set_rng_state(state)


def assert_same(actual, expected, what: str = "", **tol) -> None:
    """ember's result (made torch) equals torch's: structure, shapes, dtypes and values at torch's tolerances."""
    expected = plain(expected)
    if isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), \
            f"{what}: structure {type(actual).__name__} of {_len(actual)} != torch's {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, f"{what}[{i}]", **tol)
        return
    if isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor), f"{what}: got {type(actual).__name__}, torch gives a tensor"
        assert actual.shape == expected.shape, f"{what}: shape {list(actual.shape)} != torch's {list(expected.shape)}"
        assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != torch's {expected.dtype}"
        torch.testing.assert_close(actual, expected.detach(), equal_nan=True, msg=lambda m: f"{what}: {m}"[:600],
                                   **tol)
        return
    if isinstance(expected, torch.dtype) or expected is None or isinstance(expected, (bool, str)):
        assert actual == expected, f"{what}: {actual!r} != torch's {expected!r}"
        return
    if isinstance(expected, (int, float)):
        assert isinstance(actual, (int, float)) and not isinstance(actual, torch.Tensor), \
            f"{what}: got {type(actual).__name__}, torch gives {type(expected).__name__}"
        torch.testing.assert_close(actual, expected, equal_nan=True, check_dtype=False, **tol)
        return
    assert actual == expected, f"{what}: {actual!r} != torch's {expected!r}"


def _len(x):
    return len(x) if isinstance(x, (list, tuple)) else "-"


def tensors(x):
    """The tensors inside a nested argument structure, in order."""
    if isinstance(x, (torch.Tensor, ember.Tensor, ember.sparse.SparseTensor)):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in tensors(v)]
    if isinstance(x, dict):
        return [t for v in x.values() for t in tensors(v)]
    return []


def short(e: BaseException) -> str:
    """One line naming an exception, for a report."""
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg}"[:300]
