"""ConvNeXt after facebookresearch/ConvNeXt (models/convnext.py, engine.py, utils.py, optim_factory.py; MIT
License): https://github.com/facebookresearch/ConvNeXt

The ConvNeXt block (depthwise 7x7 conv, ``permute`` to channels-last, ``F.layer_norm``, pointwise Linear
layers with GELU, layer scale ``gamma``, ``permute`` back, DropPath), the channels-first LayerNorm written
with ``mean``/``pow``/``sqrt`` and ``[:, None, None]``, the patchify stem and the downsampling layers,
``trunc_normal_`` init and the head scaled by ``.data.mul_``; training as engine.py runs it in full
precision: gradient accumulation (``loss /= update_freq``, a step every ``update_freq`` batches), the
learning rate and weight decay set per iteration from utils.cosine_scheduler (linear warm-up, then cosine) on
parameter groups with ``lr_scale`` and no decay for 1-D weights and biases, AdamW, label smoothing, timm's
ModelEma (a ``deepcopy`` updated in place under ``no_grad``) and evaluation of both. Adapted: depths
[3, 3, 9, 3] and dims [96, 192, 384, 768] made [1, 1, 2, 1] and [8, 16, 24, 32]; 32x32 fake images, 10
classes; timm's DropPath draws its per-sample keep mask with ``bernoulli_`` from probabilities NumPy made
0 or 1 (the libraries' random streams differ), then ``div_`` as timm; timm's LabelSmoothingCrossEntropy is
``nn.CrossEntropyLoss(label_smoothing=0.1)``; 8 batches of 4, update_freq 2, one epoch.
"""
import copy
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.init import trunc_normal_

from _harness import images, loader

DROP_RNG = None


def drop_path(x, drop_prob: float = 0., training: bool = False, scale_by_keep: bool = True):
    if drop_prob == 0. or not training:
        return x
    keep_prob = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)  # work with diff dim tensors, not just 2D ConvNets
    keep = torch.tensor((DROP_RNG.random(shape) < keep_prob).astype(np.float32))
    random_tensor = x.new_empty(shape).bernoulli_(keep)
    if keep_prob > 0.0 and scale_by_keep:
        random_tensor.div_(keep_prob)
    return x * random_tensor


class DropPath(nn.Module):
    def __init__(self, drop_prob=None, scale_by_keep=True):
        super(DropPath, self).__init__()
        self.drop_prob = drop_prob
        self.scale_by_keep = scale_by_keep

    def forward(self, x):
        return drop_path(x, self.drop_prob, self.training, self.scale_by_keep)


class Block(nn.Module):
    def __init__(self, dim, drop_path=0., layer_scale_init_value=1e-6):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)  # depthwise conv
        self.norm = LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)  # pointwise/1x1 convs, implemented with linear layers
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(layer_scale_init_value * torch.ones((dim)),
                                  requires_grad=True) if layer_scale_init_value > 0 else None
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()

    def forward(self, x):
        input = x
        x = self.dwconv(x)
        x = x.permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
        x = self.norm(x)
        x = self.pwconv1(x)
        x = self.act(x)
        x = self.pwconv2(x)
        if self.gamma is not None:
            x = self.gamma * x
        x = x.permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
        x = input + self.drop_path(x)
        return x


