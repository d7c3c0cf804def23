"""The PyTorch recipe "Automatic Mixed Precision" (https://pytorch.org/tutorials/recipes/recipes/amp_recipe.html,
BSD-3-Clause), on CPU: ``torch.autocast(device_type="cpu", dtype=torch.bfloat16)`` around the forward pass and
the loss, ``torch.amp.GradScaler("cpu")`` scaling the loss, ``unscale_`` before ``clip_grad_norm_`` (the
recipe's "working with unscaled gradients"), ``scaler.step``/``update``, and the recipe's checkpoint of model,
optimizer and scaler state. The learning rate follows a ``SequentialLR`` (``LinearLR`` warm-up, then
``CosineAnnealingLR``) in a first run and a ``OneCycleLR`` in a second, resumed from the
checkpoint, as training scripts commonly chain them.

Adapted: sizes 64 wide, 3 layers, 4 batches of 16 for 2 epochs per run; the data come from NumPy.
"""
import io

import numpy as np
import torch

losses = []
device = "cpu"
TOLERANCE = dict(rtol=2e-2, atol=1e-3)  # bfloat16 keeps 8 significant bits: one rounding step is 0.4%


def make_model(in_size, out_size, num_layers):
    layers = []
    for _ in range(num_layers - 1):
        layers.append(torch.nn.Linear(in_size, in_size))
        layers.append(torch.nn.ReLU())
    layers.append(torch.nn.Linear(in_size, out_size))
    return torch.nn.Sequential(*tuple(layers)).to(device)


def run_epochs(net, opt, scheduler, scaler, data, targets, loss_fn, epochs, use_amp=True):
    dtypes = []
    for epoch in range(epochs):
        for input, target in zip(data, targets):
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=use_amp):
                output = net(input)
                loss = loss_fn(output, target)
            dtypes.append((str(output.dtype).split(".")[-1], str(loss.dtype).split(".")[-1]))
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            total_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm=0.5)
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
            scheduler.step()
            losses.append([loss.item(), total_norm.item(), scheduler.get_last_lr()[0]])
    return dtypes


def main(init):
    losses.clear()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    batch_size, in_size, out_size, num_layers, num_batches, epochs = 16, 64, 8, 3, 4, 2
    data = [torch.from_numpy(rng.standard_normal((batch_size, in_size)).astype(np.float32))
            for _ in range(num_batches)]
    targets = [torch.from_numpy(rng.standard_normal((batch_size, out_size)).astype(np.float32))
               for _ in range(num_batches)]
    loss_fn = torch.nn.MSELoss()
    net = init(torch, make_model(in_size, out_size, num_layers))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 8, growth_interval=3)
    warmup = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    scheduler = torch.optim.lr_scheduler.SequentialLR(opt, schedulers=[warmup, cosine], milestones=[3])
    dtypes = run_epochs(net, opt, scheduler, scaler, data, targets, loss_fn, epochs)

    checkpoint = {"model": net.state_dict(), "optimizer": opt.state_dict(), "scaler": scaler.state_dict()}
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)
    net2 = make_model(in_size, out_size, num_layers)
    net2.load_state_dict(checkpoint["model"])
    opt2 = torch.optim.SGD(net2.parameters(), lr=0.05, momentum=0.9)
    opt2.load_state_dict(checkpoint["optimizer"])
    scaler2 = torch.amp.GradScaler("cpu")
    scaler2.load_state_dict(checkpoint["scaler"])
    onecycle = torch.optim.lr_scheduler.OneCycleLR(opt2, max_lr=0.1, total_steps=num_batches * epochs,
                                                   pct_start=0.25)
    run_epochs(net2, opt2, onecycle, scaler2, data, targets, loss_fn, epochs)
    with torch.no_grad(), torch.autocast(device_type=device, dtype=torch.bfloat16):
        out = net2(data[0])
    return {"losses": losses, "metric": [dtypes, scaler.get_scale(), scaler2.get_scale(),
                                         out.float().numpy(), str(out.dtype).split(".")[-1]]}
