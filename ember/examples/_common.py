"""What the training examples share: the training loop, evaluation, progress bars, curves, checkpoints."""
from __future__ import annotations

import os
import sys
import time
from typing import Callable, Iterable

import ember

try:  # tqdm is optional: without it the bars become plain printed lines
    from tqdm import tqdm as _tqdm
except ImportError:  # pragma: no cover - depends on the environment
    _tqdm = None


class Progress:
    """A tqdm bar when tqdm is installed (and ``plain`` is false), else a few printed lines."""

    def __init__(self, total: int, desc: str, plain: bool = False, lines: int = 5) -> None:
        self.total, self.desc, self.n = total, desc, 0
        self.t0 = time.perf_counter()
        self.postfix: dict = {}
        self.bar = None if plain or _tqdm is None else _tqdm(total=total, desc=desc, leave=True,
                                                              dynamic_ncols=True, file=sys.stdout,
                                                              mininterval=0.5)
        # plain mode prints about `lines` times per bar, so logs stay short
        self._every = max(1, total // max(1, lines))

    def update(self, n: int = 1, **postfix: float) -> None:
        """Advance by ``n`` and show the given numbers beside the bar."""
        self.n += n
        self.postfix.update(postfix)
        if self.bar is not None:
            # formatted only when tqdm is about to redraw (every mininterval s): a step of a small model
            # is short enough for the formatting to show
            if postfix and time.time() - self.bar.last_print_t >= self.bar.mininterval:
                self.bar.set_postfix({k: _fmt(v) for k, v in self.postfix.items()}, refresh=False)
            self.bar.update(n)
        elif n and (self.n % self._every == 0 or self.n == self.total):
            print(self._line(), flush=True)

    def close(self) -> None:
        """Finish the bar."""
        if self.bar is not None:
            self.bar.set_postfix({k: _fmt(v) for k, v in self.postfix.items()})
            self.bar.close()
        elif self.n % self._every != 0 and self.n != self.total:
            print(self._line(), flush=True)

    def _line(self) -> str:
        items = " ".join(f"{k}={_fmt(v)}" for k, v in self.postfix.items())
        return f"{self.desc}: {self.n}/{self.total} [{time.perf_counter() - self.t0:.1f}s] {items}"


def _fmt(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def train_epoch(model: ember.nn.Module, loader: Iterable, optimizer: ember.optim.Optimizer, bar: Progress,
                max_steps: int | None = None, on_step: Callable[[int, float], None] | None = None,
                distributed: bool = False, lib=ember) -> tuple[list[float], float]:
    """One pass over ``loader`` (or ``max_steps`` batches): returns the per-step losses and train accuracy (%).

    ``distributed``: each rank trains on its share of every batch; losses and accuracy are the whole batch's.
    ``lib``: the library the model is written in (``torch`` runs the same loop in benchmarks/examples.py).
    """
    model.train()
    losses, correct, seen = [], 0, 0
    for x, y in loader:
        if max_steps is not None and len(losses) >= max_steps:
            break
        if distributed:
            x, y = shard(x), shard(y)
        logits = model(x)
        loss = lib.nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step_loss, step_correct, n = loss.item(), int((logits.argmax(1) == y).sum().item()), y.shape[0]
        if distributed:
            total_loss, step_correct, n = sum_over_ranks(step_loss * n, step_correct, n)
            step_loss, step_correct, n = total_loss / n, int(step_correct), int(n)
        losses.append(step_loss)
        correct += step_correct
        seen += n
        if on_step is not None:  # before the bar moves, so what it shows includes the callback's numbers
            on_step(len(losses), losses[-1])
        bar.update(1, loss=losses[-1], acc=f"{100.0 * correct / seen:.1f}")
    return losses, 100.0 * correct / max(seen, 1)


def evaluate(model: ember.nn.Module, x: ember.Tensor, y: ember.Tensor, batch_size: int = 250,
             distributed: bool = False, lib=ember) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (%) of ``model`` on ``(x, y)``, in eval mode, without autograd.

    ``distributed``: each rank evaluates its share of ``(x, y)``, and the results are combined.
    ``lib``: the library the model is written in (as in ``train_epoch``).
    ``batch_size``: 250 keeps the largest buffers (the Fashion-MNIST CNN's im2col columns) small enough to be
    reused from batch to batch; at 1000 that evaluation took about 4x longer in ember, 1.5x in torch.
    """
    n = x.shape[0]
    if distributed:
        x, y = shard(x), shard(y)
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    with lib.no_grad():
        for i in range(0, x.shape[0], batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            logits = model(xb)
            total_loss += lib.nn.functional.cross_entropy(logits, yb, reduction="sum").item()
            correct += int((logits.argmax(1) == yb).sum().item())
    model.train(was_training)
    if distributed:
        total_loss, correct = sum_over_ranks(total_loss, correct)
    return total_loss / n, 100.0 * correct / n


def init_distributed() -> int:
    """Join the MPI job (``--distributed``); ranks other than 0 print nothing. Returns this rank."""
    import ember.distributed as dist
    dist.init_process_group("mpi")
    if dist.get_rank() != 0:
        sys.stdout = open(os.devnull, "w")
    return dist.get_rank()


def shard(t: ember.Tensor) -> ember.Tensor:
    """This rank's contiguous share of ``t``'s first dim (the shares differ by at most one row)."""
    import ember.distributed as dist
    rank, world, n = dist.get_rank(), dist.get_world_size(), t.shape[0]
    return t[rank * n // world:(rank + 1) * n // world]


def sum_over_ranks(*values: float) -> list[float]:
    """Each value summed over all ranks."""
    import ember.distributed as dist
    t = ember.tensor(values, dtype=ember.float64)
    dist.all_reduce(t)
    return t.tolist()


def loader_generator(seed: int) -> ember.Generator:
    """A generator of its own for a DataLoader's shuffling, so the batch order depends on ``seed`` alone."""
    return ember.Generator().manual_seed(seed)


def save_checkpoint(path: str, model: ember.nn.Module, optimizer: ember.optim.Optimizer, epoch: int,
                    history: dict, generator: ember.Generator | None = None, scheduler=None) -> None:
    """Write model, optimizer and scheduler state, the finished epoch, the curves and the RNG states (safetensors)."""
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, "history": history,
             "rng": ember.get_rng_state()}
    if generator is not None:
        state["loader_rng"] = generator.get_state()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    ember.save(state, path)


def load_checkpoint(path: str, model: ember.nn.Module, optimizer: ember.optim.Optimizer,
                    generator: ember.Generator | None = None, scheduler=None) -> tuple[int, dict]:
    """Restore what ``save_checkpoint`` wrote; returns (finished epoch, history)."""
    state = ember.load(path)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    ember.set_rng_state(state["rng"])
    if generator is not None and "loader_rng" in state:
        generator.set_state(state["loader_rng"])
    if scheduler is not None and "scheduler" in state:
        scheduler.load_state_dict(state["scheduler"])
    return int(state["epoch"]), state["history"]


def plot_curves(curves: dict[str, dict], path: str, title: str, xlabel: str = "step") -> str | None:
    """Plot training loss and test accuracy of each run side by side into ``path``; None without matplotlib.

    ``curves[name]`` holds ``train_loss`` and ``test_acc`` as lists of ``[x, value]`` pairs.
    """
    try:
        import matplotlib
        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no learning-curve plot")
        return None
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, c in curves.items():
        if c.get("train_loss"):
            xs, ys = zip(*c["train_loss"])
            ax_loss.plot(xs, ys, label=name, lw=1)
        if c.get("test_acc"):
            xs, ys = zip(*c["test_acc"])
            ax_acc.plot(xs, ys, label=name, lw=1.5)
    ax_loss.set(xlabel=xlabel, ylabel="train loss", yscale="log", title="training loss")
    ax_acc.set(xlabel=xlabel, ylabel="test accuracy (%)", title="test accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def smooth(values: list[float], every: int) -> list[list[float]]:
    """Mean of each run of ``every`` values, as ``[x, mean]`` pairs (x = the run's last step, counted from 1)."""
    out = []
    for i in range(0, len(values), every):
        chunk = values[i:i + every]
        out.append([i + len(chunk), sum(chunk) / len(chunk)])
    return out
