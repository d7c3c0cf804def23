"""pytorch/examples mnist_forward_forward: https://github.com/pytorch/examples/blob/main/mnist_forward_forward/main.py
(BSD-3-Clause; after Hinton's Forward-Forward algorithm and M. Pezeshki's implementation, MIT).

Adapted: 32 fake flattened 28x28 images to train and 16 to test, layers 784-40-40, 6 epochs per layer; the
wrong labels of the negative data come from NumPy instead of torch.randint. Each layer is an ``nn.Linear``
subclass with its own Adam and its own ``train``, kept in a plain list (not a ModuleList), as the program has it.
"""
import numpy as np
import torch
import torch.nn as nn
from torch.optim import Adam

from _harness import Args, images

losses = []
args = Args(epochs=6, lr=0.03, threshold=2.0, log_interval=1, train_size=32, test_size=16)
device = torch.device("cpu")
pick = np.random.default_rng(0)


def get_y_neg(y):
    y_neg = y.clone()
    for idx, y_samp in enumerate(y):
        allowed_indices = list(range(10))
        allowed_indices.remove(y_samp.item())
        y_neg[idx] = torch.tensor(allowed_indices)[torch.tensor(int(pick.integers(len(allowed_indices))))].item()
    return y_neg.to(device)


def overlay_y_on_x(x, y, classes=10):
    x_ = x.clone()
    x_[:, :classes] *= 0.0
    x_[range(x.shape[0]), y] = x.max()
    return x_


class Net(torch.nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.layers = []
        for d in range(len(dims) - 1):
            self.layers = self.layers + [Layer(dims[d], dims[d + 1]).to(device)]

    def predict(self, x):
        goodness_per_label = []
        for label in range(10):
            h = overlay_y_on_x(x, label)
            goodness = []
            for layer in self.layers:
                h = layer(h)
                goodness = goodness + [h.pow(2).mean(1)]
            goodness_per_label += [sum(goodness).unsqueeze(1)]
        goodness_per_label = torch.cat(goodness_per_label, 1)
        return goodness_per_label.argmax(1), goodness_per_label

    def train(self, x_pos, x_neg):
        h_pos, h_neg = x_pos, x_neg
        for i, layer in enumerate(self.layers):
            h_pos, h_neg = layer.train(h_pos, h_neg)


class Layer(nn.Linear):
    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__(in_features, out_features, bias, device, dtype)
        self.relu = torch.nn.ReLU()
        self.opt = Adam(self.parameters(), lr=args.lr)
        self.threshold = args.threshold
        self.num_epochs = args.epochs

    def forward(self, x):
        x_direction = x / (x.norm(2, 1, keepdim=True) + 1e-4)
        return self.relu(torch.mm(x_direction, self.weight.T) + self.bias.unsqueeze(0))

    def train(self, x_pos, x_neg):
        for i in range(self.num_epochs):
            g_pos = self.forward(x_pos).pow(2).mean(1)
            g_neg = self.forward(x_neg).pow(2).mean(1)
            loss = torch.log1p(torch.exp(torch.cat([-g_pos + self.threshold, g_neg - self.threshold]))).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            if i % args.log_interval == 0:
                losses.append(loss.item())
        return self.forward(x_pos).detach(), self.forward(x_neg).detach()


def main(init):
    global pick
    pick = np.random.default_rng(0)
    losses.clear()
    torch.manual_seed(1)
    x, y = images(torch, args.train_size, (784,), 10, seed=1)
    x_te, y_te = images(torch, args.test_size, (784,), 10, seed=2)
    net = Net([784, 40, 40])
    for i, layer in enumerate(net.layers):
        init(torch, layer, f"layer{i}")
    x_pos = overlay_y_on_x(x, y)
    y_neg = get_y_neg(y)
    x_neg = overlay_y_on_x(x, y_neg)
    net.train(x_pos, x_neg)
    pred, goodness = net.predict(x)
    train_error = 1.0 - pred.eq(y).float().mean().item()
    pred_te, goodness_te = net.predict(x_te)
    test_error = 1.0 - pred_te.eq(y_te).float().mean().item()
    return {"losses": list(losses), "metric": [goodness.detach().numpy(), goodness_te.detach().numpy(),
                                               train_error, test_error, y_neg.numpy()]}
