"""The two training examples end to end, ember vs torch in the same run, with 1 and with 2 threads.

Run: python benchmarks/examples.py [--threads 1 2] [--models logistic mlp cnn gru fashion-mlp fashion-cnn]
                                   [--steps 6000] [--epochs N] [--limit N] [--repeat 1]
What it measures, per model: the wall time of training plus evaluation in each library, their ratio, and
both test accuracies. Each model trains as its example trains it, in the example's own loop
(``ember.examples._common.train_epoch`` and ``evaluate``, run with ``lib=torch`` for torch, tqdm bar
included), on the same initial weights (ember's model built and seeded as the example does, its state
dict copied into a torch twin with the same parameter names) and the same batches (each library's
DataLoader shuffles with its own generator seeded alike: their streams are the same):
- MNIST-1D's table (``ember/examples/mnist1d.py``): logistic, mlp, cnn, gru; Adam lr 1e-2, batch 100,
  ``--steps`` steps (6000: the paper's), test accuracy every 250 steps and at the end;
- Fashion-MNIST (``ember/examples/fashion_mnist.py``, Debian's dataset-fashion-mnist files): mlp (10
  epochs) and cnn (5 epochs), or ``--epochs``; Adam lr 1e-3 with cosine decay, batch 128, the whole test
  set evaluated after each epoch (``--limit N``: the first N training images only, for a short run).
Not timed: reading the data, building the models, checkpoints and plots. The defaults are the examples'
real settings (several minutes per model on a laptop core); ``--steps 600 --epochs 1 --limit 10000`` is
a short run. The libraries take turns model by model (``--repeat R``: R turns each, the best time kept),
so that a slow spell of a shared machine hits both. NumPy reads its thread count from the environment
when it is imported, so each thread count runs in a fresh process of this script (``--worker N``).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time

# users' machines don't pin OpenBLAS's kernels, so neither does this benchmark (its own processes only)
for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_var, None)
import numpy as np  # noqa: E402  (after the environment is settled)

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
MODELS = {"logistic": "MNIST-1D logistic", "mlp": "MNIST-1D MLP", "cnn": "MNIST-1D CNN", "gru": "MNIST-1D GRU",
          "fashion-mlp": "Fashion-MNIST MLP", "fashion-cnn": "Fashion-MNIST CNN"}


def example(name: str):
    """The example module that trains model ``name``, and the model's name there."""
    from ember.examples import fashion_mnist, mnist1d
    return (fashion_mnist, name[len("fashion-"):]) if name.startswith("fashion-") else (mnist1d, name)


def torch_twin(name: str):
    """The example's model ``name`` in torch: its layers built with ``torch.nn`` under the example's names,
    its forward the example's own (a forward calls only what both libraries share)."""
    import torch
    nn = torch.nn
    conv1d = {"stride": 2, "padding": 1}
    layers = {
        "logistic": lambda: {"linear": nn.Linear(40, 10)},
        "mlp": lambda: {"fc1": nn.Linear(40, 100), "fc2": nn.Linear(100, 100), "fc3": nn.Linear(100, 10)},
        "cnn": lambda: {"conv1": nn.Conv1d(1, 25, 5, **conv1d), "conv2": nn.Conv1d(25, 25, 3, **conv1d),
                        "conv3": nn.Conv1d(25, 25, 3, **conv1d), "linear": nn.Linear(125, 10)},
        "gru": lambda: {"gru": nn.GRU(1, 6, batch_first=True, bidirectional=True), "linear": nn.Linear(480, 10)},
        "fashion-mlp": lambda: {"layers": nn.Sequential(
            nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 100),
            nn.ReLU(), nn.Linear(100, 10))},
        "fashion-cnn": lambda: {"features": nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2)),
            "classifier": nn.Linear(64 * 7 * 7, 10)},
    }[name]()
    module, key = example(name)

    class Twin(nn.Module):
        forward = module.MODELS[key].forward

        def __init__(self) -> None:
            super().__init__()
            for child, layer in layers.items():
                setattr(self, child, layer)
    return Twin()


def load_data(name: str, limit: int | None) -> dict:
    """Each library's training set (as its DataLoader gets it) and test tensors for model ``name``.

    ember's are the example's own (MNIST-1D's dataset object; Fashion-MNIST's normalised tensors); torch's
    are a ``TensorDataset`` of the same arrays, as a torch user would write it.
    """
    import torch

    import ember
    module, _ = example(name)
    if module.__name__.endswith("mnist1d"):
        train, test = module.MNIST1D(train=True), module.MNIST1D(train=False)
        ember_train, x_test, y_test = train, test.data, test.targets
        x, y = train.data, train.targets
    else:
        x, y = module.load_split(True, limit)
        x_test, y_test = module.load_split(False)
        ember_train = ember.utils.data.TensorDataset(x, y)
    as_torch = [torch.from_numpy(t.numpy().copy()) for t in (x, y, x_test, y_test)]
    return {"ember": (ember_train, x_test, y_test),
            "torch": (torch.utils.data.TensorDataset(*as_torch[:2]), *as_torch[2:])}


