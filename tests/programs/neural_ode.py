"""torchdiffeq's examples/ode_demo.py (https://github.com/rtqichen/torchdiffeq, MIT): a neural ODE learns the
spiral dy/dt = (y^3) A from sampled stretches of one trajectory, with the adjoint method (Chen et al. 2018).

torchdiffeq is not a dependency, so the program carries the two pieces of it that the demo calls, written here:
``odeint`` (fixed-grid classic RK4) and ``odeint_adjoint``, a ``torch.autograd.Function`` whose backward
integrates the adjoint state and the parameter gradients backwards in time, getting vector-Jacobian products
with ``torch.autograd.grad(..., allow_unused=True)`` under ``torch.enable_grad()`` inside backward.
Adapted: 40 time points on [0, 10], batches of 6 stretches of 5 points, hidden 16, 4 RMSprop iterations; the
batch indices come from a seeded NumPy generator; the adjoint gradients are checked against plain backprop
through the same RK4 steps on the first batch.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

from _harness import Args

losses = []
args = Args(data_size=40, batch_time=5, batch_size=6, niters=4, test_freq=2, adjoint=True)
true_y0 = torch.tensor([[2., 0.]])
t = torch.linspace(0., 10., args.data_size)
true_A = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]])


def rk4_step(func, t0, dt, y):
    k1 = func(t0, y)
    k2 = func(t0 + dt / 2, tuple(a + dt / 2 * b for a, b in zip(y, k1)) if isinstance(y, tuple) else y + dt / 2 * k1)
    k3 = func(t0 + dt / 2, tuple(a + dt / 2 * b for a, b in zip(y, k2)) if isinstance(y, tuple) else y + dt / 2 * k2)
    k4 = func(t0 + dt, tuple(a + dt * b for a, b in zip(y, k3)) if isinstance(y, tuple) else y + dt * k3)
    if isinstance(y, tuple):
        return tuple(a + dt / 6 * (b1 + 2 * b2 + 2 * b3 + b4) for a, b1, b2, b3, b4 in zip(y, k1, k2, k3, k4))
    return y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def odeint(func, y0, t, steps=2):
    """y at each time in ``t`` (shape (T, *y0.shape)), ``steps`` RK4 steps between consecutive times."""
    ys = [y0]
    y = y0
    for t0, t1 in zip(t[:-1], t[1:]):
        dt = (t1 - t0) / steps
        for k in range(steps):
            y = rk4_step(func, t0 + k * dt, dt, y)
        ys.append(y)
    return torch.stack(ys)


class OdeintAdjointMethod(torch.autograd.Function):
    @staticmethod
    def forward(ctx, func, y0, t, *adjoint_params):
        with torch.no_grad():
            ys = odeint(func, y0, t)
        ctx.func = func
        ctx.save_for_backward(t, ys, *adjoint_params)
        return ys

    @staticmethod
    def backward(ctx, grad_y):
        t, ys, *adjoint_params = ctx.saved_tensors
        adjoint_params = tuple(adjoint_params)
        func = ctx.func

        def augmented_dynamics(t_, state):
            y, adj_y = state[0], state[1]
            with torch.enable_grad():
                y = y.detach().requires_grad_(True)
                func_eval = func(t_, y)
                vjp_y, *vjp_params = torch.autograd.grad(func_eval, (y,) + adjoint_params, -adj_y,
                                                         allow_unused=True, retain_graph=True)
            vjp_params = [torch.zeros_like(p) if v is None else v for p, v in zip(adjoint_params, vjp_params)]
            return (func_eval, vjp_y, *vjp_params)

        aug_state = [ys[-1], grad_y[-1]] + [torch.zeros_like(p) for p in adjoint_params]
        for i in range(len(t) - 1, 0, -1):
            # integrate from t[i] back to t[i-1]: negative steps
            dt = (t[i - 1] - t[i]) / 2
            state = tuple(aug_state)
            for k in range(2):
                state = rk4_step(augmented_dynamics, t[i] + k * dt, dt, state)
            aug_state = list(state)
            aug_state[0] = ys[i - 1]  # the forward trajectory, not the re-integrated one
            aug_state[1] = aug_state[1] + grad_y[i - 1]
        return (None, aug_state[1], None, *aug_state[2:])


def odeint_adjoint(func, y0, t):
    adjoint_params = tuple(p for p in func.parameters() if p.requires_grad)
    return OdeintAdjointMethod.apply(func, y0, t, *adjoint_params)


class Lambda(nn.Module):
    def forward(self, t, y):
        return torch.mm(y ** 3, true_A)


class ODEFunc(nn.Module):
    def __init__(self):
        super(ODEFunc, self).__init__()
        self.net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
        for m in self.net.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0, std=0.1)
                nn.init.constant_(m.bias, val=0)

    def forward(self, t, y):
        return self.net(y ** 3)


class RunningAverageMeter(object):
    def __init__(self, momentum=0.99):
        self.momentum = momentum
        self.reset()

    def reset(self):
        self.val = None
        self.avg = 0

    def update(self, val):
        if self.val is None:
            self.avg = val
        else:
            self.avg = self.avg * self.momentum + val * (1 - self.momentum)
        self.val = val


def main(init):
    losses.clear()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    with torch.no_grad():
        true_y = odeint(Lambda(), true_y0, t, steps=4)

    def get_batch():
        s = torch.from_numpy(rng.choice(np.arange(args.data_size - args.batch_time, dtype=np.int64),
                                        args.batch_size, replace=False))
        batch_y0 = true_y[s]  # (M, 1, D)
        batch_t = t[:args.batch_time]  # (T)
        batch_y = torch.stack([true_y[s + i] for i in range(args.batch_time)], dim=0)  # (T, M, 1, D)
        return batch_y0, batch_t, batch_y

    func = init(torch, ODEFunc())
    optimizer = optim.RMSprop(func.parameters(), lr=1e-3)
    loss_meter = RunningAverageMeter(0.97)
    tests, checks = [], []
    for itr in range(1, args.niters + 1):
        optimizer.zero_grad()
        batch_y0, batch_t, batch_y = get_batch()
        if itr == 1:  # the adjoint's gradients against backprop through the same solver
            direct = torch.mean(torch.abs(odeint(func, batch_y0, batch_t) - batch_y))
            direct_grads = torch.autograd.grad(direct, list(func.parameters()))
        pred_y = odeint_adjoint(func, batch_y0, batch_t)
        loss = torch.mean(torch.abs(pred_y - batch_y))
        loss.backward()
        if itr == 1:
            checks = [float((p.grad - g).abs().max()) < 1e-4 for p, g in zip(func.parameters(), direct_grads)]
        optimizer.step()
        loss_meter.update(loss.item())
        losses.append(loss.item())
        if itr % args.test_freq == 0:
            with torch.no_grad():
                pred_y = odeint(func, true_y0, t)
                tests.append(torch.mean(torch.abs(pred_y - true_y)).item())
    return {"losses": losses, "metric": [tests, loss_meter.avg, checks, pred_y.numpy()]}
