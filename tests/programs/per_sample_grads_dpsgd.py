"""Per-sample gradients with ``torch.func`` (the PyTorch tutorial "Per-sample-gradients",
https://pytorch.org/tutorials/intermediate/per_sample_grads.html, BSD-3-Clause) driving a DP-SGD loop in the
manner of Abadi et al. 2016 / Opacus: each example's gradient is clipped to norm C, the clipped gradients are
summed, Gaussian noise is added, and the parameters are stepped by hand under ``no_grad``.

``functional_call`` runs the module with a dict of parameters, ``grad`` differentiates a per-example loss,
``vmap(in_dims=(None, None, 0, 0))`` maps it over the batch. The tutorial's check against the plain loop
(one backward per example) is kept. Adapted: 12x12 fake images, a smaller CNN (8 and 16 channels), 3 DP-SGD
steps on batches of 8; the noise comes from NumPy.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from _harness import images

losses = []


class SimpleCNN(nn.Module):
    def __init__(self):
        super(SimpleCNN, self).__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.fc1 = nn.Linear(256, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def loss_fn(predictions, targets):
    return F.nll_loss(predictions, targets)


def compute_grad(model, sample, target):
    sample = sample.unsqueeze(0)
    target = target.unsqueeze(0)
    prediction = model(sample)
    loss = loss_fn(prediction, target)
    return torch.autograd.grad(loss, list(model.parameters()))


def compute_sample_grads(model, data, targets):
    sample_grads = [compute_grad(model, data[i], targets[i]) for i in range(data.shape[0])]
    sample_grads = zip(*sample_grads)
    return [torch.stack(shards) for shards in sample_grads]


def main(init):
    losses.clear()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = init(torch, SimpleCNN())
    data, targets = images(torch, 24, (1, 12, 12), 10, seed=4)
    lr, max_grad_norm, noise_multiplier, batch_size = 0.5, 1.0, 0.3, 8

    def compute_loss(params, buffers, sample, target):
        batch = sample.unsqueeze(0)
        targets = target.unsqueeze(0)
        predictions = functional_call(model, (params, buffers), (batch,))
        return loss_fn(predictions, targets)

    ft_compute_grad = grad(compute_loss)
    ft_compute_sample_grad = vmap(ft_compute_grad, in_dims=(None, None, 0, 0))
    per_sample_norms = []
    for step in range(3):
        x, y = data[step * batch_size:(step + 1) * batch_size], targets[step * batch_size:(step + 1) * batch_size]
        params = {k: v.detach() for k, v in model.named_parameters()}
        buffers = {k: v.detach() for k, v in model.named_buffers()}
        ft_per_sample_grads = ft_compute_sample_grad(params, buffers, x, y)
        if step == 0:  # the tutorial's check: the same gradients as one backward per example
            loop_grads = compute_sample_grads(model, x, y)
            for per_sample_grad, ft_per_sample_grad in zip(loop_grads, ft_per_sample_grads.values()):
                assert torch.allclose(per_sample_grad, ft_per_sample_grad, atol=3e-3, rtol=1e-5)
        norms = torch.stack([g.reshape(len(y), -1).norm(2, dim=1) for g in ft_per_sample_grads.values()]).norm(2, dim=0)
        per_sample_norms.append(norms.numpy())
        clip = (max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
        with torch.no_grad():
            for name, p in model.named_parameters():
                g = torch.einsum("i,i...->...", clip, ft_per_sample_grads[name])
                noise = torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype(np.float32))
                g = (g + noise_multiplier * max_grad_norm * noise) / len(y)
                p.add_(g, alpha=-lr)
            losses.append(loss_fn(model(x), y).item())
    with torch.no_grad():
        test = model(data).exp()
    return {"losses": losses, "metric": [per_sample_norms, test.numpy()]}
