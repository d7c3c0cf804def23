"""L-BFGS, following torch's algorithm (two-loop recursion, fixed step or strong-Wolfe line search)."""
from __future__ import annotations

from .._backend import xp

from .._tensor import Tensor
from ..autograd.grad_mode import enable_grad, no_grad
from .algorithms import check_lr
from .optimizer import Optimizer, scalar


class LBFGS(Optimizer):
    """Limited-memory BFGS over all parameters as one flat vector; ``step`` needs a closure."""

    def __init__(self, params, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        check_lr(lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise RuntimeError(f"only 'strong_wolfe' is supported as line_search_fn, got {line_search_fn!r}")
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _flat_grad(self) -> xp.ndarray:
        return xp.concatenate([xp.zeros(p._data.size, p._data.dtype) if p._grad is None
                               else _dense(p._grad).reshape(-1) for p in self._params])

    def _add(self, t: float, d: xp.ndarray) -> None:
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += (t * d[offset:offset + n]).reshape(p._data.shape).astype(p._data.dtype, copy=False)
            p._version += 1
            offset += n

    def _evaluate(self, closure, x, t, d):
        """Loss and flat gradient at x + t*d, restoring x afterwards (for the line search)."""
        self._add(t, d)
        with enable_grad():
            loss = float(closure())
        g = self._flat_grad()
        self._set(x)
        return loss, g

    def _set(self, x) -> None:
        for p, v in zip(self._params, x):
            p._data[...] = v

    @no_grad()
    def step(self, closure):
        """Run up to ``max_iter`` L-BFGS iterations; returns the loss first computed by ``closure``."""
        if closure is None:
            raise RuntimeError("LBFGS requires a closure that reevaluates the model and returns the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = scalar(group["lr"]), group["max_iter"], group["max_eval"]
        tol_grad, tol_change, history = group["tolerance_grad"], group["tolerance_change"], group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if xp.abs(flat_grad).max() <= tol_grad:
            return orig_loss

        # the state holds tensors, as torch's; the iteration works on their arrays
        d, t, h_diag, prev_flat_grad = (_array(state.get(k)) for k in ("d", "t", "H_diag", "prev_flat_grad"))
        old_dirs, old_stps, ro = ([_array(v) for v in state.get(k, [])] for k in ("old_dirs", "old_stps", "ro"))
        prev_loss = state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, h_diag = [], [], [], 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # keep only curvature pairs that preserve positive definiteness
                    if len(old_dirs) == history:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / y.dot(y)
                # two-loop recursion: d = -H grad
                al = state.setdefault("al", [None] * history)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q = q - al[i] * old_dirs[i]
                d = r = q * h_diag
                for i in range(len(old_dirs)):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r = r + (al[i] - be_i) * old_stps[i]
                d = r
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            if state["n_iter"] == 1:  # a float32 scalar when the gradient is large, as torch's tensor
                inv = 1.0 / xp.abs(flat_grad).sum()
                t = inv * lr if inv < 1.0 else lr
            else:
                t = lr
            gtd = float(flat_grad.dot(d))
            if gtd > -tol_change:
                break

            ls_evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                x0 = [p._data.copy() for p in self._params]
                loss, flat_grad, t, ls_evals = _strong_wolfe(
                    lambda tt: self._evaluate(closure, x0, tt, d), t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - current_evals)
                self._add(t, d)
                opt_cond = xp.abs(flat_grad).max() <= tol_grad
            else:
                self._add(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    with enable_grad():
                        loss = float(closure())
                    flat_grad = self._flat_grad()
                    opt_cond = xp.abs(flat_grad).max() <= tol_grad
                    ls_evals = 1
            current_evals += ls_evals
            state["func_evals"] += ls_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if xp.abs(d * t).max() <= tol_change or abs(loss - prev_loss) < tol_change:
                break

        if isinstance(group["lr"], Tensor):  # torch's step length is then a tensor too
            t = group["lr"] if t == lr else xp.asarray(t)
        state.update(d=_tensor(d), t=_tensor(t), old_dirs=[_tensor(v) for v in old_dirs],
                     old_stps=[_tensor(v) for v in old_stps], ro=[_tensor(v) for v in ro], H_diag=_tensor(h_diag),
                     prev_flat_grad=_tensor(prev_flat_grad), prev_loss=prev_loss)
        if "al" in state:
            state["al"] = [_tensor(v) for v in state["al"]]
        return orig_loss


def _array(v):
    """A state value for the iteration: a tensor's array, anything else as it is."""
    return v._data if isinstance(v, Tensor) else v


def _tensor(v):
    """An iteration value for the state: NumPy arrays and scalars as tensors, Python numbers and None as they are."""
    return Tensor._make(xp.asarray(v)) if isinstance(v, (xp.ndarray, xp.generic)) else v


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through two points with known values and slopes, clipped to bounds."""
    xmin_bound, xmax_bound = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = xp.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj, t, d, f, g, gtd, tol_change=1e-9, c1=1e-4, c2=0.9, max_ls=25):
    """Line search for a step satisfying the strong Wolfe conditions (bracketing, then zoom)."""
    d_norm = xp.abs(d).max()
    g = g.copy()
    f_new, g_new = obj(t)
    ls_evals = 1
    gtd_new = float(g_new.dot(d))
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()], \
                [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()], \
                [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj(t)
        ls_evals += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tol_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj(t)
        ls_evals += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos], bracket_g[high_pos], bracket_gtd[high_pos] = \
                t, f_new, g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos], bracket_g[high_pos], bracket_gtd[high_pos] = \
                    bracket[low_pos], bracket_f[low_pos], bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos], bracket_g[low_pos], bracket_gtd[low_pos] = \
                t, f_new, g_new.copy(), gtd_new
    t = bracket[low_pos]
    return bracket_f[low_pos], bracket_g[low_pos], t, ls_evals


def _dense(g) -> xp.ndarray:
    """A gradient's array; a sparse one (Embedding(sparse=True)) made dense, as torch's L-BFGS does."""
    return g._data if isinstance(g, Tensor) else g.to_dense()._data
