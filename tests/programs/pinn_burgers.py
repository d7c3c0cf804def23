"""A physics-informed neural network for Burgers' equation, identification form (Raissi et al. 2019), in the
PyTorch shape of jayroxis/PINNs' "Burgers Identification (PyTorch)" notebook (MIT):
https://github.com/jayroxis/PINNs/tree/master/Burgers%20Equation

u_t + lambda_1 u u_x - exp(lambda_2) u_xx = 0: the network ``u(x, t)`` and the two unknown coefficients are
fitted to samples of the solution, the residual's derivatives coming from ``torch.autograd.grad(...,
create_graph=True)`` (u_xx is a gradient of a gradient, and the loss's backward goes through both).
Adapted: 64 samples of the closed-form viscous solution of the heat-like limit instead of burgers_shock.mat;
layers 2-12-12-1; 4 Adam steps then one L-BFGS step (strong Wolfe line search, 6 iterations).
"""
from collections import OrderedDict

import numpy as np
import torch

losses = []


class DNN(torch.nn.Module):
    def __init__(self, layers):
        super(DNN, self).__init__()
        self.depth = len(layers) - 1
        self.activation = torch.nn.Tanh
        layer_list = list()
        for i in range(self.depth - 1):
            layer_list.append(('layer_%d' % i, torch.nn.Linear(layers[i], layers[i + 1])))
            layer_list.append(('activation_%d' % i, self.activation()))
        layer_list.append(('layer_%d' % (self.depth - 1), torch.nn.Linear(layers[-2], layers[-1])))
        layerDict = OrderedDict(layer_list)
        self.layers = torch.nn.Sequential(layerDict)

    def forward(self, x):
        return self.layers(x)


class PhysicsInformedNN():
    def __init__(self, X, u, layers, lb, ub, init):
        self.lb = torch.tensor(lb).float()
        self.ub = torch.tensor(ub).float()
        self.x = torch.tensor(X[:, 0:1], requires_grad=True).float()
        self.t = torch.tensor(X[:, 1:2], requires_grad=True).float()
        self.u = torch.tensor(u).float()
        self.lambda_1 = torch.tensor([0.0], requires_grad=True)
        self.lambda_2 = torch.tensor([-6.0], requires_grad=True)
        self.lambda_1 = torch.nn.Parameter(self.lambda_1)
        self.lambda_2 = torch.nn.Parameter(self.lambda_2)
        self.dnn = init(torch, DNN(layers))
        self.dnn.register_parameter('lambda_1', self.lambda_1)
        self.dnn.register_parameter('lambda_2', self.lambda_2)
        self.optimizer = torch.optim.LBFGS(self.dnn.parameters(), lr=1.0, max_iter=6, max_eval=10,
                                           history_size=50, tolerance_grad=1e-5,
                                           tolerance_change=1.0 * np.finfo(float).eps,
                                           line_search_fn="strong_wolfe")
        self.optimizer_Adam = torch.optim.Adam(self.dnn.parameters(), lr=1e-2)
        self.iter = 0

    def net_u(self, x, t):
        # inputs scaled to [-1, 1] as the notebook does
        X = 2.0 * (torch.cat([x, t], dim=1) - self.lb) / (self.ub - self.lb) - 1.0
        return self.dnn(X)

    def net_f(self, x, t):
        lambda_1 = self.lambda_1
        lambda_2 = torch.exp(self.lambda_2)
        u = self.net_u(x, t)
        u_t = torch.autograd.grad(u, t, grad_outputs=torch.ones_like(u), retain_graph=True, create_graph=True)[0]
        u_x = torch.autograd.grad(u, x, grad_outputs=torch.ones_like(u), retain_graph=True, create_graph=True)[0]
        u_xx = torch.autograd.grad(u_x, x, grad_outputs=torch.ones_like(u_x), retain_graph=True,
                                   create_graph=True)[0]
        return u_t + lambda_1 * u * u_x - lambda_2 * u_xx

    def loss_func(self):
        u_pred = self.net_u(self.x, self.t)
        f_pred = self.net_f(self.x, self.t)
        loss = torch.mean((self.u - u_pred) ** 2) + torch.mean(f_pred ** 2)
        self.optimizer.zero_grad()
        loss.backward()
        self.iter += 1
        losses.append(loss.item())
        return loss

    def train(self, nIter):
        self.dnn.train()
        for epoch in range(nIter):
            u_pred = self.net_u(self.x, self.t)
            f_pred = self.net_f(self.x, self.t)
            loss = torch.mean((self.u - u_pred) ** 2) + torch.mean(f_pred ** 2)
            self.optimizer_Adam.zero_grad()
            loss.backward()
            self.optimizer_Adam.step()
            losses.append(loss.item())
        self.optimizer.step(self.loss_func)

    def predict(self, X):
        x = torch.tensor(X[:, 0:1], requires_grad=True).float()
        t = torch.tensor(X[:, 1:2], requires_grad=True).float()
        self.dnn.eval()
        u = self.net_u(x, t)
        f = self.net_f(x, t)
        return u.detach().cpu().numpy(), f.detach().cpu().numpy()


def main(init):
    losses.clear()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    nu = 0.05
    X = np.stack([rng.uniform(-1, 1, 64), rng.uniform(0, 1, 64)], axis=1)
    # a decaying sine mode: exactly a solution of the linear part, a smooth target for the fit
    u = (np.exp(-nu * np.pi ** 2 * X[:, 1]) * -np.sin(np.pi * X[:, 0]))[:, None]
    lb, ub = X.min(0), X.max(0)
    model = PhysicsInformedNN(X, u, [2, 12, 12, 1], lb, ub, init)
    model.train(4)
    u_pred, f_pred = model.predict(X[:16])
    return {"losses": list(losses), "metric": [u_pred, f_pred, model.lambda_1.item(),
                                               np.exp(model.lambda_2.item())]}
