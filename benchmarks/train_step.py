"""Full training steps, ember vs torch in the same run, with 1 and with 2 threads.

Run: python benchmarks/train_step.py [--threads 1 2] [--repeat 5]
A step is forward, cross-entropy loss, backward and an Adam step, on the same weights in both
libraries (torch's state dict copied into ember's model):
1. the Fashion-MNIST MLP (784-256-128-100-10, ReLU) at batch 256;
2. a CNN (conv 1->32 and 32->64, 3x3, padding 1, each with ReLU and 2x2 max pooling; linear to 10) at batch 64;
3. the MNIST-1D GRU (bidirectional, 6 hidden units, one point per step over 40 steps; linear to 10) at batch 100;
4. a small causal Transformer language model (token + position embeddings, 2 pre-LN encoder layers with GELU,
   d_model 128, 4 heads, FF 512, vocabulary 65 as a character model) on sequences of 64 at batch 32, AdamW;
5. an LSTM language model (as pytorch/examples' word_language_model: embedding 128, 2-layer LSTM of 128,
   vocabulary 1000) on sequences of 35 at batch 20.
Each row also gives the loss difference after the timed steps (the same weights and data in both, so
the two runs must stay together), the share of ember's step spent inside BLAS products (cProfile) and
each library's peak resident memory over its training steps: the growth of ru_maxrss from the size the
process had once the model and batch were built, measured in a process of its own that imports only
that library (``--rss LIB``), so that neither library's allocations count against the other.
NumPy reads its thread count from the environment when it is imported, so each thread count runs in
a fresh process of this script (``--worker N``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

# users' machines don't pin OpenBLAS's kernels, so neither does this benchmark (its own processes only)
for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_var, None)
import numpy as np  # noqa: E402  (after the environment is settled)

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def build(lib, name: str):
    """The model ``name`` written once against ``lib`` (ember or torch: same API) and its input shape."""
    nn = lib.nn
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 100), nn.ReLU(), nn.Linear(100, 10)), (256, 1, 28, 28)
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(64 * 7 * 7, 10)), (64, 1, 28, 28)
    if name == "gru":
        class GRUClassifier(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.gru = nn.GRU(1, 6, batch_first=True, bidirectional=True)
                self.linear = nn.Linear(2 * 6 * 40, 10)

            def forward(self, x):
                out, _ = self.gru(x.unsqueeze(-1))
                return self.linear(out.flatten(1))
        return GRUClassifier(), (100, 40)
    if name == "tlm":
        class TinyLM(nn.Module):
            def __init__(self, vocab: int = 65, d: int = 128, t: int = 64) -> None:
                super().__init__()
                self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(t, d)
                layer = nn.TransformerEncoderLayer(d, 4, 4 * d, dropout=0.0, activation="gelu", batch_first=True,
                                                   norm_first=True)
                self.blocks = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
                self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, vocab)
                self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(t))

            def forward(self, idx):
                h = self.tok(idx) + self.pos.weight[: idx.shape[1]]
                h = self.blocks(h, mask=self.mask, is_causal=True)
                return self.head(self.norm(h)).flatten(0, 1)
        return TinyLM(), (32, 64)
    if name == "lstm":
        class WordLM(nn.Module):
            def __init__(self, vocab: int = 1000, d: int = 128) -> None:
                super().__init__()
                self.emb, self.rnn, self.head = nn.Embedding(vocab, d), nn.LSTM(d, d, 2), nn.Linear(d, vocab)

            def forward(self, idx):
                out, _ = self.rnn(self.emb(idx))
                return self.head(out).flatten(0, 1)
        return WordLM(), (35, 20)
    raise ValueError(name)


MODELS = {"mlp": "MLP 784-256-128-100-10", "cnn": "CNN 2x(conv3x3+pool)", "gru": "GRU bi-6, T=40",
          "tlm": "Transformer LM 2x128, T=64", "lstm": "LSTM LM 2x128, T=35"}
_TOKENS = {"tlm": 65, "lstm": 1000}   # language models: token inputs, a target per token


def batch(name: str, shape: tuple, rng):
    """Inputs and integer targets for model ``name`` (NumPy arrays)."""
    if name in _TOKENS:
        x = rng.integers(0, _TOKENS[name], size=shape)
        return x, rng.integers(0, _TOKENS[name], size=shape[0] * shape[1])
    return rng.standard_normal(shape, dtype=np.float32), rng.integers(0, 10, size=shape[0])


def blas_share(step, calls: int = 3) -> float:
    """The share of ``step``'s time spent in matrix products: ember sends them all through
    ``ember._backend.matmul`` (and NumPy's einsum/tensordot), so cProfile's cumulative time of those."""
    import cProfile
    import pstats
    prof = cProfile.Profile()
    prof.runcall(lambda: [step() for _ in range(calls)])
    stats = pstats.Stats(prof)
    products = sum(v[3] for k, v in stats.stats.items()
                   if (k[2] == "matmul" and k[0].endswith("_backend.py")) or k[2] in ("einsum", "tensordot"))
    return products / stats.total_tt if stats.total_tt else 0.0


def blas_kernel() -> str:
    """Which BLAS library and kernel NumPy runs, as threadpoolctl reports it."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl)"
    return ", ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}" for i in threadpool_info()
                     if i.get("user_api") == "blas") or "none"


