"""Recurrent layers: RNN, LSTM and GRU (multi-layer, bidirectional) and their single-step cells.

Parameter names, shapes, gate order and initialisation follow torch, so state dicts
load across the two libraries.

Speed: a recurrent layer is a loop over time steps, so per-step Python overhead
dominates small models. The input projections of every step are computed with one
matmul per direction before the loop, and the loop itself is one fused op per layer, its
directions stepping together (``_GRUScan``, ``_LSTMScan``, ``_RNNScan``): its forward runs
the recurrence on arrays and saves the gates; its backward runs the reverse recurrence on
arrays and turns the per-step gate gradients into weight gradients with one matmul. Under
``create_graph=True`` the backward instead recomputes the layer with ember ops (the
same cells the *Cell modules use) and differentiates that, so higher-order gradients
still work. (A wavefront across a multi-layer LSTM's layers on two threads was measured slower than this,
layer by layer: 19.5 against 17.9 ms fwd+bwd on an idle 2-core machine, the threads' GIL hand-offs.)
"""
from __future__ import annotations

import contextlib
import math
import numbers
import warnings

import numpy as np

from ... import _backend
from ..._tensor import Tensor
from ..._ops.elementwise import where
from ..._ops.shape import cat, stack
from ..._factories import empty, zeros
from ...autograd import grad as _autograd_grad
from ...autograd.function import Op
from ...autograd.grad_mode import enable_grad, state
from .. import init
from .._functional import basic as F
from ..parameter import Parameter
from ..utils.rnn import PackedSequence, _pack_like, pad_packed_sequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


# ------------------------------------------------------------------ cells written with ember ops
def _rnn_cell(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, relu: bool) -> Tensor:
    """One Elman step from the input projection ``gi`` (bias included)."""
    pre = gi + F.linear(h, w_hh, b_hh)
    return pre.relu() if relu else pre.tanh()


def _lstm_cell(gi: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh: Tensor | None,
               w_hr: Tensor | None) -> tuple[Tensor, Tensor]:
    """One LSTM step, gates in torch's order i, f, g, o."""
    i, f, g, o = (gi + F.linear(h, w_hh, b_hh)).chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    return (h if w_hr is None else F.linear(h, w_hr)), c


