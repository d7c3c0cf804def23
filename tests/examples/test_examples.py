"""End-to-end checks of the training examples: learning, agreement with torch, the command lines, exact resumption."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import ember
from ember.datasets import MNIST1D
from ember.examples import fashion_mnist, mnist1d
from ember.utils.data import DataLoader

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _torch_twin(name: str) -> torch.nn.Module:
    """The same architecture as ember's example model, written in torch with the same parameter names."""
    tn = torch.nn
    if name == "mnist1d_cnn":
        class CNN(tn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = tn.Conv1d(1, 25, 5, stride=2, padding=1)
                self.conv2 = tn.Conv1d(25, 25, 3, stride=2, padding=1)
                self.conv3 = tn.Conv1d(25, 25, 3, stride=2, padding=1)
                self.linear = tn.Linear(125, 10)

            def forward(self, x):
                h = self.conv3(self.conv2(self.conv1(x.unsqueeze(1)).relu()).relu()).relu()
                return self.linear(h.flatten(1))
        return CNN()
    if name == "mnist1d_gru":
        class GRU(tn.Module):
            def __init__(self):
                super().__init__()
                self.gru = tn.GRU(1, 6, batch_first=True, bidirectional=True)
                self.linear = tn.Linear(480, 10)

            def forward(self, x):
                return self.linear(self.gru(x.unsqueeze(-1))[0].flatten(1))
        return GRU()
    if name == "fashion_cnn":
        class CNN(tn.Module):
            def __init__(self):
                super().__init__()
                self.features = tn.Sequential(
                    tn.Conv2d(1, 32, 3, padding=1, bias=False), tn.BatchNorm2d(32), tn.ReLU(), tn.MaxPool2d(2),
                    tn.Conv2d(32, 64, 3, padding=1, bias=False), tn.BatchNorm2d(64), tn.ReLU(), tn.MaxPool2d(2))
                self.classifier = tn.Linear(3136, 10)

            def forward(self, x):
                return self.classifier(self.features(x).flatten(1))
        return CNN()
    raise ValueError(name)


def test_mnist1d_cnn_loss_falls_and_is_reproducible():
    train = MNIST1D(train=True)
    subset = ember.utils.data.Subset(train, list(range(600)))

    def run() -> list[float]:
        ember.manual_seed(0)
        model = mnist1d.CNN()
        opt = ember.optim.Adam(model.parameters(), lr=1e-2)
        loader = DataLoader(subset, batch_size=50, shuffle=True, generator=ember.Generator().manual_seed(0))
        losses = []
        for _ in range(4):  # 48 steps
            for x, y in loader:
                loss = ember.nn.functional.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
        return losses

    losses = run()
    assert len(losses) == 48
    assert np.isfinite(losses).all()
    # chance level is ln 10 = 2.30; a CNN that learns is well below it after a few dozen steps
    assert losses[0] > 2.0
    assert np.mean(losses[-8:]) < 0.75 * np.mean(losses[:4])
    assert run() == losses  # same seed, same losses


@pytest.mark.parametrize("name,shape,train_mode", [("mnist1d_cnn", (16, 40), True), ("mnist1d_gru", (16, 40), True),
                                                   ("fashion_cnn", (8, 1, 28, 28), True),
                                                   ("fashion_cnn", (8, 1, 28, 28), False)])
def test_logits_and_grads_match_torch(name, shape, train_mode):
    torch.manual_seed(0)
    t_model = _torch_twin(name)
    e_model = {"mnist1d_cnn": mnist1d.CNN, "mnist1d_gru": mnist1d.GRUClassifier,
               "fashion_cnn": fashion_mnist.CNN}[name]()
    if name == "fashion_cnn":  # non-trivial running statistics, so eval mode is tested too
        with torch.no_grad():
            for m in t_model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
    e_model.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t_model.state_dict().items()})
    t_model.train(train_mode)
    e_model.train(train_mode)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    y = np.arange(shape[0]) % 10
    t_logits = t_model(torch.tensor(x))
    e_logits = e_model(ember.tensor(x))
    np.testing.assert_allclose(e_logits.detach().numpy(), t_logits.detach().numpy(), rtol=1e-4, atol=1e-5)
    torch.nn.functional.cross_entropy(t_logits, torch.tensor(y)).backward()
    ember.nn.functional.cross_entropy(e_logits, ember.tensor(y)).backward()
    e_params = dict(e_model.named_parameters())
    for k, p in t_model.named_parameters():
        np.testing.assert_allclose(e_params[k].grad.numpy(), p.grad.numpy(), rtol=1e-3, atol=1e-5, err_msg=k)
    if train_mode and name == "fashion_cnn":  # the running statistics moved the same way
        e_state = e_model.state_dict()
        for k, v in t_model.state_dict().items():
            np.testing.assert_allclose(e_state[k].numpy(), v.numpy(), rtol=1e-4, atol=1e-6, err_msg=k)


def _run(module: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_mnist1d_command_line(tmp_path):
    r = _run("ember.examples.mnist1d", "--steps", "20", "--eval-every", "10", "--plain", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    for name, paper in mnist1d.PAPER_ACCURACY.items():
        row = next(line for line in r.stdout.splitlines() if line.startswith(name + " "))
        assert f"{paper:.0f}%" in row
        assert os.path.exists(tmp_path / f"{name}.safetensors")
    assert "20/20" in r.stdout
    # the saved weights load into a fresh model
    model = mnist1d.GRUClassifier()
    model.load_state_dict(ember.load(str(tmp_path / "gru.safetensors")))


def test_mnist1d_same_seed_same_losses():
    train, test = MNIST1D(train=True), MNIST1D(train=False)
    runs = [mnist1d.train_model("mlp", train, test, steps=15, batch_size=100, lr=1e-2, seed=s, eval_every=15,
                                plain=True)["losses"] for s in (3, 3, 4)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_fashion_mnist_command_line(tmp_path):
    r = _run("ember.examples.fashion_mnist", "--model", "cnn", "--epochs", "1", "--limit", "256", "--test-limit",
             "256", "--batch-size", "64", "--plain", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "epoch 1: train loss" in r.stdout
    assert "final test accuracy" in r.stdout
    assert os.path.exists(tmp_path / "cnn.safetensors")


def test_fashion_mnist_resume_is_exact(tmp_path):
    # three epochs of two steps, interrupted after the first: the loader order, the optimizer and the
    # learning-rate schedule (which sets epoch 3's rate) must all carry over
    common = ["--model", "cnn", "--limit", "128", "--test-limit", "64", "--batch-size", "64", "--plain",
              "--seed", "5", "--epochs", "3"]
    straight = fashion_mnist.main(common + ["--out", str(tmp_path / "a")])
    fashion_mnist.main(common + ["--stop-after", "1", "--out", str(tmp_path / "b")])
    ckpt = str(tmp_path / "b" / "cnn.safetensors")
    assert int(ember.load(ckpt)["epoch"]) == 1
    resumed = fashion_mnist.main(common + ["--out", str(tmp_path / "b"), "--resume", ckpt])
    assert len(straight["losses"]) == 6
    assert resumed["losses"] == straight["losses"]  # bit for bit
    assert resumed["test_acc"] == straight["test_acc"]
    assert straight["losses"][2:4] != straight["losses"][:2]  # epoch 2 is not a replay of epoch 1
    a = ember.load(str(tmp_path / "a" / "cnn.safetensors"))
    b = ember.load(ckpt)
    for k, v in a["model"].items():  # weights and batch-norm statistics
        np.testing.assert_array_equal(b["model"][k].numpy(), v.numpy(), err_msg=k)
