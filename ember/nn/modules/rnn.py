"""Recurrent layers: RNN, LSTM and GRU (multi-layer, bidirectional) and their single-step cells.

Parameter names, shapes, gate order and initialisation follow torch, so state dicts
load across the two libraries.

Speed: a recurrent layer is a loop over time steps, so per-step Python overhead
dominates small models. The input projections of every step are computed with one
matmul before the loop, and the loop itself is one fused op per layer and direction
(``_GRUScan``, ``_LSTMScan``, ``_RNNScan``): its forward runs the recurrence on arrays
and saves the gates; its backward runs the reverse recurrence on arrays and turns the
per-step gate gradients into weight gradients with one matmul. Under
``create_graph=True`` the backward instead recomputes the layer with ember ops (the
same cells the *Cell modules use) and differentiates that, so higher-order gradients
still work.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ..._tensor import Tensor
from ..._ops.shape import cat, stack
from ..._factories import empty, zeros
from ...autograd import grad as _autograd_grad
from ...autograd.function import Op
from ...autograd.grad_mode import enable_grad, state
from .. import init
from .._functional import basic as F
from ..parameter import Parameter
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


def _steps(T: int, reverse: bool) -> range:
    """Time indices in the order a direction visits them."""
    return range(T - 1, -1, -1) if reverse else range(T)


def _scan_composite(cell, gi: Tensor, states: tuple, args: tuple, reverse: bool) -> tuple:
    """The whole sequence as ember ops, one cell call per step: ``(outputs, *final states)``."""
    ys = [None] * gi.shape[0]
    for t in _steps(gi.shape[0], reverse):
        out = cell(gi[t], *states, *args)
        states = out if isinstance(out, tuple) else (out,)
        ys[t] = states[0]
    return (stack(ys), *states)


# ------------------------------------------------------------------ fused scans
def _sigmoid_(a: np.ndarray) -> np.ndarray:
    """In-place logistic via tanh: one transcendental, and no overflow for large |a|."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _prev_states(y: np.ndarray, h0: np.ndarray, reverse: bool) -> np.ndarray:
    """The state each step started from, in time order."""
    return np.concatenate([y[1:], h0[None]] if reverse else [h0[None], y[:-1]])


def _hh_grads(dgh: np.ndarray, prev: np.ndarray, b_hh) -> tuple:
    """Gradients of ``W_hh`` and ``b_hh`` from every step's pre-activation gradient, in one matmul."""
    g = dgh.shape[-1]
    dw = dgh.reshape(-1, g).T @ prev.reshape(-1, prev.shape[-1])
    return dw, None if b_hh is None else dgh.sum((0, 1))


class _Scan(Op):
    """One recurrent layer in one direction over a whole sequence.

    ``apply(gi, *initial states, *weights, *flags)`` with ``gi`` the input projections of
    every step ``(T, B, gates * H)``; ``flags`` end with ``reverse``. Forward returns
    ``(y, *final states, *scratch)``: the scratch arrays (gates) are outputs only so that
    ``setup_context`` can save them. Subclasses give ``cell`` (the ember-op step, used to
    recompute under ``create_graph``), ``n_states``, ``forward`` and ``backward_arrays``.
    """

    n_states = 1
    n_flags = 1

    @classmethod
    def run(cls, gi: Tensor, states: list, args: tuple) -> tuple:
        """``(y, *final states)`` of the layer; ``args`` are the weights then the flags."""
        return cls.apply(gi, *states, *args)[:1 + cls.n_states]

    @classmethod
    def setup_context(cls, ctx, inputs, output) -> None:
        ctx.n_in = len(inputs) - cls.n_flags
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
        out = cls.backward_arrays(arrays, scratch, ctx.output._data,
                                  *[None if g is None else g._data for g in gouts], *ctx.flags)
        return tuple(Tensor._make(g) if need and g is not None else None for g, need in zip(out, needs))

    @classmethod
    def _recompute_grads(cls, ctx, inputs: tuple, gouts: tuple, needs: tuple) -> tuple:
        """Input gradients recorded as ember ops (``create_graph=True``), so they differentiate again."""
        k = 1 + cls.n_states
        with enable_grad():
            outs = _scan_composite(cls.cell, inputs[0], inputs[1:k], inputs[k:] + ctx.flags[:-1], ctx.flags[-1])
        used = [(o, g) for o, g in zip(outs, gouts) if g is not None]
        wrt = [t for t, need in zip(inputs, needs) if need]
        got = iter(_autograd_grad([o for o, _ in used], wrt, [g for _, g in used], create_graph=True,
                                  allow_unused=True))
        return tuple(next(got) if need else None for need in needs)