def _gru_cell(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """One GRU step, gates r, z, n with ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``."""
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return n + z * (h - n)


def _one_blas_thread(work: int):
    """BLAS held to one thread around a loop of products of ``work`` multiply-adds each, when that is too little
    to pay for its threads (as ``ember._backend.matmul`` decides per product): waking them every step costs more
    than they save, most of all on a busy machine."""
    if _backend._blas is None or work >= _backend.BLAS_THREADED:
        return contextlib.nullcontext()
    return _backend._single_blas()


def _steps(T: int, reverse: bool) -> range:
    """Time indices in the order a direction visits them."""
    return range(T - 1, -1, -1) if reverse else range(T)


# ------------------------------------------------------------------ fused scans
# A scan's arrays are laid out (step, direction, batch, features) in *scan order*: the reverse direction's
# step s is the sequence's step T-1-s. Both directions then take their steps together, each step one
# batched product and one NumPy call per elementwise pass, on contiguous slices.
def _in_order(a: np.ndarray, d: int) -> np.ndarray:
    """Time-major ``a`` as direction ``d`` visits it, as rows ``(T * B, features)``."""
    return (a if d == 0 else a[::-1]).reshape(-1, a.shape[-1])


def _to_scan(a, D: int, batch_first: bool):
    """An output-shaped array ``(T, B, D * H)`` (``(B, T, D * H)`` batch first) in scan order ``(T, D, B, H)``."""
    if a is None:
        return None
    at = a.swapaxes(0, 1) if batch_first else a
    if D == 1:
        return at[:, None]
    T, B, H = at.shape[0], at.shape[1], at.shape[2] // 2
    s = np.empty((T, 2, B, H), a.dtype)
    s[:, 0] = at[..., :H]
    s[:, 1] = at[::-1, :, H:]
    return s


def _from_scan(s: np.ndarray, batch_first: bool) -> np.ndarray:
    """The layer's output from its scan-order states: the directions side by side, in time order."""
    T, D, B, H = s.shape
    if D == 1:
        return s[:, 0].swapaxes(0, 1) if batch_first else s[:, 0]
    out = np.empty((B, T, 2 * H) if batch_first else (T, B, 2 * H), s.dtype)
    ot = out.swapaxes(0, 1) if batch_first else out
    ot[..., :H] = s[:, 0]
    ot[..., H:] = s[::-1, 1]
    return out


def _stack(dirs: list, k: int):
    """Hidden weight ``k`` of every direction as one ``(D, ...)`` array (None when absent)."""
    ws = [hidden[k] for _, _, hidden in dirs]
    if ws[0] is None:
        return None
    return ws[0][None] if len(ws) == 1 else np.stack(ws)


def _fold(dirs: list, scale: np.ndarray, hh_bias: np.ndarray | None) -> tuple:
    """Per direction, the input weights with their rows scaled by ``scale`` and the bias the input
    projections take (``b_ih`` plus ``hh_bias`` times ``b_hh``, scaled); and the stacked recurrent weights,
    rows scaled, transposed for ``h @ w``. Scales are powers of two: the products stay exact."""
    w_in, b_in = [], []
    for w_ih, b_ih, (w_hh, b_hh, *_) in dirs:
        w_in.append(w_ih * scale[:, None])
        b_in.append(None if b_ih is None else (b_ih + b_hh * hh_bias) * scale)
    # a contiguous copy, not the transposed view: OpenBLAS's small (batch x H) @ (H x G) step product runs
    # ~1.7x slower on the view (AVX-512 SkylakeX kernels, B=20, H=128: 39 us vs 23 us)
    return w_in, b_in, np.ascontiguousarray((_stack(dirs, 0) * scale[:, None]).swapaxes(-1, -2))


def _sigmoid_scale(G: int, H: int, sigmoid: tuple, dtype) -> np.ndarray:
    """0.5 on the rows of the gates in ``sigmoid`` (indices of H-row blocks), 1 elsewhere: with those
    pre-activations halved, ``sigmoid(z) = tanh(z / 2) / 2 + 1/2`` (one transcendental, no overflow)."""
    scale = np.ones(G, dtype)
    for k in sigmoid:
        scale[k * H:(k + 1) * H] = 0.5
    return scale


def _prev_times(ufunc, y: np.ndarray, h0: np.ndarray, other: np.ndarray, out: np.ndarray) -> None:
    """``out = ufunc(previous states, other)`` for every step (scan order)."""
    ufunc(y[:-1], other[1:], out=out[1:])
    ufunc(h0, other[0], out=out[0])


def _hh_grads(dgh: np.ndarray, y: np.ndarray, h0: np.ndarray, bias: bool) -> tuple:
    """Gradients of every direction's ``W_hh`` and ``b_hh`` from each step's pre-activation gradient."""
    T, D, B, G = dgh.shape
    dw = np.empty((D, G, y.shape[-1]), dgh.dtype)
    for d in range(D):
        np.dot(dgh[1:, d].reshape(-1, G).T, y[:-1, d].reshape(-1, y.shape[-1]), out=dw[d])
        if h0[d].any():  # (zero initial states, the default, add nothing)
            dw[d] += np.dot(dgh[0, d].T, h0[d])
    return dw, dgh.sum((0, 2)) if bias else None


def _graph_grads(outs: tuple, gouts: tuple, inputs: tuple, needs: tuple) -> tuple:
    """The gradients of ``outs`` (given ``gouts``, None where unused) wrt the ``inputs`` that ``needs``, recorded."""
    used = [(o, g) for o, g in zip(outs, gouts) if g is not None]
    wrt = [t for t, need in zip(inputs, needs) if need]
    got = iter(_autograd_grad([o for o, _ in used], wrt, [g for _, g in used], create_graph=True, allow_unused=True))
    return tuple(next(got) if need else None for need in needs)


class _Scan(Op):
    """One recurrent layer, all its directions, over a whole sequence, as one op.

    ``apply(x, *initial states, *weights of each direction, *cell flags, batch_first, directions)``:
    a state is ``(directions, batch, size)``; a direction's weights are ``w_ih, b_ih`` and the subclass's
    ``n_hidden`` recurrent ones. Forward projects every step's input with one product per direction
    (folding in what of the recurrent bias it can), then runs the subclass's ``scan`` on the scan-order
    arrays; it returns ``(y, *final states, *scratch)``, the scratch arrays (gates) being outputs only
    so that ``setup_context`` can save them. Subclasses give ``cell`` (the ember-op step, recomputed under
    ``create_graph``), ``n_states``, ``n_hidden``, ``n_cell_flags``, ``prepare``, ``scan`` and
    ``scan_backward``; ``same_gate_grads`` when the input and recurrent pre-activations are summed as they
    are (their gradients, and so the two biases', are one).
    """

    n_states = 1
    n_hidden = 2
    n_cell_flags = 0
    same_gate_grads = True

    @classmethod
    def run(cls, x: Tensor, states: list, weights: list, flags: tuple) -> tuple:
        """``(y, *final states)`` of the layer; ``flags`` are the cell flags, batch_first and the directions."""
        return cls.apply(x, *states, *weights, *flags)[:1 + cls.n_states]

    @classmethod
    def _split(cls, args) -> tuple:
        """``(x, states, [(w_ih, b_ih, hidden weights)] per direction, cell flags, batch_first, directions)``."""
        D, k, per = args[-1], 1 + cls.n_states, 2 + cls.n_hidden
        end = k + D * per
        dirs = [(args[j], args[j + 1], tuple(args[j + 2:j + per])) for j in range(k, end, per)]
        return args[0], args[1:k], dirs, args[end:end + cls.n_cell_flags], args[-2], D

    @classmethod
    def forward(cls, *args):
        x, states, dirs, cell_flags, batch_first, D = cls._split(args)
        # work time-major and contiguous (batch_first output is a transposed view): the loop reads whole steps
        xt = x.swapaxes(0, 1) if batch_first else x
        T, B = xt.shape[:2]
        w_in, b_in, hidden = cls.prepare(dirs)
        G = w_in[0].shape[0]
        gi = np.empty((T, D, B, G), x.dtype) if D > 1 else None
        for d in range(D):
            p = np.dot(_in_order(xt, d), w_in[d].T).reshape(T, B, G)  # np.dot: np.matmul is 10x slower for input 1
            if D == 1:
                gi = p[:, None]
                if b_in[0] is not None:
                    gi += b_in[0]
            elif b_in[d] is None:
                gi[:, d] = p
            else:
                np.add(p, b_in[d], out=gi[:, d])
        y = np.empty((T, D, B, states[0].shape[-1]), x.dtype)
        finals_and_scratch = cls.scan(gi, y, *states, *hidden, *cell_flags)
        return (_from_scan(y, batch_first), *finals_and_scratch)

    @classmethod
    def setup_context(cls, ctx, inputs, output) -> None:
        ctx.n_in = len(inputs) - cls.n_cell_flags - 2
        ctx.flags = inputs[ctx.n_in:]
        ctx._out_data = output[0]  # y: read in backward, guarded against in-place change like a saved output
        ctx.set_materialize_grads(False)  # unused outputs cost no zero arrays
        ctx.save_for_backward(*inputs[:ctx.n_in], *[Tensor._make(a) for a in output[1 + cls.n_states:]])

    @classmethod
    def backward(cls, ctx, gy, *grads):
        saved = ctx.saved_tensors
        inputs, scratch = saved[:ctx.n_in], [t._data for t in saved[ctx.n_in:]]
        needs = ctx.needs_input_grad[:ctx.n_in]
        gouts = (gy, *grads[:cls.n_states])
        if state.enabled:
            return cls._recompute_grads(ctx, inputs, gouts, needs)
        arrays = [None if t is None else t._data for t in inputs]
        x, states, dirs, cell_flags, batch_first, D = cls._split(arrays + list(ctx.flags))
        garrays = [None if g is None else g._data for g in gouts]
        dgi, *rest = cls.scan_backward(states, dirs, cell_flags, scratch, _to_scan(ctx.output._data, D, batch_first),
                                       _to_scan(garrays[0], D, batch_first), garrays[1:])
        ns = cls.n_states
        dstates, dhidden = rest[:ns], rest[ns:]
        xt = x.swapaxes(0, 1) if batch_first else x
        T, B, G = dgi.shape[0], dgi.shape[2], dgi.shape[3]
        dx = None
        if needs[0]:
            for d, (w_ih, _, _) in enumerate(dirs):
                part = np.dot(dgi[:, d].reshape(-1, G), w_ih).reshape(xt.shape)
                if d == 0:
                    dx = part
                else:
                    dx += part[::-1]
            dx = dx.swapaxes(0, 1) if batch_first else dx
        db_ih = None
        if dirs[0][1] is not None:
            # a copy: two parameters' grads must not share memory (clip_grad_norm_ scales each in place)
            db_ih = dhidden[1].copy() if cls.same_gate_grads else dgi.sum((0, 2))
        out = [dx, *dstates]
        for d in range(D):
            out += [np.dot(dgi[:, d].reshape(-1, G).T, _in_order(xt, d)), None if db_ih is None else db_ih[d],
                    *(None if g is None else g[d] for g in dhidden)]
        return tuple(Tensor._make(g) if need and g is not None else None for g, need in zip(out, needs))

    @classmethod
    def _recompute_grads(cls, ctx, inputs: tuple, gouts: tuple, needs: tuple) -> tuple:
        """Input gradients recorded as ember ops (``create_graph=True``), so they differentiate again."""
        x, states, dirs, cell_flags, batch_first, D = cls._split(inputs + ctx.flags)
        with enable_grad():
            ys, finals = [], [[] for _ in states]
            for d, (w_ih, b_ih, hidden) in enumerate(dirs):
                gi = F.linear(x, w_ih, b_ih)
                hs = tuple(s[d] for s in states)
                steps = [None] * gi.shape[1 if batch_first else 0]
                for t in _steps(len(steps), d == 1):
                    out = cls.cell(gi[:, t] if batch_first else gi[t], *hs, *hidden, *cell_flags)
                    hs = out if isinstance(out, tuple) else (out,)
                    steps[t] = hs[0]
                ys.append(stack(steps, 1 if batch_first else 0))
                for acc, h in zip(finals, hs):
                    acc.append(h)
            outs = (ys[0] if D == 1 else cat(ys, -1), *[stack(f) for f in finals])
        return _graph_grads(outs, gouts, inputs, needs)


class _RNNScan(_Scan):
    """Elman layer: ``apply(x, h0, *(w_ih, b_ih, w_hh, b_hh) per direction, relu, batch_first, directions)``."""

    n_cell_flags = 1
    cell = staticmethod(_rnn_cell)

    @staticmethod
    def prepare(dirs: list) -> tuple:
        one = np.ones(dirs[0][0].shape[0], dirs[0][0].dtype)
        w_in, b_in, w_t = _fold(dirs, one, one)
        return w_in, b_in, (w_t,)

    @staticmethod
    def scan(gi, y, h0, w_t, relu):
        h = h0
        with _one_blas_thread(h0.size * w_t.shape[-1]):
            for t in range(gi.shape[0]):
                ht = y[t]
                np.matmul(h, w_t, out=ht)
                ht += gi[t]
                np.maximum(ht, 0, out=ht) if relu else np.tanh(ht, out=ht)
                h = ht
        return (h.copy(),)

    @staticmethod
    def scan_backward(states, dirs, cell_flags, scratch, y, gy, gstates):
        (h0,), (relu,), (gh,) = states, cell_flags, gstates
        w_hh = _stack(dirs, 0)
        d = (y > 0).astype(y.dtype) if relu else 1 - y * y
        dpre = np.empty(y.shape, y.dtype)
        carry = np.zeros_like(h0) if gh is None else gh
        with _one_blas_thread(h0.size * w_hh.shape[-2]):
            for t in range(y.shape[0] - 1, -1, -1):
                dh = carry if gy is None else gy[t] + carry
                np.multiply(dh, d[t], out=dpre[t])
                carry = np.matmul(dpre[t], w_hh)
        return (dpre, carry, *_hh_grads(dpre, y, h0, dirs[0][1] is not None))


class _GRUScan(_Scan):
    """GRU layer: ``apply(x, h0, *(w_ih, b_ih, w_hh, b_hh) per direction, batch_first, directions)``.

    The r and z parts of ``b_hh`` join the input projections, halved with them and their rows of
    ``W_hh`` (the tanh form of the sigmoid). Saves r and z, n and ``W_hn h + b_hn`` of every step.
    Buffers are few and written in place: fresh memory costs page faults that would otherwise rival
    the arithmetic.
    """

    cell = staticmethod(_gru_cell)
    same_gate_grads = False

    @staticmethod
    def prepare(dirs: list) -> tuple:
        G = dirs[0][0].shape[0]
        H = G // 3
        dtype = dirs[0][0].dtype
        rz = np.ones(G, dtype)
        rz[2 * H:] = 0
        w_in, b_in, w_t = _fold(dirs, _sigmoid_scale(G, H, (0, 1), dtype), rz)
        b_hn = _stack(dirs, 1)
        b_hn = np.zeros((len(dirs), 1, H), dtype) if b_hn is None else b_hn[:, None, 2 * H:]
        return w_in, b_in, (w_t, b_hn)

    @staticmethod
    def scan(gi, y, h0, w_t, b_hn):
        T, D, B, G = gi.shape
        H = G // 3
        rz = np.empty((T, D, B, 2 * H), gi.dtype)
        n, ghn = np.empty((T, D, B, H), gi.dtype), np.empty((T, D, B, H), gi.dtype)
        gh = np.empty((D, B, G), gi.dtype)
        h = h0
        with _one_blas_thread(B * H * G):
            for t in range(T):
                a, nt, ht, git, hn = rz[t], n[t], y[t], gi[t], ghn[t]
                np.matmul(h, w_t, out=gh)
                np.add(gh[..., 2 * H:], b_hn, out=hn)
                np.add(git[..., :2 * H], gh[..., :2 * H], out=a)
                np.tanh(a, out=a)
                a *= 0.5
                a += 0.5
                np.multiply(a[..., :H], hn, out=nt)
                nt += git[..., 2 * H:]
                np.tanh(nt, out=nt)
                np.subtract(h, nt, out=ht)
                ht *= a[..., H:]
                ht += nt
                h = ht
        return h.copy(), rz, n, ghn

    @staticmethod
    def scan_backward(states, dirs, cell_flags, scratch, y, gy, gstates):
        (h0,), (gh_n,) = states, gstates
        w_hh = _stack(dirs, 0)
        rz, n, ghn = scratch
        T, D, B, H = n.shape
        r, z = rz[..., :H], rz[..., H:]
        # d(W_hh h + b_hh)/dh for all steps at once, so that each step is one multiply
        dn_dh = 1 - n * n
        dn_dh *= 1 - z
        dgh = np.empty((T, D, B, 3 * H), n.dtype)
        d_r, d_z, d_n = dgh[..., :H], dgh[..., H:2 * H], dgh[..., 2 * H:]
        np.subtract(1, r, out=d_r)
        d_r *= r
        d_r *= ghn
        d_r *= dn_dh
        _prev_times(np.subtract, y, h0, n, d_z)
        d_z *= z
        d_z *= 1 - z
        np.multiply(r, dn_dh, out=d_n)
        dhs = np.empty_like(n)
        carry = np.zeros_like(h0) if gh_n is None else gh_n
        with _one_blas_thread(B * H * 3 * H):
            for t in range(T - 1, -1, -1):
                dh = dhs[t]
                np.add(carry, 0 if gy is None else gy[t], out=dh)
                dgh[t].reshape(D, B, 3, H).__imul__(dh.reshape(D, B, 1, H))
                carry = dh * z[t]
                carry += np.matmul(dgh[t], w_hh)
        dw_hh, db_hh = _hh_grads(dgh, y, h0, dirs[0][1] is not None)
        np.multiply(dhs, dn_dh, out=d_n)  # dgh becomes dgi: same r and z parts, n without the factor r
        return (dgh, carry, dw_hh, db_hh)


class _LSTMScan(_Scan):
    """LSTM layer: ``apply(x, h0, c0, *(w_ih, b_ih, w_hh, b_hh, w_hr) per direction, batch_first, directions)``.

    ``b_hh`` joins the input projections; the i, f and o pre-activations are halved (in those and in a copy
    of ``W_hh``; exact, a power of two), so that a step activates its four gates with one tanh and one
    multiply-add. Saves the activated gates, the cells and their tanh of every step.
    """

    n_states = 2
    n_hidden = 3
    cell = staticmethod(_lstm_cell)

    @staticmethod
    def prepare(dirs: list) -> tuple:
        G, dtype = dirs[0][0].shape[0], dirs[0][0].dtype
        scale = _sigmoid_scale(G, G // 4, (0, 1, 3), dtype)
        w_in, b_in, w_t = _fold(dirs, scale, np.ones(G, dtype))
        w_hr = _stack(dirs, 2)
        return w_in, b_in, (w_t, None if w_hr is None else w_hr.swapaxes(-1, -2), scale)

    @staticmethod
    def scan(gi, y, h0, c0, w_t, w_hr_t, scale):
        cs = np.empty(y.shape[:-1] + (gi.shape[-1] // 4,), gi.dtype)
        tcs = np.empty_like(cs)
        hfull = y if w_hr_t is None else np.empty_like(cs)
        with _one_blas_thread(h0.size * gi.shape[-1]):
            h, c = _lstm_steps(gi, y, cs, tcs, hfull, h0, c0, w_t, w_hr_t, scale)
        return (h.copy(), c.copy(), gi, cs, tcs) + (() if w_hr_t is None else (hfull,))

    @staticmethod
    def scan_backward(states, dirs, cell_flags, scratch, y, gy, gstates):
        (h0, c0), (gh_n, gc_n) = states, gstates
        w_hh, w_hr = _stack(dirs, 0), _stack(dirs, 2)
        gates, cs, tcs = scratch[:3]
        dgates = np.empty_like(gates)
        dhs = None if w_hr is None else np.empty(y.shape, y.dtype)
        carry_h = np.zeros_like(h0) if gh_n is None else gh_n
        carry_c = np.zeros_like(c0) if gc_n is None else gc_n
        with _one_blas_thread(h0.size * gates.shape[-1]):
            carry_h, carry_c = _lstm_steps_backward(gates, cs, tcs, c0, gy, dgates, dhs, carry_h, carry_c, w_hh, w_hr)
        dw_hh, db_hh = _hh_grads(dgates, y, h0, dirs[0][1] is not None)
        dw_hr = None
        if w_hr is not None:
            hfull, (T, D, B, H) = scratch[3], cs.shape
            dw_hr = np.stack([np.dot(dhs[:, d].reshape(-1, y.shape[-1]).T, hfull[:, d].reshape(-1, H))
                              for d in range(D)])
        return dgates, carry_h, carry_c, dw_hh, db_hh, dw_hr


def _lstm_steps(gates, y, cs, tcs, hfull, h, c, w_t, w_hr_t, scale) -> tuple:
    """The LSTM's steps over a stretch of a scan from states ``h, c``: ``gates`` holds the steps' input
    projections (sigmoid rows halved) and is activated in place; ``cs``, ``tcs``, ``hfull`` and ``y`` are
    written. Returns the last step's states (views into ``y`` and ``cs``)."""
    H = gates.shape[-1] // 4
    shift = 1 - scale
    g_hh = np.empty(gates.shape[1:], gates.dtype)
    for t in range(gates.shape[0]):
        g, ct, hf = gates[t], cs[t], hfull[t]
        if t or h.any():  # (zero initial states, the default, need no product)
            np.matmul(h, w_t, out=g_hh)
            g += g_hh
        np.tanh(g, out=g)
        g *= scale
        g += shift
        np.multiply(g[..., H:2 * H], c, out=ct)
        ct += g[..., :H] * g[..., 2 * H:3 * H]
        np.tanh(ct, out=tcs[t])
        np.multiply(g[..., 3 * H:], tcs[t], out=hf)
        if w_hr_t is not None:
            np.matmul(hf, w_hr_t, out=y[t])
        h, c = y[t], ct
    return h, c


def _lstm_steps_backward(gates, cs, tcs, c0, gy, dgates, dhs, carry_h, carry_c, w_hh, w_hr) -> tuple:
    """The reverse of ``_lstm_steps`` over the same stretch: writes each step's gate gradients into ``dgates``
    (and the projected states' gradients into ``dhs`` when ``w_hr`` is given) from the outputs' gradients
    ``gy`` (None: zero) and the gradients ``carry_h, carry_c`` reaching the stretch's last step from later;
    ``c0`` is the cell state before the stretch. Returns the gradients of the states before it."""
    T, D, B, H = cs.shape
    i, f, g, o = (gates[..., k * H:(k + 1) * H] for k in range(4))
    # the step-independent factors of the gate gradients, for all steps at once; those of i, f and g
    # (d gate / d c) side by side, so that a step scales all three by dc in one multiply
    dc_dh = tcs * tcs
    np.subtract(1, dc_dh, out=dc_dh)
    dc_dh *= o
    do_dh = 1 - o
    do_dh *= o
    do_dh *= tcs
    dc_ifg = np.empty((T, D, B, 3, H), cs.dtype)
    u = dc_ifg[..., 0, :]
    np.subtract(1, i, out=u)
    u *= i
    u *= g
    u = dc_ifg[..., 1, :]
    _prev_times(np.multiply, cs, c0, f, u)
    u *= 1 - f
    u = dc_ifg[..., 2, :]
    np.multiply(g, g, out=u)
    np.subtract(1, u, out=u)
    u *= i
    d4 = dgates.reshape(T, D, B, 4, H)
    for t in range(T - 1, -1, -1):
        dh = carry_h if gy is None else gy[t] + carry_h
        if w_hr is not None:
            dhs[t] = dh
            dh = np.matmul(dh, w_hr)
        np.multiply(dh, do_dh[t], out=d4[t, ..., 3, :])
        dc = dh * dc_dh[t]
        dc += carry_c
        np.multiply(dc[..., None, :], dc_ifg[t], out=d4[t, ..., :3, :])
        carry_c = dc * f[t]
        carry_h = np.matmul(dgates[t], w_hh)
    return carry_h, carry_c


# ------------------------------------------------------------------ modules
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    """The shared machinery of RNN, LSTM and GRU: parameters, checks, layers and directions.

    Args:
        mode: ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or ``"GRU"``.
        input_size: features of the input.
        hidden_size: features of the hidden state.
        num_layers: stacked recurrent layers. Default: 1.
        bias: whether the layers have ``bias_ih`` and ``bias_hh``. Default: True.
        batch_first: inputs and outputs are ``(N, L, *)`` instead of ``(L, N, *)``. Default: False.
        dropout: dropout on the outputs of every layer but the last, in training. Default: 0.
        bidirectional: run a second, reversed direction per layer. Default: False.
        proj_size: LSTM only: project the hidden state to this size. Default: 0 (no projection).
    """

    _scan = None

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None) -> None:
        super().__init__()
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}")
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        for flag, value in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(value, bool):
                raise TypeError(f"{flag} should be of type bool, got: {type(value).__name__}")
        if not isinstance(input_size, int) or isinstance(input_size, bool):
            raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        out_size = proj_size or hidden_size
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            for suffix in ("", "_reverse")[:directions]:
                layer_in = input_size if layer == 0 else out_size * directions
                shapes = {"weight_ih": (gate_size, layer_in), "weight_hh": (gate_size, out_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for kind, shape in shapes.items():
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(empty(*shape, dtype=dtype)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as torch."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -bound, bound)

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, name) for name in self._flat_weights_names]

    def flatten_parameters(self) -> None:
        """Nothing to do: torch packs the weights into one cuDNN buffer here; ember has no such buffer."""

    @property
    def all_weights(self) -> list:
        """The parameters grouped per layer and direction, in torch's order."""
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional else 1))
        w = self._flat_weights
        return [w[k:k + per] for k in range(0, len(w), per)]

    def _weights(self, layer: int, suffix: str) -> tuple:
        """``(w_ih, b_ih, w_hh, b_hh, w_hr)`` of one layer and direction, None where absent."""
        get = lambda kind: getattr(self, f"{kind}_l{layer}{suffix}", None)  # noqa: E731
        return get("weight_ih"), get("bias_ih"), get("weight_hh"), get("bias_hh"), get("weight_hr")

    def _state_sizes(self) -> tuple:
        return (self.proj_size or self.hidden_size,)

    def _check_input(self, input: Tensor) -> bool:
        """Validate ``input``; True when it is batched (3-D)."""
        if input.dim() not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got {input.dim()}D instead")
        w = self._flat_weights[0] if getattr(self, "_flat_weights", None) else next(iter(self.parameters()), None)
        if w is not None and input.dtype != w.dtype:
            raise ValueError(f"{type(self).__name__} input dtype ({input.dtype}) does not match weight dtype "
                             f"({w.dtype}). Convert input: input.to({w.dtype}), or convert model: "
                             f"model.to({input.dtype})")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.shape[-1]}")
        return input.dim() == 3

    def _states(self, hx, batched: bool, batch: int, input: Tensor) -> list:
        """The initial states as 3-D tensors (zeros when ``hx`` is None), checked against torch's rules."""
        sizes = self._state_sizes()
        lead = self.num_layers * (2 if self.bidirectional else 1)
        if hx is None:
            return [zeros(lead, batch, s, dtype=input.dtype) for s in sizes]
        states = list(hx) if isinstance(hx, (tuple, list)) else [hx]
        want = 3 if batched else 2
        if any(s.dim() != want for s in states):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            if len(states) == 1:
                raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got {states[0].dim()}-D tensor")
            raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                               f"({states[0].dim()}-D, {states[1].dim()}-D) tensors")
        if not batched:
            states = [s.unsqueeze(1) for s in states]
        for k, (s, size) in enumerate(zip(states, sizes)):
            expected = (lead, batch, size)
            if tuple(s.shape) != expected:
                which = "hidden" if len(sizes) == 1 else f"hidden[{k}]"
                raise RuntimeError(f"Expected {which} size {expected}, got {list(s.shape)}")
        return states

    def _flags(self) -> tuple:
        return ()

    def forward(self, input: Tensor, hx=None):
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        batched = self._check_input(input)
        batch_first = batched and self.batch_first
        if not batched:
            input = input.unsqueeze(1)
        if input.shape[1 if batch_first else 0] == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        states = self._states(hx, batched, input.shape[0 if batch_first else 1], input)
        directions = 2 if self.bidirectional else 1
        finals = [[] for _ in states]
        x = input
        for layer in range(self.num_layers):
            weights = []
            for suffix in ("", "_reverse")[:directions]:
                w_ih, b_ih, w_hh, b_hh, w_hr = self._weights(layer, suffix)
                weights += (w_ih, b_ih, w_hh, b_hh) + ((w_hr,) if self.mode == "LSTM" else ())
            lo = layer * directions
            x, *ends = self._scan.run(x, [s[lo:lo + directions] for s in states], weights,
                                      self._flags() + (batch_first, directions))
            for acc, e in zip(finals, ends):
                acc.append(e)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        finals = [f[0] if len(f) == 1 else cat(f) for f in finals]
        if not batched:
            x, finals = x.squeeze(1), [f.squeeze(1) for f in finals]
        return x, (finals[0] if len(finals) == 1 else tuple(finals))

    def _forward_packed(self, input: PackedSequence, hx) -> tuple:
        """A packed batch, step by step with ember ops on the padded batch: a sequence's states stop changing
        past its length, so its final states are the ones at its own end, and the reverse direction starts
        there from the initial state."""
        x, lengths = pad_packed_sequence(input)  # time-major, original batch order (as hx)
        self._check_input(x)
        states = self._states(hx, True, x.shape[1], x)
        running = [Tensor._make(t < lengths.numpy()[:, None]) for t in range(x.shape[0])]
        directions = 2 if self.bidirectional else 1
        finals = [[] for _ in states]
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:directions]):
                w_ih, b_ih, w_hh, b_hh, w_hr = self._weights(layer, suffix)
                hidden = (w_hh, b_hh) if self.mode != "LSTM" else (w_hh, b_hh, w_hr)
                hs = [s[layer * directions + d] for s in states]
                gi = F.linear(x, w_ih, b_ih)
                ys = [None] * x.shape[0]
                for t in _steps(len(ys), d == 1):
                    new = self._scan.cell(gi[t], *hs, *hidden, *self._flags())
                    new = new if isinstance(new, tuple) else (new,)
                    hs = [where(running[t], n, h) for n, h in zip(new, hs)]
                    ys[t] = hs[0]
                outs.append(stack(ys))
                for acc, h in zip(finals, hs):
                    acc.append(h)
            x = outs[0] if directions == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        finals = [stack(f) for f in finals]
        return _pack_like(x, input), (finals[0] if len(finals) == 1 else tuple(finals))

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Multi-layer Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``, act tanh or relu.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: see ``RNNBase``.
        nonlinearity: ``"tanh"`` or ``"relu"``. Default: ``"tanh"``.

    Shape:
        - Input: ``(L, N, H_in)``, ``(N, L, H_in)`` with batch_first, or unbatched ``(L, H_in)``.
        - h_0: ``(D * num_layers, N, H)`` or ``(D * num_layers, H)``; zeros when omitted.
        - Output: ``(L, N, D * H)`` and h_n ``(D * num_layers, N, H)``, with D = 2 if bidirectional else 1.

    Example::

        >>> rnn = nn.RNN(10, 20, 2)
        >>> out, h = rnn(ember.randn(5, 3, 10))
        >>> out.shape, h.shape
        (ember.Size([5, 3, 20]), ember.Size([2, 3, 20]))
    """

    _scan = _RNNScan

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, proj_size, dtype=dtype)

    def _flags(self) -> tuple:
        return (self.nonlinearity == "relu",)


class LSTM(RNNBase):
    """Multi-layer LSTM, gates in torch's order (input, forget, cell, output).

    ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)`` (times ``W_hr^T`` when ``proj_size > 0``).

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size: see ``RNNBase``.

    Shape:
        - Input: ``(L, N, H_in)``, ``(N, L, H_in)`` with batch_first, or unbatched ``(L, H_in)``.
        - (h_0, c_0): ``(D * num_layers, N, H_out)`` and ``(D * num_layers, N, H)``; zeros when omitted.
        - Output: ``(L, N, D * H_out)`` and (h_n, c_n), with H_out = proj_size or hidden_size.

    Example::

        >>> lstm = nn.LSTM(10, 20, batch_first=True)
        >>> out, (h, c) = lstm(ember.randn(3, 5, 10))
        >>> out.shape, c.shape
        (ember.Size([3, 5, 20]), ember.Size([1, 3, 20]))
    """

    _scan = _LSTMScan

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, dtype=dtype)

    def _state_sizes(self) -> tuple:
        return (self.proj_size or self.hidden_size, self.hidden_size)


class GRU(RNNBase):
    """Multi-layer GRU, gates in torch's order (reset, update, new).

    ``n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))``, ``h_t = (1 - z_t) * n_t + z_t * h_{t-1}``.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: see ``RNNBase``.

    Shape:
        - Input: ``(L, N, H_in)``, ``(N, L, H_in)`` with batch_first, or unbatched ``(L, H_in)``.
        - h_0: ``(D * num_layers, N, H)``; zeros when omitted.
        - Output: ``(L, N, D * H)`` and h_n ``(D * num_layers, N, H)``.

    Example::

        >>> gru = nn.GRU(1, 6)
        >>> out, h = gru(ember.randn(40, 100, 1))
        >>> h.shape
        ember.Size([1, 100, 6])
    """

    _scan = _GRUScan

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, dtype=dtype)


class RNNCellBase(Module):
    """Parameters and input checks shared by the single-step cells."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(empty(num_chunks * hidden_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(empty(num_chunks * hidden_size, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    reset_parameters = RNNBase.reset_parameters

    def _prepare(self, input: Tensor, states: list) -> tuple:
        """Check the input and states; return them batched (2-D), zeros for missing states, and batchedness."""
        if input.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        for s in states:
            if s is not None and s.dim() not in (1, 2):
                raise ValueError(f"{type(self).__name__}: Expected hidden to be 1D or 2D, got {s.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} expected {self.input_size}")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
            states = [None if s is None else s.unsqueeze(0) for s in states]
        states = [zeros(input.shape[0], self.hidden_size, dtype=input.dtype) if s is None else s for s in states]
        for k, s in enumerate(states):
            if s.shape[0] != input.shape[0]:
                raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{k} batch size "
                                   f"{s.shape[0]}")
            if s.shape[-1] != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {s.shape[-1]}, expected "
                                   f"{self.hidden_size}")
        return F.linear(input, self.weight_ih, self.bias_ih), states, batched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """One Elman step: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Args:
        input_size: features of the input.
        hidden_size: features of the hidden state.
        bias: whether to use ``bias_ih`` and ``bias_hh``. Default: True.
        nonlinearity: ``"tanh"`` or ``"relu"``. Default: ``"tanh"``.

    Shape:
        - Input: ``(N, H_in)`` or ``(H_in,)``; hidden ``(N, H)`` or ``(H,)`` (zeros when omitted).
        - Output: ``(N, H)`` or ``(H,)``.

    Example::

        >>> cell = nn.RNNCell(10, 20)
        >>> cell(ember.randn(3, 10)).shape
        ember.Size([3, 20])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        gi, (h,), batched = self._prepare(input, [hx])
        h = _rnn_cell(gi, h, self.weight_hh, self.bias_hh, self.nonlinearity == "relu")
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step, gates in torch's order (input, forget, cell, output).

    Args:
        input_size: features of the input.
        hidden_size: features of the hidden and cell states.
        bias: whether to use ``bias_ih`` and ``bias_hh``. Default: True.

    Shape:
        - Input: ``(N, H_in)`` or ``(H_in,)``; (h, c) each ``(N, H)`` or ``(H,)`` (zeros when omitted).
        - Output: (h', c'), each ``(N, H)`` or ``(H,)``.

    Example::

        >>> cell = nn.LSTMCell(10, 20)
        >>> h, c = cell(ember.randn(3, 10))
        >>> c.shape
        ember.Size([3, 20])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, dtype=dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple[Tensor, Tensor]:
        gi, (h, c), batched = self._prepare(input, [None, None] if hx is None else list(hx))
        h, c = _lstm_cell(gi, h, c, self.weight_hh, self.bias_hh, None)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step, gates in torch's order (reset, update, new).

    Args:
        input_size: features of the input.
        hidden_size: features of the hidden state.
        bias: whether to use ``bias_ih`` and ``bias_hh``. Default: True.

    Shape:
        - Input: ``(N, H_in)`` or ``(H_in,)``; hidden ``(N, H)`` or ``(H,)`` (zeros when omitted).
        - Output: ``(N, H)`` or ``(H,)``.

    Example::

        >>> cell = nn.GRUCell(10, 20)
        >>> cell(ember.randn(3, 10)).shape
        ember.Size([3, 20])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        gi, (h,), batched = self._prepare(input, [hx])
        h = _gru_cell(gi, h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)
