"""Reproduce the model table of MNIST-1D (Greydanus 2020, "Scaling down deep learning") on the CPU.

Trains logistic regression, an MLP, a CNN and a GRU with the paper's setup (Adam, lr 1e-2, batch 100,
no weight decay, 6000 steps) and prints each test accuracy beside the published one.

Run: python -m ember.examples.mnist1d [--models mlp cnn] [--steps 6000] [--out runs/mnist1d]
     python -m ember.distributed.run --nproc-per-node 2 -m ember.examples.mnist1d --distributed
"""
from __future__ import annotations

import argparse
import os
import time

import ember
import ember.nn as nn
from ember.datasets import MNIST1D
from ember.utils.data import DataLoader

from ._common import Progress, evaluate, init_distributed, loader_generator, plot_curves, smooth, train_epoch

# test accuracy (%) published in the paper's table
PAPER_ACCURACY = {"logistic": 32.0, "mlp": 68.0, "cnn": 94.0, "gru": 91.0}
STEPS = 6000  # the paper's training length


class Logistic(nn.Module):
    """Multinomial logistic regression: one linear layer on the 40 raw points."""

    def __init__(self, length: int = 40, classes: int = 10) -> None:
        super().__init__()
        self.linear = nn.Linear(length, classes)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        return self.linear(x)


class MLP(nn.Module):
    """Two hidden ReLU layers of 100 units, the second added to the first (a residual step, as in the paper's code)."""

    def __init__(self, length: int = 40, hidden: int = 100, classes: int = 10) -> None:
        super().__init__()
        self.fc1 = nn.Linear(length, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, classes)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        h = self.fc1(x).relu()
        h = h + self.fc2(h).relu()
        return self.fc3(h)


class CNN(nn.Module):
    """Three stride-2 Conv1d layers of 25 channels (kernels 5, 3, 3; padding 1) with ReLU, then a linear layer."""

    def __init__(self, length: int = 40, channels: int = 25, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        for k in (5, 3, 3):  # each stride-2 layer maps length L to (L + 2 - k) // 2 + 1
            length = (length + 2 - k) // 2 + 1
        self.linear = nn.Linear(channels * length, classes)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        h = x.unsqueeze(1)  # (N, 40) -> (N, 1 channel, 40)
        h = self.conv1(h).relu()
        h = self.conv2(h).relu()
        h = self.conv3(h).relu()
        return self.linear(h.flatten(1))


class GRUClassifier(nn.Module):
    """A bidirectional GRU with 6 hidden units reading one point per step; every step's output feeds a linear layer."""

    def __init__(self, length: int = 40, hidden: int = 6, classes: int = 10) -> None:
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(2 * hidden * length, classes)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        out, _ = self.gru(x.unsqueeze(-1))  # (N, 40, 1) -> (N, 40, 2 * hidden)
        return self.linear(out.flatten(1))


MODELS = {"logistic": Logistic, "mlp": MLP, "cnn": CNN, "gru": GRUClassifier}


def train_model(name: str, train_set: MNIST1D, test_set: MNIST1D, steps: int, batch_size: int, lr: float,
                seed: int, eval_every: int, plain: bool = False, distributed: bool = False) -> dict:
    """Train one model of the table; returns its curves, final test accuracy and time."""
    ember.manual_seed(seed)  # each model's initialisation depends on the seed alone, not on what ran before
    model = MODELS[name]()
    optimizer = ember.optim.Adam(model.parameters(), lr=lr, weight_decay=0.0)
    # each rank trains on its share of every batch; DDP averages the gradients
    trained = nn.parallel.DistributedDataParallel(model) if distributed else model
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, drop_last=True,
                        generator=loader_generator(seed))
    x_test, y_test = test_set.data, test_set.targets
    curve = {"train_loss": [], "test_acc": []}
    losses: list[float] = []
    bar = Progress(steps, f"{name:>8}", plain=plain)

    def on_step(_: int, loss: float) -> None:
        losses.append(loss)
        if len(losses) % eval_every == 0 or len(losses) == steps:
            curve["test_acc"].append([len(losses), evaluate(model, x_test, y_test, distributed=distributed)[1]])
            bar.update(0, test_acc=f"{curve['test_acc'][-1][1]:.1f}")

    t0 = time.perf_counter()
    epoch = 0
    while len(losses) < steps:
        epoch += 1
        bar.update(0, epoch=epoch)
        train_epoch(trained, loader, optimizer, bar, max_steps=steps - len(losses), on_step=on_step,
                    distributed=distributed)
    bar.close()
    seconds = time.perf_counter() - t0
    curve["train_loss"] = smooth(losses, max(1, min(eval_every, steps) // 5))
    return {"model": model, "curve": curve, "losses": losses, "test_acc": curve["test_acc"][-1][1],
            "seconds": seconds}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: what to train, for how long, and where the plot and checkpoints go."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS), help="which models to train")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=None, help="optimizer steps per model (default 6000)")
    length.add_argument("--epochs", type=int, default=None, help="passes over the 4000 training signals")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=250, help="steps between test evaluations")
    p.add_argument("--out", default=os.path.join("runs", "mnist1d"), help="folder for the plot and checkpoints")
    p.add_argument("--plain", action="store_true", help="print progress lines instead of tqdm bars")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the ranks of an MPI job (launch with python -m ember.distributed.run)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Train the chosen models and print the table; returns ``{name: test accuracy}``."""
    args = parse_args(argv)
    rank = init_distributed() if args.distributed else 0
    train_set, test_set = MNIST1D(train=True), MNIST1D(train=False)
    batches_per_epoch = len(train_set) // args.batch_size
    if batches_per_epoch == 0:
        raise SystemExit(f"--batch-size {args.batch_size} is larger than the {len(train_set)} training signals")
    steps = args.epochs * batches_per_epoch if args.epochs is not None else (args.steps or STEPS)
    print(f"MNIST-1D: {len(train_set)} train / {len(test_set)} test signals of length {train_set.data.shape[1]}; "
          f"Adam lr={args.lr}, batch {args.batch_size}, {steps} steps ({steps / batches_per_epoch:g} epochs), "
          f"seed {args.seed}")
    os.makedirs(args.out, exist_ok=True)
    results = {}
    for name in args.models:
        r = train_model(name, train_set, test_set, steps, args.batch_size, args.lr, args.seed, args.eval_every,
                        args.plain, args.distributed)
        if rank == 0:
            ember.save(r["model"].state_dict(), os.path.join(args.out, f"{name}.safetensors"))
        results[name] = r

    print(f"\n{'model':<10}{'ember':>8}{'paper':>8}{'diff':>8}{'time':>9}")
    for name, r in results.items():
        paper = PAPER_ACCURACY[name]
        print(f"{name:<10}{r['test_acc']:>7.1f}%{paper:>7.0f}%{r['test_acc'] - paper:>+8.1f}{r['seconds']:>8.1f}s")
    png = plot_curves({n: r["curve"] for n, r in results.items()}, os.path.join(args.out, "mnist1d_curves.png"),
                      f"MNIST-1D, {steps} steps of Adam (ember)") if rank == 0 else None
    if png:
        print(f"learning curves: {png}")
    print(f"weights: {args.out}/<model>.safetensors")
    return {n: r["test_acc"] for n, r in results.items()}


if __name__ == "__main__":
    main()
