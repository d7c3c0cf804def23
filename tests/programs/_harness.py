"""What the program files share: a stand-in for torch's initial weights, and offline data.

Each program file holds ``main(torch, init)``: the program, with ``torch`` the library it runs on. It runs
first with real torch (``init`` records the weights each model starts from) and then with ember (``init``
loads those weights), so the two runs start equal although the libraries' random streams differ. Whatever
the program draws at random after that (noise, dropout masks, sampled actions) comes from NumPy instead,
or dropout is set to 0: those are the adaptations, besides offline data and small sizes.
"""
from __future__ import annotations

import numpy as np


class Init:
    """Records the initial state dicts of the torch run and loads them into the ember run."""

    def __init__(self, saved: dict | None = None) -> None:
        self.saved, self.record = saved, {}

    def __call__(self, torch, module, key: str = "model"):
        if self.saved is None:
            self.record[key] = {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
        else:
            module.load_state_dict({k: torch.tensor(v) for k, v in self.saved[key].items()})
        return module


class Args:
    """An argparse.Namespace stand-in: a program's command-line settings, small."""

    def __init__(self, **kw) -> None:
        self.__dict__.update(kw)


def images(torch, n: int, shape: tuple, classes: int, seed: int = 0):
    """``n`` normalised fake images of ``shape`` and integer labels (MNIST/CIFAR stand-ins)."""
    rng = np.random.default_rng(seed)
    x = ((rng.random((n, *shape)) - 0.1307) / 0.3081).astype(np.float32)
    y = rng.integers(0, classes, n)
    return torch.tensor(x), torch.tensor(y)


def loader(torch, x, y, batch_size: int, **kw):
    """A DataLoader over (x, y) in order (shuffling would draw from the library's own stream)."""
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size, **kw)


def text(n: int, vocab: int, seed: int = 0) -> np.ndarray:
    """A token stream with some structure to learn (each token mostly follows from the one before)."""
    rng = np.random.default_rng(seed)
    out = [0]
    for _ in range(n - 1):
        out.append((out[-1] * 7 + 3) % vocab if rng.random() < 0.8 else int(rng.integers(vocab)))
    return np.array(out, dtype=np.int64)


def load_program(name: str, lib):
    """Execute tests/programs/<name>.py as a fresh module whose ``import torch...`` statements give ``lib``.

    The module is registered in sys.modules (its classes must pickle, as ``torch.save(model)`` needs).
    """
    import builtins
    import importlib.util
    import sys
    from pathlib import Path

    libname = lib.__name__
    modname = f"program_{name}_{libname}"
    if modname in sys.modules:
        return sys.modules[modname]
    real_import = builtins.__import__

    def renamed_import(target, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and (target == "torch" or target.startswith("torch.")):
            target = libname + target[len("torch"):]
        return real_import(target, globals, locals, fromlist, level)

    spec = importlib.util.spec_from_file_location(modname, Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    builtins.__import__ = renamed_import
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[modname]
        raise
    finally:
        builtins.__import__ = real_import
    return mod


class CartPole:
    """CartPole-v1's dynamics and rewards (Barto et al. 1983, as gymnasium steps them), in place of ``gym.make``."""

    def __init__(self, max_steps: int = 500) -> None:
        self.max_steps, self.rng = max_steps, np.random.default_rng(0)

    def reset(self, seed=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.state, self.t = self.rng.uniform(-0.05, 0.05, 4), 0
        return self.state.astype(np.float32), {}

    def step(self, action: int):
        x, x_dot, theta, theta_dot = self.state
        force = 10.0 if action == 1 else -10.0
        cos, sin = np.cos(theta), np.sin(theta)
        temp = (force + 0.05 * theta_dot ** 2 * sin) / 1.1
        theta_acc = (9.8 * sin - cos * temp) / (0.5 * (4.0 / 3.0 - 0.1 * cos ** 2 / 1.1))
        x_acc = temp - 0.05 * theta_acc * cos / 1.1
        x, x_dot = x + 0.02 * x_dot, x_dot + 0.02 * x_acc
        theta, theta_dot = theta + 0.02 * theta_dot, theta_dot + 0.02 * theta_acc
        self.state, self.t = np.array([x, x_dot, theta, theta_dot]), self.t + 1
        terminated = bool(abs(x) > 2.4 or abs(theta) > 12 * 2 * np.pi / 360)
        return self.state.astype(np.float32), 1.0, terminated, self.t >= self.max_steps, {}


def sample(torch, probs, rng) -> "Tensor":
    """``Categorical(probs).sample()`` by inverting the CDF at a NumPy uniform (the same draw on both sides)."""
    p = probs.detach().numpy().reshape(-1, probs.shape[-1])
    idx = [int(np.searchsorted(np.cumsum(row), rng.random() * row.sum(), side="right")) for row in p]
    idx = [min(i, p.shape[1] - 1) for i in idx]
    return torch.tensor(idx if probs.dim() > 1 else idx[0])