class _RNNScan(_Scan):
    """Elman layer: ``apply(gi, h0, w_hh, b_hh, relu, reverse)``."""

    n_flags = 2
    cell = staticmethod(_rnn_cell)

    @staticmethod
    def forward(gi, h0, w_hh, b_hh, relu, reverse):
        y = np.empty(gi.shape[:2] + h0.shape[-1:], gi.dtype)
        h = h0
        for t in _steps(gi.shape[0], reverse):
            ht = y[t]
            np.matmul(h, w_hh.T, out=ht)
            ht += gi[t]
            if b_hh is not None:
                ht += b_hh
            np.maximum(ht, 0, out=ht) if relu else np.tanh(ht, out=ht)
            h = ht
        return y, h.copy()

    @staticmethod
    def backward_arrays(inputs, scratch, y, gy, gh, relu, reverse):
        _, h0, w_hh, b_hh = inputs
        d = (y > 0).astype(y.dtype) if relu else 1 - y * y
        dpre = np.empty_like(y)
        carry = np.zeros_like(h0) if gh is None else gh
        for t in _steps(y.shape[0], not reverse):
            dh = carry if gy is None else gy[t] + carry
            np.multiply(dh, d[t], out=dpre[t])
            carry = dpre[t] @ w_hh
        return (dpre, carry, *_hh_grads(dpre, _prev_states(y, h0, reverse), b_hh))


class _GRUScan(_Scan):
    """GRU layer: ``apply(gi, h0, w_hh, b_hh, reverse)``; saves ``W_hh h + b_hh``, r and z, n."""

    cell = staticmethod(_gru_cell)

    @staticmethod
    def forward(gi, h0, w_hh, b_hh, reverse):
        T, B, G = gi.shape
        H = G // 3
        y = np.empty((T, B, H), gi.dtype)
        gh = np.empty_like(gi)
        rz = np.empty((T, B, 2 * H), gi.dtype)
        n = np.empty_like(y)
        h = h0
        for t in _steps(T, reverse):
            ght, a, nt, ht, git = gh[t], rz[t], n[t], y[t], gi[t]
            np.matmul(h, w_hh.T, out=ght)
            if b_hh is not None:
                ght += b_hh
            np.add(git[:, :2 * H], ght[:, :2 * H], out=a)
            _sigmoid_(a)
            np.multiply(a[:, :H], ght[:, 2 * H:], out=nt)
            nt += git[:, 2 * H:]
            np.tanh(nt, out=nt)
            np.subtract(h, nt, out=ht)
            ht *= a[:, H:]
            ht += nt
            h = ht
        return y, h.copy(), gh, rz, n

    @staticmethod
    def backward_arrays(inputs, scratch, y, gy, gh_n, reverse):
        _, h0, w_hh, b_hh = inputs
        gh, rz, n = scratch
        H = n.shape[-1]
        r, z = rz[..., :H], rz[..., H:]
        prev = _prev_states(y, h0, reverse)
        # the step-independent factors of the gate gradients, for all steps at once
        dn_dh = (1 - z) * (1 - n * n)
        dz_dh = (prev - n) * z * (1 - z)
        dr_dn = gh[..., 2 * H:] * r * (1 - r)
        dgh = np.empty_like(gh)
        dgi = np.empty_like(gh)
        carry = np.zeros_like(h0) if gh_n is None else gh_n
        for t in _steps(y.shape[0], not reverse):
            dh = carry if gy is None else gy[t] + carry
            dn, dght = dgi[t, :, 2 * H:], dgh[t]
            np.multiply(dh, dn_dh[t], out=dn)
            np.multiply(dh, dz_dh[t], out=dght[:, H:2 * H])
            np.multiply(dn, dr_dn[t], out=dght[:, :H])
            np.multiply(dn, r[t], out=dght[:, 2 * H:])
            carry = dh * z[t]
            carry += dght @ w_hh
        dgi[..., :2 * H] = dgh[..., :2 * H]
        return (dgi, carry, *_hh_grads(dgh, prev, b_hh))


