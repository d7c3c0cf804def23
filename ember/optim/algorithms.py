"""The update rules, one parameter at a time, following torch's single-tensor formulas step for step
(same operation order, so float32 results agree to rounding).

Each ``_update`` runs on NumPy arrays in place, or on tensors with ``differentiable=True`` (see
``Optimizer``); the helpers it calls (``sqrt``, ``lerp_``, ...) serve both.
"""
from __future__ import annotations

from .._backend import xp
from .._tensor import Tensor
from ..sparse import SparseTensor, stored_at

from ._flat import FlatGroup
from .optimizer import (Optimizer, abs_, assign, clip, clone, divide, maximum, multiply, next_step, put_state,
                        scalar, sign, sqrt, state_array, subtract, unaliased, where)


def check(name: str, value, low: float = 0.0) -> None:
    """torch's check of a hyper-parameter: ValueError ``Invalid <name>: <value>`` below ``low``."""
    if not value >= low:
        raise ValueError(f"Invalid {name}: {value}")


def check_lr(lr, foreach=None, capturable: bool = False) -> None:
    """A learning rate: a number or a one-element tensor, not negative."""
    if isinstance(lr, Tensor):
        if foreach and not capturable:
            raise ValueError("lr as a Tensor is not supported for capturable=False and foreach=True")
        if lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        lr = float(lr)
    check("learning rate", lr)


def check_betas(betas) -> None:
    """Both betas in [0, 1)."""
    for i, b in enumerate(betas):
        if not 0.0 <= scalar(b) < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")


def check_fused(fused, foreach, differentiable: bool) -> None:
    """``fused`` (accepted on the CPU and computed by the same loop) excludes the other two."""
    if fused and differentiable:
        raise RuntimeError("`fused` does not support `differentiable`")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


# The formulas below keep to one temporary per term and update it in place: on a large parameter each
# fresh array is another pass over memory.

def lerp_(a, b, w: float, out=None) -> None:
    """``a.lerp_(b, w)`` as torch computes it (from the nearer end, so w near 1 loses no precision);
    ``out``: scratch memory (see ``Optimizer.scratch``)."""
    d = subtract(b, a, out)
    if w < 0.5:
        d *= w
        a += d
    else:
        d *= 1 - w
        assign(a, b - d)


def addcmul_(a, b, c, value: float, out=None) -> None:
    """``a += value * b * c``, rounded in torch's order; ``out``: scratch memory."""
    t = multiply(b, value, out)
    t *= c
    a += t


def _decay(p, g, wd):
    """L2 weight decay folded into the gradient."""
    return g + wd * p if wd else g