class ConvNeXt(nn.Module):
    def __init__(self, in_chans=3, num_classes=1000, depths=[3, 3, 9, 3], dims=[96, 192, 384, 768],
                 drop_path_rate=0., layer_scale_init_value=1e-6, head_init_scale=1.):
        super().__init__()
        self.downsample_layers = nn.ModuleList()  # stem and 3 intermediate downsampling conv layers
        stem = nn.Sequential(
            nn.Conv2d(in_chans, dims[0], kernel_size=4, stride=4),
            LayerNorm(dims[0], eps=1e-6, data_format="channels_first")
        )
        self.downsample_layers.append(stem)
        for i in range(3):
            downsample_layer = nn.Sequential(
                LayerNorm(dims[i], eps=1e-6, data_format="channels_first"),
                nn.Conv2d(dims[i], dims[i + 1], kernel_size=2, stride=2),
            )
            self.downsample_layers.append(downsample_layer)
        self.stages = nn.ModuleList()
        dp_rates = [x.item() for x in torch.linspace(0, drop_path_rate, sum(depths))]
        cur = 0
        for i in range(4):
            stage = nn.Sequential(
                *[Block(dim=dims[i], drop_path=dp_rates[cur + j],
                        layer_scale_init_value=layer_scale_init_value) for j in range(depths[i])]
            )
            self.stages.append(stage)
            cur += depths[i]
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)  # final norm layer
        self.head = nn.Linear(dims[-1], num_classes)
        self.apply(self._init_weights)
        self.head.weight.data.mul_(head_init_scale)
        self.head.bias.data.mul_(head_init_scale)

    def _init_weights(self, m):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            trunc_normal_(m.weight, std=.02)
            nn.init.constant_(m.bias, 0)

    def forward_features(self, x):
        for i in range(4):
            x = self.downsample_layers[i](x)
            x = self.stages[i](x)
        return self.norm(x.mean([-2, -1]))  # global average pooling, (N, C, H, W) -> (N, C)

    def forward(self, x):
        x = self.forward_features(x)
        x = self.head(x)
        return x


class LayerNorm(nn.Module):
    def __init__(self, normalized_shape, eps=1e-6, data_format="channels_last"):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))
        self.eps = eps
        self.data_format = data_format
        if self.data_format not in ["channels_last", "channels_first"]:
            raise NotImplementedError
        self.normalized_shape = (normalized_shape, )

    def forward(self, x):
        if self.data_format == "channels_last":
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        elif self.data_format == "channels_first":
            u = x.mean(1, keepdim=True)
            s = (x - u).pow(2).mean(1, keepdim=True)
            x = (x - u) / torch.sqrt(s + self.eps)
            x = self.weight[:, None, None] * x + self.bias[:, None, None]
            return x


class ModelEma:
    """timm.utils.ModelEma: an exponential moving average of the model's state dict."""

    def __init__(self, model, decay=0.9999, device=''):
        self.ema = copy.deepcopy(model)
        self.ema.eval()
        self.decay = decay
        for p in self.ema.parameters():
            p.requires_grad_(False)

    def update(self, model):
        with torch.no_grad():
            msd = model.state_dict()
            for k, ema_v in self.ema.state_dict().items():
                model_v = msd[k].detach()
                ema_v.copy_(ema_v * self.decay + (1. - self.decay) * model_v)


def cosine_scheduler(base_value, final_value, epochs, niter_per_ep, warmup_epochs=0, start_warmup_value=0,
                     warmup_steps=-1):
    warmup_schedule = np.array([])
    warmup_iters = warmup_epochs * niter_per_ep
    if warmup_steps > 0:
        warmup_iters = warmup_steps
    if warmup_epochs > 0 or warmup_steps > 0:
        warmup_schedule = np.linspace(start_warmup_value, base_value, warmup_iters)
    iters = np.arange(epochs * niter_per_ep - warmup_iters)
    schedule = np.array(
        [final_value + 0.5 * (base_value - final_value) * (1 + math.cos(math.pi * i / (len(iters)))) for i in iters])
    schedule = np.concatenate((warmup_schedule, schedule))
    assert len(schedule) == epochs * niter_per_ep
    return schedule