class _LSTMScan(_Scan):
    """LSTM layer: ``apply(gi, h0, c0, w_hh, b_hh, w_hr, reverse)``; saves gates, cells, tanh(cells)."""

    n_states = 2
    cell = staticmethod(_lstm_cell)

    @staticmethod
    def forward(gi, h0, c0, w_hh, b_hh, w_hr, reverse):
        T, B, G = gi.shape
        H = G // 4
        y = np.empty((T, B) + h0.shape[-1:], gi.dtype)
        gates = np.empty_like(gi)
        cs = np.empty((T, B, H), gi.dtype)
        tcs = np.empty_like(cs)
        hfull = y if w_hr is None else np.empty_like(cs)
        h, c = h0, c0
        for t in _steps(T, reverse):
            g, ct, hf = gates[t], cs[t], hfull[t]
            np.matmul(h, w_hh.T, out=g)
            g += gi[t]
            if b_hh is not None:
                g += b_hh
            _sigmoid_(g[:, :2 * H])
            np.tanh(g[:, 2 * H:3 * H], out=g[:, 2 * H:3 * H])
            _sigmoid_(g[:, 3 * H:])
            np.multiply(g[:, H:2 * H], c, out=ct)
            ct += g[:, :H] * g[:, 2 * H:3 * H]
            np.tanh(ct, out=tcs[t])
            np.multiply(g[:, 3 * H:], tcs[t], out=hf)
            if w_hr is not None:
                np.matmul(hf, w_hr.T, out=y[t])
            h, c = y[t], ct
        return (y, h.copy(), c.copy(), gates, cs, tcs) + (() if w_hr is None else (hfull,))

    @staticmethod
    def backward_arrays(inputs, scratch, y, gy, gh_n, gc_n, reverse):
        _, h0, c0, w_hh, b_hh, w_hr = inputs
        gates, cs, tcs = scratch[:3]
        H = cs.shape[-1]
        i, f, g, o = (gates[..., k * H:(k + 1) * H] for k in range(4))
        # the step-independent factors of the gate gradients, for all steps at once
        dc_dh = o * (1 - tcs * tcs)
        do_dh = tcs * o * (1 - o)
        di_dc = g * i * (1 - i)
        df_dc = _prev_states(cs, c0, reverse) * f * (1 - f)
        dg_dc = i * (1 - g * g)
        dgates = np.empty_like(gates)
        dhs = None if w_hr is None else np.empty_like(y)
        carry_h = np.zeros_like(h0) if gh_n is None else gh_n
        carry_c = np.zeros_like(c0) if gc_n is None else gc_n
        for t in _steps(y.shape[0], not reverse):
            dh = carry_h if gy is None else gy[t] + carry_h
            if w_hr is not None:
                dhs[t] = dh
                dh = dh @ w_hr
            d = dgates[t]
            np.multiply(dh, do_dh[t], out=d[:, 3 * H:])
            dc = carry_c + dh * dc_dh[t]
            np.multiply(dc, di_dc[t], out=d[:, :H])
            np.multiply(dc, df_dc[t], out=d[:, H:2 * H])
            np.multiply(dc, dg_dc[t], out=d[:, 2 * H:3 * H])
            carry_c = dc * f[t]
            carry_h = d @ w_hh
        dw_hh, db_hh = _hh_grads(dgates, _prev_states(y, h0, reverse), b_hh)
        dw_hr = None if w_hr is None else _hh_grads(dhs, scratch[3], None)[0]
        return dgates, carry_h, carry_c, dw_hh, db_hh, dw_hr
