"""gradcheck / gradgradcheck: compare autograd's gradients with central finite differences."""
from __future__ import annotations

import numpy as np


class GradcheckError(RuntimeError):
    """Raised when analytical and numerical gradients disagree."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _diff_inputs(inputs):
    from .._tensor import Tensor
    return [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]


def _outputs(func, inputs):
    from .._tensor import Tensor
    return [o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor) and o.is_floating_point()]


def _numerical(func, inputs, idx, eps):
    """Jacobian blocks d out_j / d in_i by central differences, each of shape (in numel, out numel)."""
    from .._tensor import Tensor
    # leaves with the inputs' requires_grad, so that a func that itself differentiates still can
    base = [t.detach().clone().requires_grad_(t.requires_grad) if isinstance(t, Tensor) else t for t in inputs]
    outs = _outputs(func, base)
    jac = {}
    for i in idx:
        x = base[i]._data
        flat = x.reshape(-1)
        cols = []
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            plus = [o._data.astype(np.float64).reshape(-1) for o in _outputs(func, base)]
            flat[k] = orig - eps
            minus = [o._data.astype(np.float64).reshape(-1) for o in _outputs(func, base)]
            flat[k] = orig
            cols.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
        for j, o in enumerate(outs):
            jac[i, j] = np.array([c[j] for c in cols]).reshape(flat.size, o.numel())
    return jac, outs


def _analytical(func, inputs, idx, outs_meta):
    """Jacobian blocks from vector-Jacobian products with unit vectors."""
    from .._tensor import Tensor
    from . import grad as autograd_grad
    jac = {}
    outs = _outputs(func, inputs)
    for j, o in enumerate(outs):
        n_out = o.numel()
        for i in idx:
            jac[i, j] = np.zeros((inputs[i].numel(), n_out))
        if not o.requires_grad:
            continue
        for m in range(n_out):
            go = np.zeros(o._data.size, dtype=o._data.dtype)
            go[m] = 1
            gs = autograd_grad([o], [inputs[i] for i in idx], [Tensor._make(go.reshape(o._data.shape))],
                               retain_graph=True, allow_unused=True)
            for i, g in zip(idx, gs):
                if g is not None:
                    jac[i, j][:, m] = g._data.astype(np.float64).reshape(-1)
    return jac


def _forward(func, inputs, idx):
    """Jacobian blocks from forward-mode AD: one pass per input element, with a unit tangent."""
    from .._tensor import Tensor
    from . import forward_ad as fw
    jac = {}
    for i in idx:
        x = inputs[i]
        for k in range(x.numel()):
            tangent = np.zeros(x._data.size, dtype=x._data.dtype)
            tangent[k] = 1
            with fw.dual_level():
                args = list(inputs)
                # (still requiring grad: gradgradcheck's forward-over-reverse differentiates func inside)
                args[i] = fw.make_dual(x.detach().requires_grad_(), Tensor._make(tangent.reshape(x._data.shape)))
                for j, o in enumerate(_outputs(func, args)):
                    block = jac.setdefault((i, j), np.zeros((x.numel(), o.numel())))
                    t = fw.unpack_dual(o).tangent
                    if t is not None:
                        block[k] = t._data.astype(np.float64).reshape(-1)
    return jac


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0, check_undefined_grad: bool = True,
              check_grad_dtypes: bool = False, check_batched_grad: bool = False,
              check_batched_forward_grad: bool = False, check_forward_ad: bool = False,
              check_backward_ad: bool = True, fast_mode: bool = False, masked=None) -> bool:
    """True if ``func``'s gradients w.r.t. its ``requires_grad`` inputs (by backward, and by forward-mode AD with
    ``check_forward_ad``) match finite differences. (The batched checks are accepted and not run.)"""
    if not (check_forward_ad or check_backward_ad):
        raise AssertionError("Expected at least one of check_forward_ad or check_backward_ad to be True")
    if check_batched_grad and not check_backward_ad:
        raise AssertionError("Setting check_batched_grad=True requires check_backward_ad to be True")
    if check_batched_forward_grad and not check_forward_ad:
        raise AssertionError("Setting check_batched_forward_grad=True requires check_forward_ad to be True")
    inputs = _as_tuple(inputs)
    idx = _diff_inputs(inputs)
    if not idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of them "
                         "have requires_grad=True.")
    for i in idx:
        if inputs[i].dtype.name != "float64":
            import warnings
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point. This check "
                          "will likely fail if all the inputs are not of double precision floating point. ")
    num, outs = _numerical(func, inputs, idx, eps)
    checks = [("", _analytical(func, inputs, idx, outs))] if check_backward_ad else []
    if check_forward_ad:
        checks.append(("computed with forward mode ", _forward(func, inputs, idx)))
    for mode, jac in checks:
        for key, n in num.items():
            a = jac.get(key, np.zeros_like(n))
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                if raise_exception:
                    raise GradcheckError(f"Jacobian {mode}mismatch for output {key[1]} with respect to input "
                                         f"{key[0]},\nnumerical:{n}\nanalytical:{a}\n")
                return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True, nondet_tol: float = 0.0,
                  check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
                  check_batched_grad: bool = False, check_fwd_over_rev: bool = False,
                  check_rev_over_rev: bool = True, fast_mode: bool = False, masked: bool = False) -> bool:
    """True if the gradients of ``func``'s gradients match finite differences (second order)."""
    if not (check_fwd_over_rev or check_rev_over_rev):
        raise AssertionError("Expected at least one of check_fwd_over_rev or check_rev_over_rev to be True")
    if check_undefined_grad and not check_rev_over_rev:
        raise AssertionError("Setting check_undefined_grad=True requires check_rev_over_rev to be True")
    if check_batched_grad and not check_rev_over_rev:
        raise AssertionError("Setting check_batched_grad=True requires check_rev_over_rev to be True")
    from .._tensor import Tensor
    from . import grad as autograd_grad
    inputs = _as_tuple(inputs)
    idx = _diff_inputs(inputs)
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(Tensor._make(rng.standard_normal(o._data.shape).astype(o._data.dtype))
                             .requires_grad_() for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)

    def first_grads(*args):
        xs, gos = args[:n_in], args[n_in:]
        os_ = _outputs(func, xs)
        pairs = [(o, g) for o, g in zip(os_, gos) if o.requires_grad]
        diff = [xs[i] for i in idx]
        if not pairs:
            return tuple(Tensor._make(np.zeros_like(x._data)) for x in diff)
        gs = autograd_grad([o for o, _ in pairs], diff, [g for _, g in pairs], create_graph=True,
                           allow_unused=True)
        return tuple(g if g is not None else (x * 0) for g, x in zip(gs, diff))

    return gradcheck(first_grads, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, check_forward_ad=check_fwd_over_rev,
                     check_backward_ad=check_rev_over_rev)
