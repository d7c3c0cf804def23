"""Learning-rate range test, then one-cycle training, after davidtvs/pytorch-lr-finder (torch_lr_finder/
lr_finder.py; MIT): https://github.com/davidtvs/pytorch-lr-finder

The finder stores ``copy.deepcopy`` of the model's and optimizer's ``state_dict()``s, sets every param group to
the start lr, steps an ``ExponentialLR`` that subclasses ``torch.optim.lr_scheduler._LRScheduler`` (its
``get_lr`` reads ``self.last_epoch`` and ``self.base_lrs``), smooths the loss exponentially, stops when it
exceeds 5x the best, restores both state dicts, and suggests the lr at the steepest descent (``np.gradient``
of the smoothed curve). The suggested rate then becomes ``max_lr`` of ``OneCycleLR`` for a short run.
Adapted: a small MLP on fake 2-class blobs instead of a CIFAR ResNet; the range test spans 1e-4 to 10 over
12 iterations with the data iterator restarted as the repo's ``DataLoaderIter``; 6 one-cycle steps with SGD.
"""
import copy

import numpy as np
import torch
import torch.nn as nn
from torch.optim.lr_scheduler import _LRScheduler


class ExponentialLR(_LRScheduler):
    def __init__(self, optimizer, end_lr, num_iter, last_epoch=-1):
        self.end_lr = end_lr
        if num_iter <= 1:
            raise ValueError("`num_iter` must be larger than 1")
        self.num_iter = num_iter
        super(ExponentialLR, self).__init__(optimizer, last_epoch)

    def get_lr(self):
        curr_iter = self.last_epoch
        r = curr_iter / (self.num_iter - 1)
        return [base_lr * (self.end_lr / base_lr) ** r for base_lr in self.base_lrs]


class LRFinder(object):
    def __init__(self, model, optimizer, criterion):
        self.optimizer = optimizer
        self.model = model
        self.criterion = criterion
        self.history = {"lr": [], "loss": []}
        self.best_loss = None
        self.state_cacher = {"model": copy.deepcopy(self.model.state_dict()),
                             "optimizer": copy.deepcopy(self.optimizer.state_dict())}

    def reset(self):
        self.model.load_state_dict(self.state_cacher["model"])
        self.optimizer.load_state_dict(self.state_cacher["optimizer"])

    def range_test(self, train_loader, start_lr, end_lr=10, num_iter=100, smooth_f=0.05, diverge_th=5):
        self.history = {"lr": [], "loss": []}
        self.best_loss = None
        for param_group in self.optimizer.param_groups:
            param_group["lr"] = start_lr
        lr_schedule = ExponentialLR(self.optimizer, end_lr, num_iter)
        iterator = iter(train_loader)
        for iteration in range(num_iter):
            try:
                inputs, labels = next(iterator)
            except StopIteration:
                iterator = iter(train_loader)
                inputs, labels = next(iterator)
            loss = self._train_batch(inputs, labels)
            self.history["lr"].append(lr_schedule.get_last_lr()[0])
            lr_schedule.step()
            if iteration == 0:
                self.best_loss = loss
            else:
                if smooth_f > 0:
                    loss = smooth_f * loss + (1 - smooth_f) * self.history["loss"][-1]
                if loss < self.best_loss:
                    self.best_loss = loss
            self.history["loss"].append(loss)
            if loss > diverge_th * self.best_loss:
                break

    def _train_batch(self, inputs, labels):
        self.model.train()
        self.optimizer.zero_grad()
        outputs = self.model(inputs)
        loss = self.criterion(outputs, labels)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def suggestion(self):
        lrs, losses = np.array(self.history["lr"]), np.array(self.history["loss"])
        min_grad_idx = int(np.gradient(losses).argmin())
        return lrs[min_grad_idx]


def blobs(n, rng):
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 4)) + 1.5 * (2 * y[:, None] - 1)
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)


def main(init):
    rng = np.random.default_rng(0)
    x, y = blobs(64, rng)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    model = init(torch, nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2)))
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    lr_finder = LRFinder(model, optimizer, criterion)
    lr_finder.range_test(loader, start_lr=1e-4, end_lr=10, num_iter=12)
    lr_finder.reset()
    restored = model[0].weight.detach().numpy().copy()
    max_lr = float(lr_finder.suggestion())
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=6)
    losses, lrs = [], []
    iterator = iter(loader)
    for step in range(6):
        try:
            inputs, labels = next(iterator)
        except StopIteration:
            iterator = iter(loader)
            inputs, labels = next(iterator)
        optimizer.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        lrs.append(scheduler.get_last_lr()[0])
    return {"losses": losses, "metric": [lr_finder.history["lr"], lr_finder.history["loss"], max_lr, lrs, restored,
                                         optimizer.param_groups[0]["momentum"], len(optimizer.state)]}