def worker(threads: int, repeat: int, models: list[str]) -> list[dict]:
    """Time each model's training step in both libraries (this process already has its thread count)."""
    import time

    import torch

    import ember

    torch.set_num_threads(threads)
    rows = []
    for name in models:
        torch.manual_seed(0)
        t_model, shape = build(torch, name)
        e_model, _ = build(ember, name)
        e_model.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t_model.state_dict().items()})
        x, y = batch(name, shape, np.random.default_rng(0))
        setups = {"torch": (torch, t_model, torch.tensor(x), torch.tensor(y)),
                  "ember": (ember, e_model, ember.tensor(x), ember.tensor(y))}
        steps = {}
        for lib_name, (lib, model, xb, yb) in setups.items():
            opt = (lib.optim.AdamW if name == "tlm" else lib.optim.Adam)(model.parameters(), lr=1e-3)

            def step(lib=lib, model=model, xb=xb, yb=yb, opt=opt) -> float:
                loss = lib.nn.functional.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                return loss.item()

            step()  # the warm-up
            steps[lib_name] = step
        # about 0.5 s per measurement, at least 3 steps; the libraries take turns, so that a slow spell
        # of a shared machine hits both, and each keeps its best of `repeat` (least disturbed). A pause
        # before each turn lets the other library's idle threads (which spin-wait for a while after
        # work: OpenMP's and OpenBLAS's) go to sleep first, and two untimed steps after it bring the
        # caches and the cores' clocks back to a training loop's steady state.
        # both take the same number of steps, so that their losses can be compared afterwards
        t0 = time.perf_counter()
        for step in steps.values():
            step()
        count = max(3, int(1.0 / max(time.perf_counter() - t0, 1e-6)))
        number = dict.fromkeys(steps, count)
        times = {lib_name: float("inf") for lib_name in steps}
        for _ in range(repeat):
            for lib_name, step in steps.items():
                time.sleep(0.3)
                step()
                step()
                t0 = time.perf_counter()
                for _ in range(number[lib_name]):
                    step()
                times[lib_name] = min(times[lib_name], (time.perf_counter() - t0) / number[lib_name])
        # both have taken the same number of steps on the same batch: their next losses must agree
        last_loss = {lib_name: step() for lib_name, step in steps.items()}
        share = blas_share(steps["ember"])
        rows.append({"model": name, "batch": shape[0], "threads": threads, "torch_ms": times["torch"] * 1e3,
                     "ember_ms": times["ember"] * 1e3, "ratio": times["ember"] / times["torch"],
                     "loss_diff": abs(last_loss["torch"] - last_loss["ember"]), "blas_share": share,
                     "kernel": blas_kernel()})
    return rows


def rss_worker(lib_name: str, name: str, steps: int = 5) -> float:
    """Peak resident-memory growth (MiB) of ``steps`` training steps of model ``name``, this process importing
    only ``lib_name``: the peak (ru_maxrss) minus the resident size once the model and batch exist."""
    import importlib
    import resource

    lib = importlib.import_module(lib_name)
    model, shape = build(lib, name)
    x, y = batch(name, shape, np.random.default_rng(0))
    xb, yb = lib.tensor(x), lib.tensor(y)
    opt = (lib.optim.AdamW if name == "tlm" else lib.optim.Adam)(model.parameters(), lr=1e-3)
    with open("/proc/self/statm") as f:
        before = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    for _ in range(steps):
        loss = lib.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before) / 2 ** 20


def peak_rss(threads: int, models: list[str]) -> dict:
    """``{(library, model): MiB}``: each model's step in a fresh process per library (see ``rss_worker``)."""
    env = dict(os.environ, **{v: str(threads) for v in _THREAD_VARS})
    found = {}
    for lib_name in ("torch", "ember"):
        for name in models:
            cmd = [sys.executable, os.path.abspath(__file__), "--rss", lib_name, "--models", name]
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, timeout=600).stdout
            found[(lib_name, name)] = json.loads(out.strip().splitlines()[-1])
    return found


def main() -> None:
    """Run one worker process per thread count and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts to compare")
    p.add_argument("--repeat", type=int, default=5, help="measurements per step (the best is kept)")
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--rss", choices=("torch", "ember"), default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.repeat, args.models)))
        return
    if args.rss is not None:
        print(json.dumps(rss_worker(args.rss, args.models[0])))
        return

    rows = []
    # the machine may be shared: a busy one inflates the multi-threaded numbers most
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", file=sys.stderr)
    for n in args.threads:
        env = dict(os.environ, **{v: str(n) for v in _THREAD_VARS})
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(n), "--repeat", str(args.repeat),
               "--models", *args.models]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        rows += json.loads(out.strip().splitlines()[-1])
        print(f"measured with {n} thread{'s' if n > 1 else ''}", file=sys.stderr)

    print(f"NumPy's BLAS: {rows[0]['kernel']}")
    print(f"{'training step (fwd+loss+bwd+Adam)':36s} {'batch':>5s} {'threads':>7s} {'torch':>10s} {'ember':>10s} "
          f"{'ember/torch':>11s} {'|dloss|':>9s} {'BLAS share':>10s}")
    for r in rows:
        print(f"{MODELS[r['model']]:36s} {r['batch']:5d} {r['threads']:7d} {r['torch_ms']:8.2f}ms "
              f"{r['ember_ms']:8.2f}ms "
              f"{r['ratio']:10.2f}x {r['loss_diff']:9.1e} {r['blas_share']:9.0%}")
    print("\npeak resident memory of 5 training steps above the built model (a process per library and model)")
    print(f"{'training step':36s} {'threads':>7s} {'torch':>10s} {'ember':>10s} {'ember/torch':>11s}")
    for n in args.threads:
        rss = peak_rss(n, args.models)
        for name in args.models:
            t, e = rss[("torch", name)], rss[("ember", name)]
            print(f"{MODELS[name]:36s} {n:7d} {t:7.1f}MiB {e:7.1f}MiB {e / max(t, 0.1):10.2f}x")


if __name__ == "__main__":
    main()
