"""The Optimizer base: parameter groups, per-parameter state, state_dict round trips."""
from __future__ import annotations

import copy
import warnings
from collections import defaultdict
from typing import Callable, Iterable

from .._backend import xp
from .._dtype import is_float

from .._tensor import Tensor
from ..sparse import SparseTensor
from ..autograd.engine import reset_grad
from ..autograd.grad_mode import no_grad, set_grad_enabled


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class of optimizers, with torch's ``param_groups`` / ``state`` / ``defaults`` contract.

    Subclasses implement ``_update(p, grad, state, group)``: one parameter's step, in place, written
    with arithmetic operators and the helpers below (``sqrt``, ``maximum``, ...), so that the same text
    runs on the parameter's NumPy array (the fast path) or, with ``differentiable=True``, on the tensor
    itself, recorded by autograd. The base class walks the groups, skips parameters without gradients,
    applies ``maximize`` and handles closures.
    """

    def __init__(self, params: Iterable, defaults: dict) -> None:
        self.defaults = defaults
        self.state: dict = defaultdict(dict)
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {params.type()}")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def __repr__(self) -> str:
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (tensors, or ``(name, tensor)`` pairs as ``named_parameters()`` gives)
        with its own options; the rest come from ``defaults``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        params = [params] if isinstance(params, Tensor) else list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names and len(names) != len(params):
            raise ValueError("all optimizer params should be with/without names. Some param names are missing")
        param_group["params"] = params
        if names:
            param_group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not self.defaults.get("differentiable") and not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for k, v in self.defaults.items():
            if v is required and k not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {k}")
            param_group.setdefault(k, v)
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters (to None by default)."""
        for group in self.param_groups:
            for p in group["params"]:
                reset_grad(p, set_to_none)

    def step(self, closure: Callable | None = None):
        """Update every parameter that has a gradient; ``closure`` re-evaluates the loss first."""
        loss = None
        if closure is not None:
            with set_grad_enabled(True):
                loss = closure()
        differentiable = bool(self.defaults.get("differentiable"))
        with set_grad_enabled(differentiable):
            for group in self.param_groups:
                self._check_group(group)
                if not differentiable and self._step_group(group):
                    continue
                for p in group["params"]:
                    if p._grad is None:
                        continue
                    state = self.state[p]
                    if differentiable:  # on tensors, so that autograd records the step
                        self._update(p, -p._grad if group.get("maximize") else p._grad, state, group)
                    else:
                        g = p._grad._data if isinstance(p._grad, Tensor) else p._grad  # (or a SparseTensor)
                        self._update(p._data, -g if group.get("maximize") else g, state, group)
                        p._version += 1  # an in-place change, visible to autograd's saved-tensor checks
                    if not state:  # as torch, a parameter without state (SGD without momentum) has no entry
                        del self.state[p]
        return loss

    supports_complex = True
    # whether ``_update`` takes a sparse gradient (a SparseTensor, as Embedding(sparse=True) gives); else
    # this message (formatted with the class name) refuses one, as torch's
    supports_sparse = False
    sparse_refusal = "{} does not support sparse gradients"

    def _check_group(self, group: dict) -> None:
        """Checks of a group's parameters before its step."""
        if not self.supports_complex and any(p._grad is not None and p._data.dtype.kind == "c"
                                             for p in group["params"]):
            raise RuntimeError(f"{type(self).__name__} does not support complex parameters")
        if not self.supports_sparse and any(isinstance(p._grad, SparseTensor) for p in group["params"]):
            raise RuntimeError(self.sparse_refusal.format(type(self).__name__))

    def _update(self, p, g, state: dict, group: dict) -> None:
        raise NotImplementedError

    def _step_group(self, group: dict) -> bool:
        """Step a whole group at once, where a subclass can (see ``_flat.FlatGroup``); False: step each
        parameter with ``_update``."""
        return False

    def scratch(self, p):
        """Scratch memory shaped like the array ``p``, kept between steps (a fresh array costs another pass
        over memory each step); None for a tensor (a differentiable step), which makes fresh ones."""
        if isinstance(p, Tensor) or not p.ndim:
            return None
        bufs = self.__dict__.setdefault("_scratch", {})
        buf = bufs.get(id(p))
        if buf is None or buf.shape != p.shape or buf.dtype != p.dtype:
            buf = bufs[id(p)] = xp.empty_like(p)
        return buf

    # -- state as torch lays it out: parameters by their index across groups
    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}``, as torch's (the
        state's tensors are the optimizer's own, not copies)."""
        index, groups = {}, []
        for group in self.param_groups:
            start = len(index)
            for p in group["params"]:
                index.setdefault(id(p), start)
                start += 1
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)] if isinstance(p, Tensor) else p: s for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the state and group options saved by ``state_dict`` (its tensors are copied, floating
        ones cast to their parameter's dtype, ``step`` left as it is)."""
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(a["params"]) != len(b["params"]) for a, b in zip(self.param_groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        by_index = {}
        for mine, saved in zip(self.param_groups, saved_groups):
            by_index.update(zip(saved["params"], mine["params"]))
            saved["params"] = mine["params"]
            if "param_names" in mine and "param_names" not in saved:
                saved["param_names"] = mine["param_names"]
        state = defaultdict(dict)
        for i, s in state_dict["state"].items():
            p = by_index.get(i)
            state[i if p is None else p] = s if p is None else {k: _cast(v, p, k) for k, v in s.items()}
        self.state = state
        self.param_groups = saved_groups


def _cast(v, p: Tensor, key):
    """A copy of a saved state value for parameter ``p``."""
    if isinstance(v, Tensor):
        arr = xp.array(v._data, copy=True)
        if key != "step" and is_float(p._data.dtype):
            arr = arr.astype(p._data.dtype, copy=False)
        return Tensor._make(arr)
    if isinstance(v, dict):
        return {k: _cast(x, p, k) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_cast(x, p, None) for x in v)
    return v


# ----------------------------------------------------------------------------- helpers for _update
# Each works on NumPy arrays (the fast path, in place, no autograd) and on tensors (differentiable=True).

def state_array(state: dict, key: str, like, fill: float = 0.0):
    """``state[key]`` (created filled with ``fill`` on first use): its array, or the tensor when ``like`` is one."""
    t = state.get(key)
    if t is None:
        data = like._data if isinstance(like, Tensor) else like
        t = state[key] = Tensor._make(xp.full_like(data, fill))
    return t if isinstance(like, Tensor) else t._data


def put_state(state: dict, key: str, x):
    """Keep ``x`` (an array or a tensor) as ``state[key]``; returns what ``state_array`` will return."""
    if isinstance(x, Tensor):
        state[key] = x
        return x
    x = xp.asarray(x)  # NumPy gives a scalar, not a 0-d array, for arithmetic on 0-d arrays
    state[key] = Tensor._make(x)
    return x


def next_step(state: dict) -> float:
    """Increment and return the step count, kept as a 0-dim float32 tensor like torch's."""
    t = state.get("step")
    if not isinstance(t, Tensor):  # absent, or a number from an old checkpoint
        t = state["step"] = Tensor._make(xp.asarray(t or 0, dtype=xp.float32))
    t._data = xp.asarray(t._data + 1, dtype=t._data.dtype)  # a 0-d array, not a NumPy scalar
    return float(t._data)


def scalar(v) -> float:
    """A hyper-parameter as a Python number (a tensor learning rate gives its value)."""
    return float(v) if isinstance(v, Tensor) else v


def sqrt(x, out=None):
    """Elementwise square root (into the array ``out`` if given)."""
    return x.sqrt() if isinstance(x, Tensor) else xp.sqrt(x, out=out)


def subtract(a, b, out=None):
    """``a - b`` (into the array ``out`` if given)."""
    return a - b if out is None else xp.subtract(a, b, out=out)


def multiply(a, b, out=None):
    """``a * b`` (into the array ``out`` if given)."""
    return a * b if out is None else xp.multiply(a, b, out=out)


def divide(a, b, out=None):
    """``a / b`` (into the array ``out`` if given)."""
    return a / b if out is None else xp.divide(a, b, out=out)


def maximum(a, b):
    """Elementwise maximum."""
    return a.maximum(b) if isinstance(a, Tensor) else xp.maximum(a, b)


def abs_(x):
    """Elementwise absolute value."""
    return x.abs() if isinstance(x, Tensor) else xp.abs(x)


def sign(x):
    """Elementwise sign."""
    return x.sign() if isinstance(x, Tensor) else xp.sign(x)


def clip(x, low: float, high: float):
    """``x`` clamped to ``[low, high]``."""
    return x.clamp(low, high) if isinstance(x, Tensor) else xp.clip(x, low, high)


def where(mask, a, b, like):
    """``a`` where ``mask`` holds, else ``b``, in the dtype of ``like``."""
    if isinstance(mask, Tensor):
        from .. import where as where_
        return where_(mask, a, b).to(like.dtype)
    return xp.where(mask, a, b).astype(like.dtype, copy=False)


def clone(x):
    """A copy (of a tensor: detached from the graph, as torch starts its momentum buffers)."""
    return x.detach().clone() if isinstance(x, Tensor) else x.copy()


def unaliased(x):
    """``x`` to compute from just before overwriting it: a recorded copy of a tensor (autograd then saves
    the copy, not the tensor that changes), the array itself (NumPy saves nothing)."""
    return x.clone() if isinstance(x, Tensor) else x


def assign(dst, src) -> None:
    """``dst[...] = src``, in place."""
    dst[...] = src