def get_parameter_groups(model, weight_decay=1e-5, skip_list=()):
    parameter_group_names, parameter_group_vars = {}, {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if len(param.shape) == 1 or name.endswith(".bias") or name in skip_list:
            group_name, this_weight_decay = "no_decay", 0.
        else:
            group_name, this_weight_decay = "decay", weight_decay
        if group_name not in parameter_group_names:
            parameter_group_names[group_name] = {"weight_decay": this_weight_decay, "params": [], "lr_scale": 1.}
            parameter_group_vars[group_name] = {"weight_decay": this_weight_decay, "params": [], "lr_scale": 1.}
        parameter_group_vars[group_name]["params"].append(param)
        parameter_group_names[group_name]["params"].append(name)
    return list(parameter_group_vars.values())


def train_one_epoch(model, criterion, data_loader, optimizer, epoch, model_ema, start_steps, lr_schedule_values,
                    wd_schedule_values, num_training_steps_per_epoch, update_freq, log):
    model.train(True)
    optimizer.zero_grad()
    for data_iter_step, (samples, targets) in enumerate(data_loader):
        step = data_iter_step // update_freq
        if step >= num_training_steps_per_epoch:
            continue
        it = start_steps + step  # global training iteration
        if lr_schedule_values is not None or wd_schedule_values is not None and data_iter_step % update_freq == 0:
            for i, param_group in enumerate(optimizer.param_groups):
                if lr_schedule_values is not None:
                    param_group["lr"] = lr_schedule_values[it] * param_group["lr_scale"]
                if wd_schedule_values is not None and param_group["weight_decay"] > 0:
                    param_group["weight_decay"] = wd_schedule_values[it]
        output = model(samples)
        loss = criterion(output, targets)
        loss_value = loss.item()
        assert math.isfinite(loss_value)
        loss /= update_freq
        loss.backward()
        if (data_iter_step + 1) % update_freq == 0:
            optimizer.step()
            optimizer.zero_grad()
            if model_ema is not None:
                model_ema.update(model)
        class_acc = (output.max(-1)[-1] == targets).float().mean()
        log["losses"].append(loss_value)
        log["acc"].append(class_acc.item())


@torch.no_grad()
def evaluate(data_loader, model):
    criterion = torch.nn.CrossEntropyLoss()
    model.eval()
    out = []
    for batch in data_loader:
        images, target = batch[0], batch[-1]
        output = model(images)
        loss = criterion(output, target)
        out.append([loss.item(), (output.argmax(1) == target).float().mean().item() * 100])
    return out


def main(init):
    global DROP_RNG
    DROP_RNG = np.random.default_rng(0)
    train_loader = loader(torch, *images(torch, 32, (3, 32, 32), 10, seed=11), batch_size=4)
    val_loader = loader(torch, *images(torch, 8, (3, 32, 32), 10, seed=12), batch_size=4)
    model = ConvNeXt(num_classes=10, depths=[1, 1, 2, 1], dims=[8, 16, 24, 32], drop_path_rate=0.2,
                     layer_scale_init_value=1e-6, head_init_scale=1.)
    model = init(torch, model)
    model_ema = ModelEma(model, decay=0.9)
    update_freq, epochs = 2, 1
    num_training_steps_per_epoch = len(train_loader) // update_freq
    optimizer = torch.optim.AdamW(get_parameter_groups(model, weight_decay=0.05), lr=4e-3)
    lr_schedule_values = cosine_scheduler(4e-3, 1e-6, epochs, num_training_steps_per_epoch, warmup_steps=2)
    wd_schedule_values = cosine_scheduler(0.05, 0.05, epochs, num_training_steps_per_epoch)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    log = {"losses": [], "acc": []}
    for epoch in range(epochs):
        train_one_epoch(model, criterion, train_loader, optimizer, epoch, model_ema,
                        epoch * num_training_steps_per_epoch, lr_schedule_values, wd_schedule_values,
                        num_training_steps_per_epoch, update_freq, log)
    stats = [evaluate(val_loader, model), evaluate(val_loader, model_ema.ema)]
    return {"losses": log["losses"], "metric": [log["acc"], stats, [g["lr"] for g in optimizer.param_groups]]}
