"""locuslab/fast_adversarial: https://github.com/locuslab/fast_adversarial (CIFAR10/train_fgsm.py,
CIFAR10/utils.py, CIFAR10/preact_resnet.py; MIT License), "Fast is better than free": FGSM adversarial training
with a random start, checked by a PGD attack.

Input gradients: a perturbation ``delta`` made a leaf with ``requires_grad = True``, ``delta.grad.detach()``,
``torch.sign`` steps, ``delta.data = clamp(...)`` and ``delta.data[:n] = ...`` rewrites, a ``clamp`` written as
``torch.max(torch.min(X, upper), lower)`` with per-channel tensor limits, then the model step on ``X + delta``;
PGD keeps only the still-correct examples (one-argument ``torch.where``, index rewrites through ``.data``,
``delta.grad.zero_()``) and the worst restart by boolean-mask assignment; a pre-activation ResNet; SGD with
momentum, weight decay and CyclicLR (cycling the momentum too). Adapted: the random starts' ``uniform_`` draws
come from NumPy; apex amp at O0 (no scaling); 8x8 fake images, widths 8 and 16, 2 epochs of 3 batches, PGD
with 3 steps and 2 restarts.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from _harness import images

cifar10_mean = (0.4914, 0.4822, 0.4465)
cifar10_std = (0.2471, 0.2435, 0.2616)
mu = torch.tensor(cifar10_mean).view(3, 1, 1)
std = torch.tensor(cifar10_std).view(3, 1, 1)
upper_limit = ((1 - mu) / std)
lower_limit = ((0 - mu) / std)
rng = np.random.default_rng(0)  # stands in for uniform_'s stream


def clamp(X, lower_limit, upper_limit):
    return torch.max(torch.min(X, upper_limit), lower_limit)


def uniform_(t, low, high):
    """``t.uniform_(low, high)`` with NumPy's draw."""
    return t.copy_(torch.tensor(rng.uniform(low, high, tuple(t.shape)), dtype=t.dtype))


class PreActBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super(PreActBlock, self).__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False))

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if hasattr(self, 'shortcut') else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        out += shortcut
        return out


class PreActResNet(nn.Module):
    def __init__(self, block, num_blocks, widths=(64, 128), num_classes=10):
        super(PreActResNet, self).__init__()
        self.in_planes = widths[0]
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
        self.layer1 = self._make_layer(block, widths[0], num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, widths[1], num_blocks[1], stride=2)
        self.bn = nn.BatchNorm2d(widths[1] * block.expansion)
        self.linear = nn.Linear(widths[1] * block.expansion, num_classes)

    def _make_layer(self, block, planes, num_blocks, stride):
        strides = [stride] + [1] * (num_blocks - 1)
        layers = []
        for stride in strides:
            layers.append(block(self.in_planes, planes, stride))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = self.conv1(x)
        out = self.layer1(out)
        out = self.layer2(out)
        out = F.relu(self.bn(out))
        out = F.avg_pool2d(out, 4)
        out = out.view(out.size(0), -1)
        return self.linear(out)


def attack_pgd(model, X, y, epsilon, alpha, attack_iters, restarts):
    max_loss = torch.zeros(y.shape[0])
    max_delta = torch.zeros_like(X)
    for zz in range(restarts):
        delta = torch.zeros_like(X)
        for i in range(len(epsilon)):
            uniform_(delta[:, i, :, :], -epsilon[i][0][0].item(), epsilon[0][0][0].item())
        delta.data = clamp(delta, lower_limit - X, upper_limit - X)
        delta.requires_grad = True
        for _ in range(attack_iters):
            output = model(X + delta)
            index = torch.where(output.max(1)[1] == y)
            if len(index[0]) == 0:
                break
            loss = F.cross_entropy(output, y)
            loss.backward()
            grad = delta.grad.detach()
            d = delta[index[0], :, :, :]
            g = grad[index[0], :, :, :]
            d = clamp(d + alpha * torch.sign(g), -epsilon, epsilon)
            d = clamp(d, lower_limit - X[index[0], :, :, :], upper_limit - X[index[0], :, :, :])
            delta.data[index[0], :, :, :] = d
            delta.grad.zero_()
        all_loss = F.cross_entropy(model(X + delta), y, reduction='none').detach()
        max_delta[all_loss >= max_loss] = delta.detach()[all_loss >= max_loss]
        max_loss = torch.max(max_loss, all_loss)
    return max_delta