def train(lib, name: str, model, data: tuple, length: int) -> float:
    """Train ``model`` as its example does (``length``: steps for MNIST-1D, epochs for Fashion-MNIST) with
    the example's loop and evaluation; returns the final test accuracy (%)."""
    from ember.examples._common import Progress, evaluate, train_epoch
    module, key = example(name)
    args = module.parse_args([])  # the example's defaults: batch size, learning rate, seed, evaluation cadence
    train_set, x_test, y_test = data
    mnist1d = module.__name__.endswith("mnist1d")
    optimizer = lib.optim.Adam(model.parameters(), lr=args.lr, weight_decay=0.0)
    loader = lib.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=mnist1d,
                                       generator=lib.Generator().manual_seed(args.seed))
    test_acc = [0.0]

    def test(bar) -> None:
        test_acc[0] = evaluate(model, x_test, y_test, lib=lib)[1]
        bar.update(0, test_acc=f"{test_acc[0]:.1f}")

    if mnist1d:  # as mnist1d.train_model: a test evaluation every eval_every steps and after the last
        bar, losses = Progress(length, f"{lib.__name__} {name}"), []

        def on_step(_: int, loss: float) -> None:
            losses.append(loss)
            if len(losses) % args.eval_every == 0 or len(losses) == length:
                test(bar)
        while len(losses) < length:
            train_epoch(model, loader, optimizer, bar, max_steps=length - len(losses), on_step=on_step, lib=lib)
        bar.close()
    else:  # as fashion_mnist.main: cosine decay over the run, the test set after each epoch
        scheduler = lib.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=length)
        for epoch in range(1, length + 1):
            bar = Progress(len(loader), f"{lib.__name__} {name} epoch {epoch}/{length}")
            train_epoch(model, loader, optimizer, bar, lib=lib)
            scheduler.step()
            test(bar)
            bar.close()
    return test_acc[0]


def warm_up(lib, model, data: tuple) -> None:
    """A training step and an evaluation of a throwaway model, so that neither library's first calls
    (torch's lazy initialisation, first-touch of buffers) count in its time."""
    from ember.examples._common import evaluate
    _, x, y = data
    loss = lib.nn.functional.cross_entropy(model(x[:128]), y[:128])
    loss.backward()
    lib.optim.Adam(model.parameters()).step()
    evaluate(model, x, y, lib=lib)


def worker(threads: int, args: argparse.Namespace) -> list[dict]:
    """Train each model in both libraries, taking turns (this process already has its thread count)."""
    import torch

    import ember
    from dataloader import blas_kernel  # (benchmarks/ is on the path when run as a script)
    torch.set_num_threads(threads)
    ember.set_num_threads(threads)
    rows = []
    for i, name in enumerate(args.models):
        module, key = example(name)
        length = (args.steps if key == name else args.epochs or module.EPOCHS[key])
        data = load_data(name, args.limit)
        ember.manual_seed(module.parse_args([]).seed)  # as the example seeds its model
        init = {k: v.numpy().copy() for k, v in module.MODELS[key]().state_dict().items()}
        warm_up(ember, module.MODELS[key](), data["ember"])
        warm_up(torch, torch_twin(name), data["torch"])
        times, acc = {"torch": float("inf"), "ember": float("inf")}, {}
        order = ("torch", "ember") if i % 2 == 0 else ("ember", "torch")  # neither always goes first
        for _ in range(args.repeat):
            for lib_name in order:
                if lib_name == "ember":
                    lib, model = ember, module.MODELS[key]()
                    model.load_state_dict({k: ember.tensor(v) for k, v in init.items()})
                else:
                    lib, model = torch, torch_twin(name)
                    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in init.items()})
                time.sleep(0.3)  # the other library's spinning threads go to sleep first
                t0 = time.perf_counter()
                with contextlib.redirect_stdout(sys.stderr):  # the bars; stdout carries the results
                    acc[lib_name] = train(lib, name, model, data[lib_name], length)
                times[lib_name] = min(times[lib_name], time.perf_counter() - t0)
        rows.append({"model": name, "threads": threads, "length": length, "unit": "steps" if key == name else "epochs",
                     "torch_s": times["torch"], "ember_s": times["ember"], "ratio": times["ember"] / times["torch"],
                     "torch_acc": acc["torch"], "ember_acc": acc["ember"], "kernel": blas_kernel()})
    return rows


def main() -> None:
    """Run one worker process per thread count and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts to compare")
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--steps", type=int, default=6000, help="MNIST-1D optimizer steps per model (the paper's 6000)")
    p.add_argument("--epochs", type=int, default=None,
                   help="Fashion-MNIST epochs (default: the example's, 10 for mlp and 5 for cnn)")
    p.add_argument("--limit", type=int, default=None, help="Fashion-MNIST: the first N training images only")
    p.add_argument("--repeat", type=int, default=1, help="runs per library and model (the best time is kept)")
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args)))
        return

    rows = []
    # the machine may be shared: a busy one inflates the multi-threaded numbers most
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", file=sys.stderr)
    for n in args.threads:
        env = dict(os.environ, **{v: str(n) for v in _THREAD_VARS})
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(n), *sys.argv[1:]]
        out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
        rows += json.loads(out.strip().splitlines()[-1])
    print(f"NumPy's BLAS: {rows[0]['kernel']}")
    print(f"{'example model, train + test':28s} {'length':>11s} {'threads':>7s} {'torch':>9s} {'ember':>9s} "
          f"{'ember/torch':>11s} {'torch acc':>9s} {'ember acc':>9s}")
    for r in rows:
        print(f"{MODELS[r['model']]:28s} {r['length']:5d} {r['unit']:>5s} {r['threads']:7d} {r['torch_s']:8.1f}s "
              f"{r['ember_s']:8.1f}s {r['ratio']:10.2f}x {r['torch_acc']:8.2f}% {r['ember_acc']:8.2f}%")


if __name__ == "__main__":
    main()
