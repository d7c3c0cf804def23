"""Train an MLP or a small CNN on Fashion-MNIST, with a checkpoint every epoch and exact resumption.

Run: python -m ember.examples.fashion_mnist --model cnn [--epochs 5] [--resume runs/fashion_mnist/cnn.safetensors]
     python -m ember.distributed.run --nproc-per-node 2 -m ember.examples.fashion_mnist --model cnn --distributed
"""
from __future__ import annotations

import argparse
import os
import time

import ember
import ember.nn as nn
from ember.datasets import FashionMNIST
from ember.utils.data import DataLoader, TensorDataset

from ._common import (Progress, evaluate, init_distributed, load_checkpoint, loader_generator, plot_curves,
                      save_checkpoint, smooth, train_epoch)

# per-pixel mean and standard deviation of the training images (scaled to [0, 1])
MEAN, STD = 0.2860, 0.3530


class MLP(nn.Module):
    """784-256-128-100-10 with ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                                    nn.Linear(128, 100), nn.ReLU(), nn.Linear(100, 10))

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        return self.layers(x)


class CNN(nn.Module):
    """Two 3x3 conv layers (32 and 64 channels), each with batch norm, ReLU and 2x2 max pooling, then a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),   # 28 -> 14
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),  # 14 -> 7
        )
        self.classifier = nn.Linear(64 * 7 * 7, 10)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        return self.classifier(self.features(x).flatten(1))


MODELS = {"mlp": MLP, "cnn": CNN}
EPOCHS = {"mlp": 10, "cnn": 5}  # the default length of each model's run


def load_split(train: bool, limit: int | None = None) -> tuple[ember.Tensor, ember.Tensor]:
    """Images as normalised float32 (N, 1, 28, 28) and labels, the first ``limit`` of them if given."""
    ds = FashionMNIST(root=None, train=train)
    images, labels = ds.data, ds.targets
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    # normalised once up front: a per-sample transform would cost more than the MLP's whole step
    x = (images.float() / 255.0 - MEAN) / STD
    return x.unsqueeze(1), labels


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=list(MODELS), default="mlp")
    p.add_argument("--epochs", type=int, default=None, help="total epochs (default: 10 for mlp, 5 for cnn)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    p.add_argument("--test-limit", type=int, default=None, help="evaluate on the first N test images only")
    p.add_argument("--out", default=os.path.join("runs", "fashion_mnist"), help="folder for checkpoints and plot")
    p.add_argument("--resume", default=None, metavar="PATH", help="continue from this checkpoint")
    p.add_argument("--stop-after", type=int, default=None, metavar="EPOCH",
                   help="stop after this epoch, as if interrupted (the schedule still spans --epochs)")
    p.add_argument("--plain", action="store_true", help="print progress lines instead of tqdm bars")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the ranks of an MPI job (launch with python -m ember.distributed.run)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Train (or resume) and return the history: per-step losses, per-epoch test accuracy and seconds."""
    args = parse_args(argv)
    epochs = args.epochs if args.epochs is not None else EPOCHS[args.model]
    rank = init_distributed() if args.distributed else 0
    x_train, y_train = load_split(True, args.limit)
    x_test, y_test = load_split(False, args.test_limit)

    ember.manual_seed(args.seed)
    model = MODELS[args.model]()
    if args.distributed:  # batch statistics over the whole batch, as one process would take them
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    optimizer = ember.optim.Adam(model.parameters(), lr=args.lr)
    # cosine decay to zero over the run: worth about a point of test accuracy over a constant rate
    scheduler = ember.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    generator = loader_generator(args.seed)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size, shuffle=True,
                        generator=generator)
    history: dict = {"losses": [], "test_acc": [], "train_acc": [], "seconds": []}
    start = 0
    if args.resume:
        start, history = load_checkpoint(args.resume, model, optimizer, generator, scheduler)
        print(f"resumed from {args.resume} after epoch {start}")
    # each rank trains on its share of every batch; DDP averages the gradients (and copies rank 0's weights)
    trained = nn.parallel.DistributedDataParallel(model) if args.distributed else model
    n_params = sum(p.numel() for p in model.parameters())
    print(f"Fashion-MNIST {args.model} ({n_params:,} parameters): {x_train.shape[0]} train / {x_test.shape[0]} test "
          f"images, Adam lr={args.lr} with cosine decay, batch {args.batch_size}, epochs {start + 1}..{epochs}, "
          f"seed {args.seed}")

    ckpt = os.path.join(args.out, f"{args.model}.safetensors")
    last = epochs if args.stop_after is None else min(epochs, args.stop_after)
    for epoch in range(start + 1, last + 1):
        bar = Progress(len(loader), f"epoch {epoch}/{epochs}", plain=args.plain)
        t0 = time.perf_counter()
        losses, train_acc = train_epoch(trained, loader, optimizer, bar, distributed=args.distributed)
        seconds = time.perf_counter() - t0
        scheduler.step()
        test_loss, test_acc = evaluate(model, x_test, y_test, distributed=args.distributed)
        bar.update(0, test_acc=f"{test_acc:.2f}")
        bar.close()
        history["losses"].extend(losses)
        history["train_acc"].append(train_acc)
        history["test_acc"].append(test_acc)
        history["seconds"].append(seconds)
        if rank == 0:
            save_checkpoint(ckpt, model, optimizer, epoch, history, generator, scheduler)
        print(f"epoch {epoch}: train loss {sum(losses) / len(losses):.4f}, train acc {train_acc:.2f}%, "
              f"test loss {test_loss:.4f}, test acc {test_acc:.2f}%, {seconds:.1f}s; saved {ckpt}")

    if history["test_acc"]:
        steps = len(loader)
        smoothed = smooth(history["losses"], max(1, steps // 10))
        curves = {args.model: {"train_loss": [[x / steps, y] for x, y in smoothed],
                               "test_acc": [[i + 1, a] for i, a in enumerate(history["test_acc"])]}}
        png = plot_curves(curves, os.path.join(args.out, f"{args.model}_curves.png"),
                          f"Fashion-MNIST {args.model} (ember)", xlabel="epoch") if rank == 0 else None
        if png:
            print(f"learning curves: {png}")
        print(f"final test accuracy {history['test_acc'][-1]:.2f}%, "
              f"{sum(history['seconds']) / len(history['seconds']):.1f}s per epoch")
    return history


if __name__ == "__main__":
    main()
