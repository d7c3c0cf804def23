"""Fit a linear regression and a small MLP with nothing but tensors and autograd.

Run: python -m ember.examples.autograd_demo
"""
from __future__ import annotations

import numpy as np

import ember


def linear_regression(steps: int = 200, lr: float = 0.1) -> list[float]:
    """Recover y = 3x - 2 from noisy samples by gradient descent on w and b."""
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.uniform(-1, 1, size=(64, 1)), dtype=ember.float32)
    y = 3 * x - 2 + 0.05 * ember.tensor(rng.standard_normal((64, 1)), dtype=ember.float32)
    w = ember.zeros(1, requires_grad=True)
    b = ember.zeros(1, requires_grad=True)
    losses = []
    for _ in range(steps):
        loss = ((x * w + b - y) ** 2).mean()
        loss.backward()
        with ember.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = None
        b.grad = None
        losses.append(loss.item())
    print(f"linear regression: w={w.item():.3f} b={b.item():.3f} (true 3, -2)")
    return losses


def mlp(steps: int = 300, lr: float = 0.05) -> list[float]:
    """A 1-32-32-1 tanh MLP learning sin(3x), with weights as plain tensors."""
    rng = np.random.default_rng(1)
    x = ember.tensor(np.linspace(-1, 1, 128, dtype=np.float32)[:, None])
    y = ember.sin(3 * x)
    sizes = [1, 32, 32, 1]
    params = []
    for i, o in zip(sizes, sizes[1:]):
        params.append(ember.tensor(rng.standard_normal((i, o)) / np.sqrt(i), dtype=ember.float32,
                                   requires_grad=True))
        params.append(ember.zeros(o, requires_grad=True))
    losses = []
    for _ in range(steps):
        h = x
        for k in range(0, len(params), 2):
            h = h @ params[k] + params[k + 1]
            if k < len(params) - 2:
                h = ember.tanh(h)
        loss = ((h - y) ** 2).mean()
        loss.backward()
        with ember.no_grad():
            for p in params:
                p -= lr * p.grad * 10
                p.grad = None
        losses.append(loss.item())
    return losses


def main() -> None:
    for name, losses in (("linear regression", linear_regression()), ("MLP sin(3x)", mlp())):
        marks = [0, len(losses) // 4, len(losses) // 2, 3 * len(losses) // 4, len(losses) - 1]
        print(f"{name}: " + "  ".join(f"step {i}: {losses[i]:.4f}" for i in marks))


if __name__ == "__main__":
    main()
