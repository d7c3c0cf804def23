"""Stochastic Weight Averaging as PyTorch documents it (docs/source/optim.rst "Weight Averaging (SWA and EMA)"
and the ``AveragedModel`` example in torch/optim/swa_utils.py; BSD-3-Clause):
https://github.com/pytorch/pytorch/blob/main/docs/source/optim.rst

``AveragedModel`` for SWA (equal weights, updated each epoch after ``swa_start``) and for EMA
(``multi_avg_fn=get_ema_multi_avg_fn(0.999)``, ``use_buffers=True``, updated each step), ``CosineAnnealingLR``
before ``swa_start`` and ``SWALR`` (cosine annealing to ``swa_lr``) after, ``update_bn`` to recompute the
averaged model's BatchNorm statistics, and predictions of both averaged models; the steps accumulate
gradients over two batches with a disabled ``GradScaler`` (``scale``/``unscale_``/``step``/``update``) and
clip them with ``clip_grad_norm_(error_if_nonfinite=True)``, skipping a step whose gradients are not finite
(one sample's loss weight is ``inf``), as training scripts guard against divergence. Adapted: a small BatchNorm CNN
on fake 1x12x12 images of 4 classes (24 in batches of 4), 6 epochs, swa_start 3, anneal_epochs 2.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import SWALR, AveragedModel, get_ema_multi_avg_fn, update_bn

from _harness import images


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 3 * 3, 4)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(torch.flatten(x, 1))


def main(init):
    x, y = images(torch, 24, (1, 12, 12), 4, seed=5)
    w = torch.ones(24)
    w[9] = float("inf")  # a corrupt sample weight: its batch's loss and gradients are not finite
    train_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y, w), batch_size=4)
    test_input = images(torch, 8, (1, 12, 12), 4, seed=6)[0]
    model = init(torch, Net())
    loss_fn = nn.CrossEntropyLoss(reduction="none")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    swa_model = AveragedModel(model)
    ema_model = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999), use_buffers=True)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=6)
    swa_start = 3
    swa_scheduler = SWALR(optimizer, swa_lr=0.05, anneal_epochs=2, anneal_strategy="cos")
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    accumulation_steps = 2
    losses, lrs, skipped = [], [], []
    for epoch in range(6):
        model.train()
        for i, (input, target, weight) in enumerate(train_loader):
            loss = (loss_fn(model(input), target) * weight).mean() / accumulation_steps
            scaler.scale(loss).backward()
            if (i + 1) % accumulation_steps == 0:
                scaler.unscale_(optimizer)
                try:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0, error_if_nonfinite=True)
                except RuntimeError:
                    skipped.append((epoch, i))
                    optimizer.zero_grad()
                    continue
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad()
                ema_model.update_parameters(model)
            if torch.isfinite(loss):
                losses.append(loss.item())
        if epoch > swa_start:
            swa_model.update_parameters(model)
            swa_scheduler.step()
        else:
            scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    update_bn(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=4), swa_model)
    with torch.no_grad():
        swa_model.eval()
        ema_model.eval()
        preds = [swa_model(test_input).numpy(), ema_model(test_input).numpy()]
    bn = swa_model.module.bn1
    return {"losses": losses, "metric": [lrs, skipped, int(swa_model.n_averaged), preds,
                                         bn.running_mean.numpy(), bn.running_var.numpy()]}
