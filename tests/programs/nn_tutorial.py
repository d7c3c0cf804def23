"""PyTorch tutorials, What is torch.nn really?: https://github.com/pytorch/tutorials/blob/main/beginner_source/nn_tutorial.py
(BSD-3-Clause).

Adapted: fake MNIST-shaped data (256 training and 64 validation rows of 784) instead of the pickled MNIST
download; one epoch at each stage; no plots. The stages follow the tutorial: logistic regression from raw
tensors (an nll that indexes with a ``range``), F.cross_entropy, nn.Module with nn.Parameter, nn.Linear,
optim, Dataset/DataLoader, fit() with validation, and the CNN through nn.Sequential with a Lambda layer.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

bs = 64
lr = 0.5
epochs = 1


class Mnist_Logistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(784, 10) / math.sqrt(784))
        self.bias = nn.Parameter(torch.zeros(10))

    def forward(self, xb):
        return xb @ self.weights + self.bias


class Mnist_Logistic_Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(784, 10)

    def forward(self, xb):
        return self.lin(xb)


class Lambda(nn.Module):
    def __init__(self, func):
        super().__init__()
        self.func = func

    def forward(self, x):
        return self.func(x)


def preprocess(x):
    return x.view(-1, 1, 28, 28)


def main(init):
    rng = np.random.default_rng(0)
    x_train, x_valid = rng.random((256, 784), dtype=np.float32), rng.random((64, 784), dtype=np.float32)
    y_train, y_valid = rng.integers(0, 10, 256), rng.integers(0, 10, 64)
    x_train, y_train, x_valid, y_valid = map(torch.tensor, (x_train, y_train, x_valid, y_valid))
    n, c = x_train.shape
    track = []

    # Neural net from scratch: the initial weights come from NumPy (torch.randn's stream is torch's own)
    weights = torch.tensor(rng.standard_normal((784, 10)).astype(np.float32)) / math.sqrt(784)
    weights.requires_grad_()
    bias = torch.zeros(10, requires_grad=True)

    def log_softmax(x):
        return x - x.exp().sum(-1).log().unsqueeze(-1)

    def model(xb):
        return log_softmax(xb @ weights + bias)

    def nll(input, target):
        return -input[range(target.shape[0]), target].mean()

    loss_func = nll

    def accuracy(out, yb):
        preds = torch.argmax(out, dim=1)
        return (preds == yb).float().mean()

    for epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            pred = model(xb)
            loss = loss_func(pred, yb)
            track.append(loss.item())
            loss.backward()
            with torch.no_grad():
                weights -= weights.grad * lr
                bias -= bias.grad * lr
                weights.grad.zero_()
                bias.grad.zero_()
    metric = [accuracy(model(xb), yb).item()]

    loss_func = F.cross_entropy

    def model(xb):  # noqa: F811
        return xb @ weights + bias
    metric.append(loss_func(model(xb), yb).item())

    def get_model(kind):
        m = init(torch, Mnist_Logistic() if kind == "param" else Mnist_Logistic_Linear(), kind)
        return m, optim.SGD(m.parameters(), lr=lr)

    def loss_batch(model, loss_func, xb, yb, opt=None):
        loss = loss_func(model(xb), yb)
        if opt is not None:
            loss.backward()
            opt.step()
            opt.zero_grad()
        return loss.item(), len(xb)

    def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
        for epoch in range(epochs):
            model.train()
            for xb, yb in train_dl:
                track.append(loss_batch(model, loss_func, xb, yb, opt)[0])
            model.eval()
            with torch.no_grad():
                losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
            val_loss = np.sum(np.multiply(losses, nums)) / np.sum(nums)
            metric.append(val_loss)

    def get_data(train_ds, valid_ds, bs):
        return (DataLoader(train_ds, batch_size=bs, shuffle=False), DataLoader(valid_ds, batch_size=bs * 2))

    train_ds, valid_ds = TensorDataset(x_train, y_train), TensorDataset(x_valid, y_valid)
    model, opt = get_model("param")
    for epoch in range(epochs):  # nn.Module + nn.Parameter, manual updates
        for i in range((n - 1) // bs + 1):
            xb, yb = train_ds[i * bs: i * bs + bs]
            loss = loss_func(model(xb), yb)
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= p.grad * lr
                model.zero_grad()
            track.append(loss.item())
    model, opt = get_model("linear")
    fit(epochs, model, loss_func, opt, *get_data(train_ds, valid_ds, bs))

    cnn = nn.Sequential(
        Lambda(preprocess),
        nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        Lambda(lambda x: x.view(x.size(0), -1)),
    )
    init(torch, cnn, "cnn")
    opt = optim.SGD(cnn.parameters(), lr=0.1, momentum=0.9)
    fit(epochs, cnn, loss_func, opt, *get_data(train_ds, valid_ds, bs))
    return {"losses": track, "metric": metric}
