"""Per-sample gradients of the MNIST-1D MLP with ``vmap(grad(...))`` (see docs/func.md).

Run: python -m ember.examples.per_sample_grads [--batch 100]

One gradient per training signal, for all 100 signals of a batch in one batched backward pass,
checked against a loop of 100 ordinary backward passes; then the per-sample gradients are
clipped and averaged, as DP-SGD does (the step that needs them).
"""
from __future__ import annotations

import argparse
import time

import ember
import ember.nn.functional as F
from ember.datasets import MNIST1D
from ember.func import functional_call, grad, vmap

from .mnist1d import MLP


def per_sample_grads(model, params: dict, x: ember.Tensor, y: ember.Tensor) -> dict:
    """``{name: tensor of shape (batch, *param.shape)}``: each sample's gradient of its own loss."""
    def loss(p, xi, yi):  # written for ONE sample; vmap adds the batch dim
        return F.cross_entropy(functional_call(model, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))
    return vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)


def looped_grads(model, x: ember.Tensor, y: ember.Tensor) -> dict:
    """The same, one backward pass per sample."""
    out = {k: [] for k, _ in model.named_parameters()}
    for i in range(len(x)):
        model.zero_grad()
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        for k, p in model.named_parameters():
            out[k].append(p.grad.clone())
    return {k: ember.stack(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> dict:
    """Compute, check and use per-sample gradients; returns them."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--clip", type=float, default=1.0, help="DP-SGD clipping norm")
    args = p.parse_args(argv)
    ember.manual_seed(0)
    data = MNIST1D(train=True)
    x, y = ember.tensor(data.data[:args.batch]), ember.tensor(data.targets[:args.batch])
    model = MLP()
    params = {k: v.detach() for k, v in model.named_parameters()}

    per_sample_grads(model, params, x[:2], y[:2])  # warm up (the first vmap sets up its rules)
    t0 = time.perf_counter()
    grads = per_sample_grads(model, params, x, y)
    t1 = time.perf_counter()
    loop = looped_grads(model, x, y)
    t2 = time.perf_counter()
    err = max(float((grads[k] - loop[k]).abs().max()) for k in grads)
    print(f"per-sample gradients of {sum(v[0].numel() for v in grads.values())} parameters for {len(x)} signals: "
          f"vmap(grad) {1e3 * (t1 - t0):.1f} ms, loop of backward passes {1e3 * (t2 - t1):.1f} ms "
          f"({(t2 - t1) / (t1 - t0):.1f}x); largest difference {err:.2e}")

    # DP-SGD: clip each sample's whole gradient to norm <= clip, then average
    norms = sum(g.reshape(len(x), -1).pow(2).sum(1) for g in grads.values()).sqrt()
    scale = (args.clip / (norms + 1e-6)).clamp(max=1.0)
    clipped = {k: (g * scale.reshape(-1, *[1] * (g.ndim - 1))).mean(0) for k, g in grads.items()}
    print(f"per-sample gradient norms: min {float(norms.min()):.3f}, median {float(norms.median()):.3f}, "
          f"max {float(norms.max()):.3f}; clipped to {args.clip} and averaged: "
          f"|mean grad| {float(sum(c.pow(2).sum() for c in clipped.values()).sqrt()):.4f}")
    return grads


if __name__ == "__main__":
    main()
