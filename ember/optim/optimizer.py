"""The Optimizer base: parameter groups, per-parameter state, state_dict round trips."""
from __future__ import annotations

import copy
from collections import defaultdict
from typing import Callable, Iterable

from .._backend import xp

from .._tensor import Tensor
from ..autograd.grad_mode import no_grad


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class of optimizers, with torch's ``param_groups`` / ``state`` / ``defaults`` contract.

    Subclasses implement ``_update(p, grad, state, group)`` on NumPy arrays, in place;
    the base class walks the groups, skips parameters without gradients and handles closures.
    """

    def __init__(self, params: Iterable, defaults: dict) -> None:
        self.defaults = defaults
        self.state: dict = defaultdict(dict)
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {type(params).__name__}")
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
        """Add a group of parameters with its own options (the rest come from ``defaults``)."""
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(param_group, params=params)
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {k}")
            group.setdefault(k, v)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters (to None by default)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is not None:
                    if set_to_none:
                        p._grad = None
                    else:
                        p._grad = p._grad.detach()
                        p._grad._data[...] = 0

    @no_grad()
    def step(self, closure: Callable | None = None):
        """Update every parameter that has a gradient; ``closure`` re-evaluates the loss first."""
        loss = None
        if closure is not None:
            from ..autograd.grad_mode import enable_grad
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is None:
                    continue
                g = p._grad._data
                if group.get("maximize", False):
                    g = -g
                self._update(p._data, g, self.state[p], group)
                p._version += 1  # an in-place change, visible to autograd's saved-tensor checks
        return loss

    def _update(self, p: xp.ndarray, g: xp.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError

    def _scratch(self, p: xp.ndarray) -> xp.ndarray:
        """Scratch memory shaped like ``p``, kept between steps (fresh arrays cost page faults each step)."""
        bufs = self.__dict__.setdefault("_buffers", {})
        buf = bufs.get(id(p))
        if buf is None or buf.shape != p.shape or buf.dtype != p.dtype:
            buf = bufs[id(p)] = xp.empty_like(p)
        return buf

    # -- state as torch lays it out: parameters by their index across groups
    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}``, as torch's."""
        index, groups, start = {}, [], 0
        for group in self.param_groups:
            ids = list(range(start, start + len(group["params"])))
            index.update({id(p): i for p, i in zip(group["params"], ids)})
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
            start += len(ids)
        state = {index[id(p)]: {k: (v.clone() if isinstance(v, Tensor) else v) for k, v in s.items()}
                 for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the state and group options saved by ``state_dict``."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for mine, saved in zip(self.param_groups, groups):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                                 "optimizer's group")
        by_index = {}
        for mine, saved in zip(self.param_groups, groups):
            by_index.update(zip(saved["params"], mine["params"]))
            for k, v in saved.items():
                if k != "params":
                    mine[k] = copy.deepcopy(v)
        self.state = defaultdict(dict)
        for i, s in state_dict["state"].items():
            p = by_index[int(i)]
            self.state[p] = {k: _to_state(v, p) for k, v in s.items()}


def _to_state(v, p: Tensor):
    # saved tensors come back as fresh arrays of the parameter's dtype ('step' stays a float scalar tensor)
    if isinstance(v, Tensor):
        arr = xp.array(v._data, copy=True)
        if arr.shape == p._data.shape:
            arr = arr.astype(p._data.dtype)
        return Tensor._make(arr)
    if isinstance(v, xp.ndarray):
        return Tensor._make(xp.array(v, copy=True))
    return v


def state_array(state: dict, key: str, like: xp.ndarray, fill: float = 0.0) -> xp.ndarray:
    """The array behind ``state[key]``, created (filled with ``fill``) on first use."""
    t = state.get(key)
    if t is None:
        t = state[key] = Tensor._make(xp.full_like(like, fill))
    return t._data


def next_step(state: dict) -> float:
    """Increment and return the step count, kept as a 0-dim float32 tensor like torch's."""
    t = state.get("step")
    if t is None:
        t = state["step"] = Tensor._make(xp.zeros((), dtype=xp.float32))
    t._data = t._data + 1
    return float(t._data)
