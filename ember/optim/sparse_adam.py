"""SparseAdam: Adam whose moments and parameters move only where the gradient has entries."""
from __future__ import annotations

import math

from .._backend import xp
from .._tensor import Tensor
from ..sparse import SparseTensor, stored_at

from .algorithms import check_betas, check_lr
from .optimizer import Optimizer, scalar, state_array


class SparseAdam(Optimizer):
    """Lazy Adam for sparse gradients (``Embedding(sparse=True)``): only the rows a gradient stores update
    their moments and weights; a dense gradient is refused, as torch's."""

    supports_sparse = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 maximize: bool = False) -> None:
        check_lr(lr)
        if not 0.0 < scalar(lr):
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_betas(betas)
        params = params if isinstance(params, (Tensor, SparseTensor)) else list(params)  # the base refuses a tensor
        groups = params if params and isinstance(params, list) and isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            ps = group["params"]
            sparse_at = [i for i, p in enumerate([ps] if isinstance(ps, (Tensor, SparseTensor)) else ps)
                         if isinstance(p, SparseTensor)]
            if sparse_at:
                raise ValueError(f"Sparse params at indices {sparse_at}: SparseAdam requires dense parameter tensors")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))
        complex_at = [[i, j] for i, group in enumerate(self.param_groups)
                      for j, p in enumerate(group["params"]) if p._data.dtype.kind == "c"]
        if complex_at:
            raise ValueError(f"Complex params at indices {complex_at}: SparseAdam does not support complex parameters")

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        if any(isinstance(p._grad, Tensor) for p in group["params"]):
            raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")

    def _update(self, p, g, state, group):
        (b1, b2), lr = group["betas"], scalar(group["lr"])
        m, v = state_array(state, "exp_avg", p), state_array(state, "exp_avg_sq", p)
        step = state["step"] = state.get("step", 0) + 1  # a plain int, as torch's SparseAdam keeps it
        g = g.coalesce()  # the update is not linear: one entry per row
        if not g._nnz():
            return
        rows, gv = stored_at(g)
        old_m, old_v = m[rows].copy(), v[rows].copy()  # (a whole-tensor index gives views)
        dm = (gv - old_m) * (1 - b1)
        dv = (gv * gv - old_v) * (1 - b2)
        m[rows] += dm
        v[rows] += dv
        denom = xp.sqrt(dv + old_v) + group["eps"]
        step_size = lr * math.sqrt(1 - b2 ** step) / (1 - b1 ** step)
        p[rows] += -step_size * ((dm + old_m) / denom)