def _adam_moments(p, g, m, v, lr: float, b1: float, b2: float, wd: float, decoupled: bool, out=None):
    """Weight decay (decoupled: shrink the weights; else: into the gradient), then Adam's two moving
    averages updated in place; returns the gradient. Shared by Adam(W), NAdam and RAdam."""
    if wd and decoupled:
        p *= 1 - lr * wd
    else:
        g = _decay(p, g, wd)
    lerp_(m, g, 1 - b1, out)
    v *= b2
    addcmul_(v, g, g, 1 - b2, out)
    return g


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False, foreach=None,
                 differentiable: bool = False, fused=None) -> None:
        check_lr(lr)
        check("momentum value", momentum)
        check("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        check_fused(fused, foreach, differentiable)

    supports_sparse = True

    def _update(self, p, g, state, group):
        g = _decay(p, g, group["weight_decay"])  # (a sparse g refuses a dense addend, as torch's)
        if isinstance(g, SparseTensor):
            return self._sparse_update(p, g, state, group)
        mom = group["momentum"]
        if mom:
            if "momentum_buffer" not in state:
                buf = put_state(state, "momentum_buffer", clone(g))
            else:
                buf = state_array(state, "momentum_buffer", p)
                buf *= mom
                buf += (1 - group["dampening"]) * g
            g = g + mom * buf if group["nesterov"] else buf
        p -= scalar(group["lr"]) * g

    @staticmethod
    def _sparse_update(p, g, state, group):
        """torch's SGD on a sparse gradient: a sparse momentum buffer, and only the stored rows of ``p`` move."""
        mom = group["momentum"]
        if mom:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.detach().clone()
            else:
                buf.mul_(mom).add_(g, alpha=1 - group["dampening"])
            g = g + buf * mom if group["nesterov"] else buf
        add_sparse_(p, g, -scalar(group["lr"]))


def add_sparse_(p, g: SparseTensor, alpha: float) -> None:
    """``p += alpha * g`` for an array ``p`` and a sparse ``g``, entry by entry in order, as torch's kernel."""
    values = g._values_t._data * xp.asarray(alpha, g._values_t._data.dtype)
    if g.sparse_dim():
        xp.add.at(p, tuple(g._indices_t._data), values)
        return
    for v in values:  # no sparse dims: each entry is a whole tensor
        p += v


class Adam(Optimizer):
    """Adam (Kingma & Ba), with optional AMSGrad and L2 (or, as AdamW, decoupled) weight decay."""

    sparse_refusal = "Adam does not support sparse gradients, please consider SparseAdam instead"

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 amsgrad: bool = False, *, foreach=None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused=None, decoupled_weight_decay: bool = False) -> None:
        check_lr(lr, foreach, capturable)
        check("epsilon value", eps)
        check_betas(betas)
        check("weight_decay value", weight_decay)
        tensors = [isinstance(b, Tensor) for b in betas]
        floats = [isinstance(b, float) for b in betas]
        if not (all(tensors) or all(floats)):
            raise ValueError("betas must be either both floats or both Tensors")
        for i, b in enumerate(betas):
            if isinstance(b, Tensor) and foreach and not capturable:
                raise ValueError(f"betas[{i}] as a Tensor is not supported for capturable=False and foreach=True")
        betas = tuple(b.squeeze() if isinstance(b, Tensor) else b for b in betas)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay))
        check_fused(fused, foreach, differentiable)

    def _update(self, p, g, state, group):
        step = next_step(state)
        m, v = state_array(state, "exp_avg", p), state_array(state, "exp_avg_sq", p)
        vmax = state_array(state, "max_exp_avg_sq", p) if group["amsgrad"] else None
        self._adam(p, g, m, v, vmax, step, group)

    def _step_group(self, group):
        # every parameter at once over flat buffers: a small model's step is otherwise its per-parameter overhead
        keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if group["amsgrad"] else ("exp_avg", "exp_avg_sq")
        flat = FlatGroup.get(self.__dict__.setdefault("_flat", {}), group, self.state, keys)
        if flat is None:
            return False
        p, g = flat.gather(group["maximize"])
        m, v, *vmax = flat.arrays
        self._adam(p, g, m, v, vmax[0] if vmax else None, flat.next_step(), group)
        flat.scatter()
        return True

    def _adam(self, p, g, m, v, vmax, step: float, group: dict) -> None:
        """One Adam step of ``p`` (in place) with moments ``m``, ``v`` (and AMSGrad's ``vmax``, or None)."""
        lr, wd, eps = scalar(group["lr"]), group["weight_decay"], group["eps"]
        b1, b2 = (scalar(b) for b in group["betas"])
        buf = self.scratch(p)  # Adam runs on every step of most training: no temporaries
        _adam_moments(p, g, m, v, lr, b1, b2, wd, group["decoupled_weight_decay"], buf)
        if vmax is not None:
            assign(vmax, maximum(unaliased(vmax), v))
            v = vmax
        denom = divide(sqrt(v, buf), (1 - b2 ** step) ** 0.5, buf)  # not in place: sqrt keeps its output
        denom += eps
        step_dir = divide(m, denom, buf)
        step_dir *= lr / (1 - b1 ** step)
        p -= step_dir


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False, *, maximize: bool = False, foreach=None, capturable: bool = False,
                 differentiable: bool = False, fused=None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, foreach=foreach,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict) -> None:
        """As Optimizer's; AdamW's groups always decay the weights decoupled."""
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


