"""Muon (Jordan et al.): momentum orthogonalised by a Newton-Schulz iteration, as torch's."""
from __future__ import annotations

import math

from .._backend import xp

from .algorithms import check_lr, lerp_
from .optimizer import Optimizer, scalar, state_array

# torch's defaults: the quintic iteration's coefficients, its steps and the norm's floor
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5
EPS = 1e-7


class Muon(Optimizer):
    """Muon, for 2-D parameters: SGD-momentum whose update is replaced by its nearest orthogonal matrix."""

    supports_complex = False

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, ns_coefficients=NS_COEFFICIENTS, eps: float = EPS, ns_steps: int = NS_STEPS,
                 adjust_lr_fn: str | None = None) -> None:
        check_lr(lr)
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn not in (None, "original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                      ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                                      adjust_lr_fn=adjust_lr_fn))
        for group in self.param_groups:
            for p in group["params"]:
                if p.dim() != 2:
                    raise ValueError("Muon only supports 2D parameters whereas we found a parameter with size: "
                                     f"{p.size()}")

    def _update(self, p, g, state, group):
        lr, mom = scalar(group["lr"]), group["momentum"]
        buf = state_array(state, "momentum_buffer", g)
        lerp_(buf, g, 1 - mom)
        if group["nesterov"]:
            update = g.copy()
            lerp_(update, buf, mom)
        else:
            update = buf
        update = _orthogonalize(update, group["ns_coefficients"], group["ns_steps"], group["eps"])
        p *= 1 - lr * group["weight_decay"]
        p -= _adjusted_lr(lr, group["adjust_lr_fn"], p.shape) * update


def _adjusted_lr(lr: float, how: str | None, shape) -> float:
    """The learning rate scaled for the matrix's shape."""
    rows, cols = shape[:2]
    if how == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, cols))
    return lr * math.sqrt(max(1, rows / cols))


def _orthogonalize(g, coefficients, steps: int, eps: float):
    """The quintic Newton-Schulz iteration towards the orthogonal factor of ``g``, in bfloat16 arithmetic as
    torch runs it (float32 arrays rounded to bfloat16 after each operation)."""
    if steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = coefficients
    x = _bfloat16(g.astype(xp.float32))
    tall = g.shape[0] > g.shape[1]
    if tall:
        x = x.T
    norm = _bfloat16(xp.sqrt((x * x).sum(dtype=xp.float32)))
    x = _bfloat16(x / max(norm, _bfloat16(xp.float32(eps))))
    for _ in range(steps):
        gram = _bfloat16(x @ x.T)
        gram = _bfloat16(b * gram + c * (gram @ gram))
        x = _bfloat16(a * x + gram @ x)
    return x.T if tall else x


def _bfloat16(x):
    """float32 values rounded to the nearest bfloat16 (ties to even), kept as float32."""
    bits = xp.ascontiguousarray(x, dtype=xp.float32).view(xp.uint32)
    bits = (bits + (0x7FFF + ((bits >> 16) & 1))) & 0xFFFF0000
    return bits.astype(xp.uint32).view(xp.float32)
