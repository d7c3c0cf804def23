"""The update rules, each on NumPy arrays in place, following torch's formulas step for step
(same operation order, so float32 results agree to rounding)."""
from __future__ import annotations

import math

from .._backend import xp

from .optimizer import Optimizer, next_step, state_array


def _check(name: str, value, low: float = 0.0) -> None:
    if not value >= low:
        raise ValueError(f"Invalid {name}: {value}")


def _decay(p, g, wd):
    """L2 weight decay folded into the gradient."""
    return g + wd * p if wd else g


def _adam_moments(p, g, m, v, buf, lr: float, betas, wd: float, decoupled: bool):
    """Adam's two moving averages, updated in place after weight decay (decoupled: shrink the weights;
    else: add to the gradient); returns the decayed gradient. Shared by Adam(W), NAdam, RAdam.
    ``buf`` is scratch memory shaped like ``p``."""
    b1, b2 = betas
    if decoupled:
        p *= 1 - lr * wd
    else:
        g = _decay(p, g, wd)
    xp.subtract(g, m, out=buf)  # m.lerp_(g, 1 - b1), as torch writes it
    buf *= 1 - b1
    m += buf
    v *= b2
    xp.multiply(g, g, out=buf)
    buf *= 1 - b2
    v += buf
    return g


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False, foreach=None,
                 differentiable: bool = False, fused=None) -> None:
        _check("learning rate", lr)
        _check("momentum value", momentum)
        _check("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def _update(self, p, g, state, group):
        g = _decay(p, g, group["weight_decay"])
        mom = group["momentum"]
        if mom:
            buf = state.get("momentum_buffer")
            if buf is None:
                from .._tensor import Tensor
                buf = state["momentum_buffer"] = Tensor._make(g.copy())
            else:
                buf._data *= mom
                buf._data += (1 - group["dampening"]) * g
            g = g + mom * buf._data if group["nesterov"] else buf._data
        p -= group["lr"] * g


class Adam(Optimizer):
    """Adam (Kingma & Ba), with optional AMSGrad and L2 weight decay."""

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 amsgrad: bool = False, *, foreach=None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused=None) -> None:
        _check("learning rate", lr)
        _check("epsilon value", eps)
        _check("weight_decay value", weight_decay)
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Invalid beta parameter: {betas}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused))

    def _update(self, p, g, state, group):
        lr, (b1, b2), wd, eps = group["lr"], group["betas"], group["weight_decay"], group["eps"]
        step = next_step(state)
        arrays = [p, g, state_array(state, "exp_avg", p), state_array(state, "exp_avg_sq", p), self._scratch(p)]
        if group["amsgrad"]:
            arrays.append(state_array(state, "max_exp_avg_sq", p))
        p, g, m, v, buf, *vmax = arrays
        _adam_moments(p, g, m, v, buf, lr, (b1, b2), wd, self.decoupled)
        v_hat = v
        if vmax:
            v_hat = xp.maximum(vmax[0], v, out=vmax[0])
        denom = xp.sqrt(v_hat, out=buf)
        denom /= math.sqrt(1 - b2 ** step)
        denom += eps
        step_dir = xp.divide(m, denom, out=buf)
        step_dir *= lr / (1 - b1 ** step)
        p -= step_dir


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter)."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False, **kwargs) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, **kwargs)