def evaluate_pgd(test_loader, model, attack_iters, restarts):
    epsilon = (8 / 255.) / std
    alpha = (2 / 255.) / std
    pgd_loss, pgd_acc, n = 0, 0, 0
    model.eval()
    for i, (X, y) in enumerate(test_loader):
        pgd_delta = attack_pgd(model, X, y, epsilon, alpha, attack_iters, restarts)
        with torch.no_grad():
            output = model(X + pgd_delta)
            loss = F.cross_entropy(output, y)
            pgd_loss += loss.item() * y.size(0)
            pgd_acc += (output.max(1)[1] == y).sum().item()
            n += y.size(0)
    return pgd_loss / n, pgd_acc / n


def evaluate_standard(test_loader, model):
    test_loss, test_acc, n = 0, 0, 0
    model.eval()
    with torch.no_grad():
        for i, (X, y) in enumerate(test_loader):
            output = model(X)
            loss = F.cross_entropy(output, y)
            test_loss += loss.item() * y.size(0)
            test_acc += (output.max(1)[1] == y).sum().item()
            n += y.size(0)
    return test_loss / n, test_acc / n


def main(init):
    x, y = images(torch, 24, (3, 8, 8), 10)
    x = (x * 0.3 + mu).clamp(0, 1).sub(mu).div(std)  # normalised as transforms.Normalize leaves CIFAR
    train_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    test_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[:8], y[:8]), batch_size=8)
    epsilon = (8 / 255.) / std
    alpha = (10 / 255.) / std
    epochs, lr_max = 2, 0.2
    model = init(torch, PreActResNet(PreActBlock, [1, 1], widths=(8, 16)))
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr_max, momentum=0.9, weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss()
    lr_steps = epochs * len(train_loader)
    scheduler = torch.optim.lr_scheduler.CyclicLR(opt, base_lr=0., max_lr=lr_max, step_size_up=lr_steps / 2,
                                                  step_size_down=lr_steps / 2)
    losses = []
    for epoch in range(epochs):
        train_loss, train_acc, train_n = 0, 0, 0
        for i, (X, y) in enumerate(train_loader):
            delta = torch.zeros_like(X)
            for j in range(len(epsilon)):
                uniform_(delta[:, j, :, :], -epsilon[j][0][0].item(), epsilon[0][0][0].item())
            delta.data = clamp(delta, lower_limit - X, upper_limit - X)
            delta.requires_grad = True
            output = model(X + delta[:X.size(0)])
            loss = F.cross_entropy(output, y)
            loss.backward()
            grad = delta.grad.detach()
            delta.data = clamp(delta + alpha * torch.sign(grad), -epsilon, epsilon)
            delta.data[:X.size(0)] = clamp(delta[:X.size(0)], lower_limit - X, upper_limit - X)
            delta = delta.detach()
            output = model(X + delta[:X.size(0)])
            loss = criterion(output, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            train_loss += loss.item() * y.size(0)
            train_acc += (output.max(1)[1] == y).sum().item()
            train_n += y.size(0)
            scheduler.step()
            losses.append(loss.item())
        losses.append(train_loss / train_n)
    pgd_loss, pgd_acc = evaluate_pgd(test_loader, model, 3, 2)
    test_loss, test_acc = evaluate_standard(test_loader, model)
    return {"losses": losses, "metric": [pgd_loss, pgd_acc, test_loss, test_acc, scheduler.get_last_lr()[0]]}
