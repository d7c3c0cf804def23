"""The promise: a PyTorch training script runs on ember by changing the import, with the same numbers.

One script body, written against ``torch``'s API, runs twice: with ``torch`` and with
``ember`` passed in as ``torch``. The models start from the same weights (torch's initial
state dict, copied); losses, predictions and final weights must agree.
"""
import numpy as np
import pytest

import ember
import torch as real_torch


def script(torch, init_state=None, steps=12, dtype=np.float32):
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)  # BatchNorm follows
            self.bn = nn.BatchNorm2d(4)
            self.pool = nn.MaxPool2d(2)
            self.fc1 = nn.Linear(4 * 4 * 4, 16)
            self.drop = nn.Dropout(0.0)
            self.fc2 = nn.Linear(16, 3)

        def forward(self, x):
            x = self.pool(F.relu(self.bn(self.conv(x))))
            x = torch.flatten(x, 1)
            x = self.drop(F.gelu(self.fc1(x)))
            return self.fc2(x)

    rng = np.random.default_rng(0)
    xs = torch.tensor(rng.standard_normal((24, 1, 8, 8)).astype(dtype))
    ys = torch.tensor(rng.integers(0, 3, 24))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xs, ys), batch_size=8, shuffle=False)
    model = Net().double() if dtype == np.float64 else Net()
    if init_state is not None:
        model.load_state_dict(init_state)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
    losses = []
    model.train()
    for step in range(steps):
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb, label_smoothing=0.1)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            opt.step()
            losses.append(loss.item())
        sched.step()
    model.eval()
    with torch.no_grad():
        logits = model(xs)
        acc = (logits.argmax(dim=1) == ys).float().mean().item()
    return losses, logits.numpy(), acc, {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_script_same_numbers(dtype):
    real_torch.manual_seed(0)
    t_losses, t_logits, t_acc, t_final = script(real_torch, dtype=dtype)
    real_torch.manual_seed(0)
    init = _initial_state(real_torch, dtype)
    e_losses, e_logits, e_acc, e_final = script(ember, {k: ember.tensor(v) for k, v in init.items()}, dtype=dtype)
    if dtype == np.float64:
        tol = dict(rtol=1e-9, atol=1e-10)
    else:  # 36 Adam steps amplify float32 rounding; the float64 run is the exact check
        tol = dict(rtol=5e-3, atol=5e-3)
    np.testing.assert_allclose(e_losses, t_losses, **tol)
    np.testing.assert_allclose(e_logits, t_logits, **tol)
    assert e_acc == t_acc
    for k in t_final:
        np.testing.assert_allclose(e_final[k], t_final[k], err_msg=k, **tol)


def _initial_state(torch, dtype):
    """The weights the script's model starts from under the current seed (constructed, not trained)."""
    return script(torch, steps=0, dtype=dtype)[3]
