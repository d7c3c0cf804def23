"""Adafactor (Shazeer & Stern): second moments kept as row and column factors, as torch's."""
from __future__ import annotations

from .._backend import xp

from .algorithms import check, check_lr, lerp_
from .optimizer import Optimizer, next_step, scalar, state_array


class Adafactor(Optimizer):
    """Adafactor: memory-light second moments (row/column factors for matrices), relative step sizes."""

    supports_complex = False

    def __init__(self, params, lr: float = 1e-2, beta2_decay: float = -0.8, eps=(None, 1e-3), d: float = 1.0,
                 weight_decay: float = 0.0, *, foreach=None, maximize: bool = False) -> None:
        check_lr(lr)
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        check("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize))

    def _update(self, p, g, state, group):
        lr, wd = scalar(group["lr"]), group["weight_decay"]
        eps1, eps2 = group["eps"]
        eps1 = float(xp.finfo(p.dtype).eps) if eps1 is None else eps1
        step = next_step(state)
        if g.ndim > 1:
            row = state_array(state, "row_var", xp.zeros(g.shape[:-1] + (1,), g.dtype))
            col = state_array(state, "col_var", xp.zeros(g.shape[:-2] + (1,) + g.shape[-1:], g.dtype))
        else:
            var = state_array(state, "variance", g)
        beta2_rest = step ** group["beta2_decay"]  # 1 - beta2 at this step
        rho = min(lr, 1 / step ** 0.5)
        alpha = max(eps2, float(_norm(p)) / p.size ** 0.5) * rho
        if wd:
            p *= 1 - lr * wd
        if g.ndim > 1:
            lerp_(row, _norm(g, -1) ** 2 / g.shape[-1], beta2_rest)
            lerp_(col, _norm(g, -2) ** 2 / g.shape[-2], beta2_rest)
            estimate = row @ col
            estimate /= xp.maximum(row.mean(axis=-2, keepdims=True), eps1)
        else:
            lerp_(var, g * g, beta2_rest)
            estimate = var.copy()
        update = 1 / xp.sqrt(xp.maximum(estimate, eps1 * eps1))
        update *= g
        denom = max(1.0, float(_norm(update)) / (update.size ** 0.5 * group["d"]))
        p -= (alpha / denom) * update


def _norm(x, axis=None):
    """The 2-norm over ``axis`` (all of x if None), keeping reduced dims."""
    s = xp.sqrt((x * x).sum(axis=axis, keepdims=axis is not None))
    return s.astype(x.dtype, copy=False)
