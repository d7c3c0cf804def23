"""One parameter group's step over flat buffers: the group's parameters, gradients and per-element state
laid end to end, so that an elementwise update (Adam's) is a dozen NumPy calls for the whole group
instead of a dozen per parameter. For a small model the per-parameter Python and NumPy call overhead,
not the arithmetic, is the step's cost.

Small parameters only (see ``_MEAN_SIZE``): on large ones the arithmetic dominates, and the copies
into the flat buffers would add to it. The state stays torch's: ``state[p]`` holds its own ``step``
(0-d) and moment tensors, shaped like ``p``; here they are views of the flat buffers, so the flat
update writes them in place. Elementwise IEEE arithmetic rounds each element alike whether it sits in
a flat buffer or in its own array, so the numbers are those of the per-parameter loop.
"""
from __future__ import annotations

from .._backend import ndarray, xp
from .._tensor import Tensor


# Above this many elements per parameter (on average) the copies in and out of the flat buffers cost more
# than the calls they save (8 parameters, Adam: 2.8x faster at 1,000 elements each, 1.8x at 4,000, even at
# 16,000, 0.75x at 64,000); the flat buffers also double the memory of the group's parameters.
_MEAN_SIZE = 8192


class FlatGroup:
    """Flat buffers for one parameter group: parameters, gradients, the state ``keys`` and the steps."""

    def __init__(self, group: dict, state: dict, keys: tuple[str, ...], dtype) -> None:
        params = group["params"]
        self.group, self.state, self.keys, self.params = group, state, keys, list(params)
        self.all_keys = ("step",) + keys
        sizes = [p._data.size for p in params]
        n = sum(sizes)
        self.p, self.g = xp.empty(n, dtype), xp.empty(n, dtype)
        self.arrays = [xp.zeros(n, dtype) for _ in keys]
        self.steps = xp.zeros(len(params), xp.float32)
        self.p_views, self.entries = [], []  # entries: per parameter, (state tensor, its view) for all_keys
        offset = 0
        for i, (p, size) in enumerate(zip(params, sizes)):
            shape = p._data.shape
            self.p_views.append(self.p[offset:offset + size].reshape(shape))
            views = [self.steps[i:i + 1].reshape(())] + [a[offset:offset + size].reshape(shape)
                                                         for a in self.arrays]
            self.entries.append(self._adopt(state[p], self.all_keys, views))
            offset += size

    @staticmethod
    def _adopt(s: dict, keys: tuple[str, ...], views: list) -> list:
        """Make ``s``'s tensors views of the flat buffers (created, or their values moved in)."""
        entry = []
        for key, view in zip(keys, views):
            t = s.get(key)
            if t is None:
                t = s[key] = Tensor._make(view)
            else:
                view[...] = t._data
                t._data = view
            entry.append((t, view))
        return entry

    @classmethod
    def get(cls, cache: dict, group: dict, state: dict, keys: tuple[str, ...]) -> "FlatGroup | None":
        """The group's flat buffers, made or remade as needed; None where the loop over parameters must
        run instead: a parameter without a gradient, mixed or non-float dtypes, or state whose steps differ."""
        params = group["params"]
        dtype = params[0]._data.dtype if params else None
        if dtype is None or dtype.kind != "f":
            return None
        for p in params:  # a 0-d gradient may come as a NumPy scalar
            g = p._grad
            if g is None or not isinstance(g._data, (ndarray, xp.generic)) or g._data.dtype != dtype or (
                    type(p._data) is not ndarray or p._data.dtype != dtype):
                return None
        flat = cache.get(id(group))
        if flat is not None and flat._holds(group, state, keys):
            return flat
        if sum(p._data.size for p in params) > _MEAN_SIZE * len(params):
            return None
        existing = [state.get(p) for p in params]
        if any(existing):  # resume from this state only if it is complete and every step count agrees
            if not all(s and all(k in s for k in ("step",) + keys) for s in existing):
                return None
            steps = {float(s["step"]) if isinstance(s["step"], Tensor) else None for s in existing}
            if len(steps) != 1 or None in steps or any(s[k].shape != p.shape
                                                       for s, p in zip(existing, params) for k in keys):
                return None
        flat = cache[id(group)] = cls(group, state, keys, dtype)
        return flat

    def _holds(self, group: dict, state: dict, keys: tuple[str, ...]) -> bool:
        """Whether the buffers still are the group's: same parameters, and state tensors still the views."""
        params = group["params"]
        if group is not self.group or state is not self.state or keys != self.keys or len(params) != len(
                self.params):
            return False
        for p, mine, view, entry in zip(params, self.params, self.p_views, self.entries):
            if p is not mine or p._data.shape != view.shape:
                return False
            s = state.get(p)
            if s is None:
                return False
            for key, (t, v) in zip(self.all_keys, entry):
                if s.get(key) is not t or t._data is not v:
                    return False
        return bool((self.steps == self.steps[0]).all())  # a step tensor changed in place parts them

    def gather(self, maximize: bool):
        """The parameters and gradients copied into the flat buffers (gradients negated to maximize)."""
        xp.concatenate([p._data.reshape(-1) for p in self.params], out=self.p)
        xp.concatenate([p._grad._data.reshape(-1) for p in self.params], out=self.g)
        if maximize:
            xp.negative(self.g, out=self.g)
        return self.p, self.g

    def next_step(self) -> float:
        """Every parameter's step count, incremented (one count: they are equal)."""
        self.steps += 1
        return float(self.steps[0])

    def scatter(self) -> None:
        """The updated parameters copied back (an in-place change of each, as autograd sees it)."""
        for p, view in zip(self.params, self.p_views):
            xp.copyto(p._data, view)
            p._version += 1
