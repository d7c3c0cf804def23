"""PyTorch tutorials, Pruning Tutorial (BSD-3-Clause):
https://github.com/pytorch/tutorials/blob/main/intermediate_source/pruning_tutorial.py, with the
prune-then-fine-tune loop that the tutorial's pruning is meant for.

The tutorial's LeNet (conv 3x3 layers, max pooling, three linear layers), then, in its order: the bias of conv1
pruned by ``l1_unstructured`` (amount 3), conv1's weight pruned twice (``l1_unstructured`` 30%, then
``ln_structured`` n=2 over output channels, combined by a ``PruningContainer``), the state dict with its
``_orig``/``_mask`` entries, ``prune.remove``; a second LeNet pruned by ``global_unstructured`` (20% of all
weights by L1) and fine-tuned with SGD, the pruned weights staying zero through the forward pre-hooks; a
custom ``BasePruningMethod`` (the tutorial's FooBarPruningMethod). Adapted: conv1's first pruning is
``l1_unstructured`` instead of ``random_unstructured`` (the libraries' random streams differ); fake 1x14x14
images instead of 1x32x32 ones, so fc1 takes 16*2*2 inputs; 4 fine-tuning steps of batch 8.
"""
import numpy as np
import torch
import torch.nn.functional as F
import torch.nn.utils.prune as prune
from torch import nn


class LeNet(nn.Module):
    def __init__(self):
        super(LeNet, self).__init__()
        # 1 input image channel, 6 output channels, 3x3 square conv kernel
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 16, 3)
        self.fc1 = nn.Linear(16 * 2 * 2, 120)  # 2x2 image dimension (14x14 inputs)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(start_dim=1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


class FooBarPruningMethod(prune.BasePruningMethod):
    """Prune every other entry in a tensor"""
    PRUNING_TYPE = 'unstructured'

    def compute_mask(self, t, default_mask):
        mask = default_mask.clone()
        mask.flatten()[::2] = 0
        return mask


def foobar_unstructured(module, name):
    FooBarPruningMethod.apply(module, name)
    return module


def sparsity(t):
    return 100. * float(torch.sum(t == 0)) / float(t.nelement())


def main(init):
    out = {}
    model = init(torch, LeNet(), "lenet")
    module = model.conv1
    prune.l1_unstructured(module, name="weight", amount=0.3)
    out["params"] = [name for name, _ in module.named_parameters()]
    out["buffers"] = [name for name, _ in module.named_buffers()]
    prune.l1_unstructured(module, name="bias", amount=3)
    out["bias"] = module.bias.detach().numpy()
    out["hooks"] = len(module._forward_pre_hooks)
    prune.ln_structured(module, name="weight", amount=0.5, n=2, dim=0)
    out["weight"] = module.weight.detach().numpy()
    for hook in module._forward_pre_hooks.values():
        if hook._tensor_name == "weight":  # select out the correct hook
            break
    out["history"] = [type(h).__name__ for h in hook]
    out["keys"] = list(model.state_dict().keys())
    prune.remove(module, 'weight')
    out["after_remove"] = [name for name, _ in module.named_parameters()]

    new_model = init(torch, LeNet(), "new")
    for name, module in new_model.named_modules():
        # prune 20% of connections in all 2D-conv layers
        if isinstance(module, torch.nn.Conv2d):
            prune.l1_unstructured(module, name='weight', amount=0.2)
        # prune 40% of connections in all linear layers
        elif isinstance(module, torch.nn.Linear):
            prune.l1_unstructured(module, name='weight', amount=0.4)
    out["masks"] = list(dict(new_model.named_buffers()).keys())

    model = init(torch, LeNet(), "global")
    parameters_to_prune = (
        (model.conv1, 'weight'),
        (model.conv2, 'weight'),
        (model.fc1, 'weight'),
        (model.fc2, 'weight'),
        (model.fc3, 'weight'),
    )
    prune.global_unstructured(parameters_to_prune, pruning_method=prune.L1Unstructured, amount=0.2)
    out["sparsity"] = [sparsity(m.weight) for m, _ in parameters_to_prune]
    foobar_unstructured(model.fc3, name='bias')
    out["foobar"] = model.fc3.bias_mask.numpy()

    # fine-tune the pruned network: the masks keep the pruned connections at zero
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((32, 1, 14, 14)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 10, 32))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for i in range(4):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x[8 * i:8 * i + 8]), y[8 * i:8 * i + 8])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    for m, name in parameters_to_prune:
        prune.remove(m, name)
    out["final_sparsity"] = [sparsity(m.weight) for m, _ in parameters_to_prune]
    with torch.no_grad():
        out["logits"] = model(x[:8]).numpy()
    return {"losses": losses, "metric": out}
