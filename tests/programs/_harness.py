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