class RMSprop(Optimizer):
    """RMSprop, optionally centered and with momentum."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False, capturable: bool = False, foreach=None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        _check("learning rate", lr)
        _check("epsilon value", eps)
        _check("momentum value", momentum)
        _check("alpha value", alpha)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, capturable=capturable, foreach=foreach, maximize=maximize,
                                      differentiable=differentiable))

    def _update(self, p, g, state, group):
        alpha = group["alpha"]
        next_step(state)
        g = _decay(p, g, group["weight_decay"])
        sq = state_array(state, "square_avg", p)
        sq *= alpha
        sq += (1 - alpha) * g * g
        if group["centered"]:
            ga = state_array(state, "grad_avg", p)
            ga += (g - ga) * (1 - alpha)
            avg = xp.sqrt(sq - ga * ga) + group["eps"]
        else:
            avg = xp.sqrt(sq) + group["eps"]
        if group["momentum"] > 0:
            buf = state_array(state, "momentum_buffer", p)
            buf *= group["momentum"]
            buf += g / avg
            p -= group["lr"] * buf
        else:
            p -= group["lr"] * (g / avg)


class Adagrad(Optimizer):
    """Adagrad: per-coordinate learning rates from the running sum of squared gradients."""

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach=None, *, maximize: bool = False,
                 differentiable: bool = False, fused=None) -> None:
        _check("learning rate", lr)
        _check("lr_decay value", lr_decay)
        _check("initial_accumulator_value value", initial_accumulator_value)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused))
        for group in self.param_groups:  # torch creates Adagrad's state eagerly
            for p in group["params"]:
                st = self.state[p]
                state_array(st, "sum", p._data, group["initial_accumulator_value"])
                from .._tensor import Tensor
                st["step"] = Tensor._make(xp.zeros((), dtype=xp.float32))

    def _update(self, p, g, state, group):
        step = next_step(state)
        g = _decay(p, g, group["weight_decay"])
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        s = state_array(state, "sum", p)
        s += g * g
        p -= clr * (g / (xp.sqrt(s) + group["eps"]))


class Adadelta(Optimizer):
    """Adadelta (Zeiler): step sizes from running averages of squared gradients and updates."""

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0,
                 foreach=None, *, capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check("learning rate", lr)
        _check("epsilon value", eps)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      capturable=capturable, maximize=maximize, differentiable=differentiable))

    def _update(self, p, g, state, group):
        rho, eps = group["rho"], group["eps"]
        next_step(state)
        g = _decay(p, g, group["weight_decay"])
        sq = state_array(state, "square_avg", p)
        acc = state_array(state, "acc_delta", p)
        sq *= rho
        sq += (1 - rho) * g * g
        delta = xp.sqrt(acc + eps) / xp.sqrt(sq + eps) * g
        acc *= rho
        acc += (1 - rho) * delta * delta
        p -= group["lr"] * delta


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm."""

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 foreach=None, *, maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _check("learning rate", lr)
        _check("epsilon value", eps)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    def _update(self, p, g, state, group):
        (b1, b2), eps = group["betas"], group["eps"]
        step = next_step(state)
        g = _decay(p, g, group["weight_decay"])
        m = state_array(state, "exp_avg", p)
        u = state_array(state, "exp_inf", p)
        m += (g - m) * (1 - b1)
        xp.maximum(u * b2, xp.abs(g) + eps, out=u)
        p -= (group["lr"] / (1 - b1 ** step)) * (m / u)


class NAdam(Optimizer):
    """Adam with Nesterov momentum (Dozat), with torch's momentum-decay schedule."""

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *, foreach=None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False) -> None:
        _check("learning rate", lr)
        _check("epsilon value", eps)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      foreach=foreach, maximize=maximize, capturable=capturable,
                                      differentiable=differentiable))

    def _update(self, p, g, state, group):
        lr, (b1, b2), wd, md = group["lr"], group["betas"], group["weight_decay"], group["momentum_decay"]
        step = next_step(state)
        if "mu_product" not in state:
            from .._tensor import Tensor
            state["mu_product"] = Tensor._make(xp.ones((), dtype=xp.float32))
        m = state_array(state, "exp_avg", p)
        v = state_array(state, "exp_avg_sq", p)
        if group["decoupled_weight_decay"]:
            p *= 1 - lr * wd
        else:
            g = _decay(p, g, wd)
        mu = b1 * (1.0 - 0.5 * 0.96 ** (step * md))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * md))
        mu_product = float(state["mu_product"]._data) * mu
        state["mu_product"]._data = xp.asarray(mu_product, dtype=xp.float32)
        m += (g - m) * (1 - b1)
        v *= b2
        v += (1 - b2) * g * g
        denom = xp.sqrt(v / (1 - b2 ** step)) + group["eps"]
        p -= (lr * (1 - mu) / (1 - mu_product)) * (g / denom)
        p -= (lr * mu_next / (1 - mu_product * mu_next)) * (m / denom)


class RAdam(Optimizer):
    """Rectified Adam (Liu et al.)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 decoupled_weight_decay: bool = False, *, foreach=None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        _check("learning rate", lr)
        _check("epsilon value", eps)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, foreach=foreach,
                                      maximize=maximize, capturable=capturable, differentiable=differentiable))

    def _update(self, p, g, state, group):
        lr, (b1, b2) = group["lr"], group["betas"]
        step = next_step(state)
        m, v = state_array(state, "exp_avg", p), state_array(state, "exp_avg_sq", p)
        g = _adam_moments(p, g, m, v, self._scratch(p), lr, group["betas"], group["weight_decay"],
                          group["decoupled_weight_decay"])
        bc1 = 1 - b1 ** step
        bc2 = 1 - b2 ** step
        corrected = m / bc1
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * step * (b2 ** step) / bc2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = math.sqrt(bc2) / (xp.sqrt(v) + group["eps"])
            p -= corrected * lr * adaptive * rect
        else:
            p -= corrected * lr