class RMSprop(Optimizer):
    """RMSprop, optionally centered and with momentum."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False, capturable: bool = False, foreach=None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        check_lr(lr)
        check("epsilon value", eps)
        check("momentum value", momentum)
        check("weight_decay value", weight_decay)
        check("alpha value", alpha)
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable))

    def _update(self, p, g, state, group):
        alpha = group["alpha"]
        next_step(state)
        sq = state_array(state, "square_avg", p)
        buf = state_array(state, "momentum_buffer", p) if group["momentum"] > 0 else None
        ga = state_array(state, "grad_avg", p) if group["centered"] else None
        g = _decay(p, g, group["weight_decay"])
        sq *= alpha
        addcmul_(sq, g, g, 1 - alpha)
        if ga is not None:
            lerp_(ga, g, 1 - alpha)
            avg = sqrt(sq - ga * ga)
        else:
            avg = sqrt(sq)
        avg = avg + group["eps"]
        lr = scalar(group["lr"])
        if buf is not None:
            buf *= group["momentum"]
            buf += g / avg
            p -= lr * buf
        else:
            p -= lr * g / avg


class Adagrad(Optimizer):
    """Adagrad: per-coordinate learning rates from the running sum of squared gradients."""

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach=None, *, maximize: bool = False,
                 differentiable: bool = False, fused=None) -> None:
        check_lr(lr)
        check("lr_decay value", lr_decay)
        check("weight_decay value", weight_decay)
        check("initial_accumulator_value value", initial_accumulator_value)
        check("epsilon value", eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused))
        check_fused(fused, foreach, differentiable)
        for group in self.param_groups:  # torch creates Adagrad's state eagerly
            for p in group["params"]:
                st = self.state[p]
                st["step"] = Tensor._make(xp.zeros((), dtype=xp.float32))
                state_array(st, "sum", p._data, self.defaults["initial_accumulator_value"])

    supports_sparse = True

    def _update(self, p, g, state, group):
        step = next_step(state)
        if isinstance(g, SparseTensor) and group["weight_decay"]:
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        g = _decay(p, g, group["weight_decay"])
        clr = scalar(group["lr"]) / (1 + (step - 1) * group["lr_decay"])
        s = state_array(state, "sum", p)
        if isinstance(g, SparseTensor):  # torch's order: the sums of the stored rows, then those rows of p
            g = g.coalesce()
            rows, gv = stored_at(g)
            s[rows] += gv * gv
            p[rows] += (gv / (sqrt(s[rows]) + group["eps"])) * xp.asarray(-clr, gv.dtype)
            return
        s += g * g
        p -= clr * g / (sqrt(s) + group["eps"])


class Adadelta(Optimizer):
    """Adadelta (Zeiler): step sizes from running averages of squared gradients and updates."""

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0,
                 foreach=None, *, capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check("epsilon value", eps)
        check("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      capturable=capturable, maximize=maximize, differentiable=differentiable))

    def _update(self, p, g, state, group):
        rho, eps = group["rho"], group["eps"]
        next_step(state)
        sq, acc = state_array(state, "square_avg", p), state_array(state, "acc_delta", p)
        g = _decay(p, g, group["weight_decay"])
        sq *= rho
        addcmul_(sq, g, g, 1 - rho)
        delta = sqrt(acc + eps) / sqrt(sq + eps) * g
        acc *= rho
        addcmul_(acc, delta, delta, 1 - rho)
        p -= scalar(group["lr"]) * delta


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm."""

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 foreach=None, *, maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        check_lr(lr)
        check("epsilon value", eps)
        check_betas(betas)
        check("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    def _update(self, p, g, state, group):
        (b1, b2), eps = group["betas"], group["eps"]
        step = next_step(state)
        m, u = state_array(state, "exp_avg", p), state_array(state, "exp_inf", p)
        g = _decay(p, g, group["weight_decay"])
        lerp_(m, g, 1 - b1)
        u *= b2
        assign(u, maximum(unaliased(u), abs_(g) + eps))
        p -= (scalar(group["lr"]) / (1 - b1 ** step)) * m / u


class NAdam(Optimizer):
    """Adam with Nesterov momentum (Dozat), with torch's momentum-decay schedule."""

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *, foreach=None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False) -> None:
        check_lr(lr)
        check("epsilon value", eps)
        check_betas(betas)
        check("weight_decay value", weight_decay)
        check("momentum_decay value", momentum_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    def _update(self, p, g, state, group):
        lr, (b1, b2), wd, md = scalar(group["lr"]), group["betas"], group["weight_decay"], group["momentum_decay"]
        step = next_step(state)
        if "mu_product" not in state:
            state["mu_product"] = Tensor._make(xp.ones((), dtype=xp.float32))
        m, v = state_array(state, "exp_avg", p), state_array(state, "exp_avg_sq", p)
        mu = b1 * (1.0 - 0.5 * 0.96 ** (step * md))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * md))
        product = state["mu_product"]
        product._data = xp.asarray(product._data * xp.float32(mu))  # a float32 product, as torch keeps it
        mu_product = float(product._data)
        g = _adam_moments(p, g, m, v, lr, b1, b2, wd, group["decoupled_weight_decay"])
        denom = sqrt(v / (1 - b2 ** step)) + group["eps"]
        p -= (lr * (1.0 - mu) / (1.0 - mu_product)) * g / denom
        p -= (lr * mu_next / (1.0 - mu_product * mu_next)) * m / denom


