"""torchvision's classification training reference (references/classification/train.py and utils.py,
BSD-3-Clause): https://github.com/pytorch/vision/tree/main/references/classification

What the reference adds to a plain loop: ``CrossEntropyLoss(label_smoothing=...)``; parameter groups from
``set_weight_decay`` (no weight decay on normalisation layers, found by walking ``named_modules``); a warm-up
``LinearLR`` chained to ``CosineAnnealingLR`` by ``SequentialLR``; ``clip_grad_norm_``; an
``ExponentialMovingAverage`` subclass of ``torch.optim.swa_utils.AveragedModel`` updated every few iterations,
with ``n_averaged.fill_(0)`` during warm-up; ``evaluate`` for both model and EMA with top-1/top-5 ``topk``.
The model is a small ResNet whose stages run through ``torch.utils.checkpoint.checkpoint_sequential``, as
memory-bound training scripts do. Adapted: 16x16 fake images of 10 classes (16 to train in batches of 4,
8 to test), 2 epochs, widths 8 and 16, EMA every 2 iterations.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint_sequential

from _harness import Args, images, loader

losses = []


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CheckpointedResNet(nn.Module):
    def __init__(self, num_classes=10, segments=2):
        super().__init__()
        self.segments = segments
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True))
        self.layers = nn.Sequential(Block(8, 8, 1), Block(8, 16, 2), Block(16, 16, 1), Block(16, 16, 2))
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.stem(x)
        if self.training and x.requires_grad or self.training and torch.is_grad_enabled():
            x = checkpoint_sequential(self.layers, self.segments, x, use_reentrant=False)
        else:
            x = self.layers(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class ExponentialMovingAverage(torch.optim.swa_utils.AveragedModel):
    """Maintains moving averages of model parameters using an exponential decay.
    ``ema_avg = decay * avg_model_param + (1 - decay) * model_param``"""

    def __init__(self, model, decay, device="cpu"):
        def ema_avg(avg_model_param, model_param, num_averaged):
            return decay * avg_model_param + (1 - decay) * model_param

        super().__init__(model, device, ema_avg, use_buffers=True)


def set_weight_decay(model, weight_decay, norm_weight_decay=None):
    norm_classes = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm,
                    nn.modules.instancenorm._InstanceNorm, nn.LocalResponseNorm)
    params = {"other": [], "norm": []}
    params_weight_decay = {"other": weight_decay, "norm": norm_weight_decay}

    def _add_params(module, prefix=""):
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            if norm_weight_decay is not None and isinstance(module, norm_classes):
                params["norm"].append(p)
            else:
                params["other"].append(p)
        for child_name, child_module in module.named_children():
            child_prefix = f"{prefix}.{child_name}" if prefix != "" else child_name
            _add_params(child_module, prefix=child_prefix)

    _add_params(model)
    param_groups = []
    for key in params:
        if len(params[key]) > 0:
            param_groups.append({"params": params[key], "weight_decay": params_weight_decay[key]})
    return param_groups


def accuracy(output, target, topk=(1,)):
    with torch.inference_mode():
        maxk = max(topk)
        batch_size = target.size(0)
        if target.ndim == 2:
            target = target.max(dim=1)[1]
        _, pred = output.topk(maxk, 1, True, True)
        pred = pred.t()
        correct = pred.eq(target[None])
        res = []
        for k in topk:
            correct_k = correct[:k].flatten().sum(dtype=torch.float32)
            res.append(correct_k * (100.0 / batch_size))
        return res


def train_one_epoch(model, criterion, optimizer, data_loader, device, epoch, args, model_ema=None):
    model.train()
    for i, (image, target) in enumerate(data_loader):
        image, target = image.to(device), target.to(device)
        output = model(image)
        loss = criterion(output, target)
        optimizer.zero_grad()
        loss.backward()
        if args.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad_norm)
        optimizer.step()
        if model_ema and i % args.model_ema_steps == 0:
            model_ema.update_parameters(model)
            if epoch < args.lr_warmup_epochs:
                # reset ema buffer to keep copying weights during warmup period
                model_ema.n_averaged.fill_(0)
        losses.append(loss.item())


def evaluate(model, criterion, data_loader, device):
    model.eval()
    total, top1, top5, loss_sum = 0, 0.0, 0.0, 0.0
    with torch.inference_mode():
        for image, target in data_loader:
            output = model(image.to(device, non_blocking=True))
            loss_sum += criterion(output, target).item() * image.shape[0]
            acc1, acc5 = accuracy(output, target, topk=(1, 5))
            top1 += acc1.item() * image.shape[0]
            top5 += acc5.item() * image.shape[0]
            total += image.shape[0]
    return [loss_sum / total, top1 / total, top5 / total]


def main(init):
    losses.clear()
    args = Args(epochs=2, lr=0.1, momentum=0.9, weight_decay=1e-4, norm_weight_decay=0.0, label_smoothing=0.1,
                lr_warmup_epochs=1, lr_warmup_decay=0.1, clip_grad_norm=1.0, model_ema_steps=2,
                model_ema_decay=0.9, batch_size=4)
    torch.manual_seed(0)
    device = torch.device("cpu")
    x, y = images(torch, 16, (3, 16, 16), 10, seed=9)
    xt, yt = images(torch, 8, (3, 16, 16), 10, seed=10)
    data_loader, data_loader_test = loader(torch, x, y, args.batch_size), loader(torch, xt, yt, 4)
    model = init(torch, CheckpointedResNet())
    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    parameters = set_weight_decay(model, args.weight_decay, norm_weight_decay=args.norm_weight_decay)
    optimizer = torch.optim.SGD(parameters, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay,
                                nesterov=False)
    iters_per_epoch = len(data_loader)
    main_lr_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=(args.epochs - args.lr_warmup_epochs) * iters_per_epoch, eta_min=0.0)
    warmup_lr_scheduler = torch.optim.lr_scheduler.LinearLR(
        optimizer, start_factor=args.lr_warmup_decay, total_iters=args.lr_warmup_epochs * iters_per_epoch)
    lr_scheduler = torch.optim.lr_scheduler.SequentialLR(
        optimizer, schedulers=[warmup_lr_scheduler, main_lr_scheduler],
        milestones=[args.lr_warmup_epochs * iters_per_epoch])
    adjust = args.batch_size * args.model_ema_steps / args.epochs
    alpha = 1.0 - args.model_ema_decay
    alpha = min(1.0, alpha * adjust)
    model_ema = ExponentialMovingAverage(model, device=device, decay=1.0 - alpha)
    results, lrs = [], []
    for epoch in range(args.epochs):
        train_one_epoch(model, criterion, optimizer, data_loader, device, epoch, args, model_ema)
        for _ in range(iters_per_epoch):  # the reference steps per iteration when --lr-scheduler is per step
            lr_scheduler.step()
        lrs.append([g["lr"] for g in optimizer.param_groups])
        results.append(evaluate(model, criterion, data_loader_test, device=device))
        results.append(evaluate(model_ema, criterion, data_loader_test, device=device))
    return {"losses": losses, "metric": [results, lrs, [len(g["params"]) for g in optimizer.param_groups],
                                         int(model_ema.n_averaged), model.layers[3].bn2.running_var.numpy()]}