class RAdam(Optimizer):
    """Rectified Adam (Liu et al.)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 decoupled_weight_decay: bool = False, *, foreach=None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        check_lr(lr)
        check("epsilon value", eps)
        check_betas(betas)
        check("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable))

    def _update(self, p, g, state, group):
        lr, (b1, b2), wd = scalar(group["lr"]), group["betas"], group["weight_decay"]
        step = next_step(state)
        m, v = state_array(state, "exp_avg", p), state_array(state, "exp_avg_sq", p)
        _adam_moments(p, g, m, v, lr, b1, b2, wd, group["decoupled_weight_decay"])
        bc2 = 1 - b2 ** step
        corrected = m / (1 - b1 ** step)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * step * (b2 ** step) / bc2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            p -= corrected * lr * (bc2 ** 0.5 / (sqrt(v) + group["eps"])) * rect
        else:
            p -= corrected * lr


class Rprop(Optimizer):
    """Resilient backpropagation: per-weight step sizes grown while the gradient keeps its sign."""

    def __init__(self, params, lr: float = 1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable: bool = False, foreach=None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, capturable=capturable))

    def _update(self, p, g, state, group):
        (minus, plus), (low, high) = group["etas"], group["step_sizes"]
        next_step(state)
        prev = state_array(state, "prev", p)
        size = state_array(state, "step_size", p, scalar(group["lr"]))
        s = sign(g * prev)
        assign(size, clip(size * where(s > 0, plus, where(s < 0, minus, 1.0, p), p), low, high))
        g = where(s < 0, 0.0, g, p)  # after a sign change: no step, and no sign to compare next time
        p -= sign(g) * size
        assign(prev, g)


class ASGD(Optimizer):
    """Averaged stochastic gradient descent (Polyak & Juditsky); ``ax`` holds the running average."""

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
                 weight_decay: float = 0, foreach=None, maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        check_lr(lr)
        check("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _update(self, p, g, state, group):
        lr, lambd = scalar(group["lr"]), group["lambd"]
        if "eta" not in state:
            state["eta"] = Tensor._make(xp.asarray(lr, dtype=xp.float32))
            state["mu"] = Tensor._make(xp.ones((), dtype=xp.float32))
        step = next_step(state)
        ax = state_array(state, "ax", p)
        g = _decay(p, g, group["weight_decay"])
        eta, mu = float(state["eta"]._data), float(state["mu"]._data)
        p *= 1 - lambd * eta
        p -= eta * g
        if mu != 1:
            ax += (p - ax) * mu
        else:
            assign(ax, p)
        state["eta"]._data = xp.asarray(lr / ((1 + lambd * lr * step) ** group["alpha"]), dtype=xp.float32)
        state["mu"]._data = xp.asarray(1 / max(1, step - group["t0"]), dtype=xp.float32)
