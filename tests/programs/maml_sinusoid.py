"""tristandeleu/pytorch-maml: https://github.com/tristandeleu/pytorch-maml (maml/metalearners/maml.py,
maml/utils.py, maml/model.py; MIT License), Model-Agnostic Meta-Learning (Finn et al. 2017) on the sinusoid
regression benchmark.

Second-order MAML: the inner loop takes ``torch.autograd.grad(..., create_graph=True)`` steps into an
``OrderedDict`` of fast weights, the outer loss on the query set is accumulated into a tensor with ``+=`` and
``div_``, and ``backward`` goes through the inner updates to the meta-parameters and to the per-parameter
learnable step sizes (Meta-SGD, an extra param group added with ``add_param_group``); evaluation adapts with
first-order steps under ``set_grad_enabled(False)`` for the outer forward. Adapted: torchmeta's MetaModule (an
extra package) replaced by ``torch.func.functional_call`` on a plain module; the Sinusoid tasks are drawn by
NumPy; hidden sizes 16, 2 tasks a batch, 2 adaptation steps, 5 meta-batches.
"""
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class MetaMLPModel(nn.Module):
    """A multi-layer perceptron whose forward can run on given (fast) weights, as torchmeta's MetaModule's."""

    def __init__(self, in_features, out_features, hidden_sizes):
        super(MetaMLPModel, self).__init__()
        layer_sizes = [in_features] + hidden_sizes
        self.features = nn.Sequential(OrderedDict([('layer{0}'.format(i + 1), nn.Sequential(OrderedDict([
            ('linear', nn.Linear(hidden_size, layer_sizes[i + 1], bias=True)),
            ('relu', nn.ReLU())]))) for (i, hidden_size) in enumerate(layer_sizes[:-1])]))
        self.classifier = nn.Linear(hidden_sizes[-1], out_features, bias=True)

    def forward(self, inputs, params=None):
        if params is not None:
            return torch.func.functional_call(self, dict(params), (inputs,))
        return self.classifier(self.features(inputs))


def update_parameters(model, loss, params=None, step_size=0.5, first_order=False):
    if params is None:
        params = OrderedDict(model.named_parameters())
    grads = torch.autograd.grad(loss, params.values(), create_graph=not first_order)
    updated_params = OrderedDict()
    if isinstance(step_size, (dict, OrderedDict)):
        for (name, param), grad in zip(params.items(), grads):
            updated_params[name] = param - step_size[name] * grad
    else:
        for (name, param), grad in zip(params.items(), grads):
            updated_params[name] = param - step_size * grad
    return updated_params


class ModelAgnosticMetaLearning(object):
    def __init__(self, model, optimizer=None, step_size=0.1, first_order=False, learn_step_size=False,
                 per_param_step_size=False, num_adaptation_steps=1, loss_function=F.cross_entropy):
        self.model = model
        self.optimizer = optimizer
        self.first_order = first_order
        self.num_adaptation_steps = num_adaptation_steps
        self.loss_function = loss_function
        if per_param_step_size:
            self.step_size = OrderedDict((name, torch.tensor(step_size, dtype=param.dtype,
                                                             requires_grad=learn_step_size))
                                         for (name, param) in model.named_parameters())
        else:
            self.step_size = torch.tensor(step_size, dtype=torch.float32, requires_grad=learn_step_size)
        if (self.optimizer is not None) and learn_step_size:
            self.optimizer.add_param_group({'params': self.step_size.values()
                                            if per_param_step_size else [self.step_size]})

    def get_outer_loss(self, batch):
        _, test_targets = batch['test']
        num_tasks = test_targets.size(0)
        results = {'num_tasks': num_tasks,
                   'inner_losses': np.zeros((self.num_adaptation_steps, num_tasks), dtype=np.float32),
                   'outer_losses': np.zeros((num_tasks,), dtype=np.float32), 'mean_outer_loss': 0.}
        mean_outer_loss = torch.tensor(0.)
        for task_id, (train_inputs, train_targets, test_inputs, test_targets) \
                in enumerate(zip(*batch['train'], *batch['test'])):
            params, adaptation_results = self.adapt(train_inputs, train_targets,
                                                    num_adaptation_steps=self.num_adaptation_steps,
                                                    step_size=self.step_size, first_order=self.first_order)
            results['inner_losses'][:, task_id] = adaptation_results['inner_losses']
            with torch.set_grad_enabled(self.model.training):
                test_logits = self.model(test_inputs, params=params)
                outer_loss = self.loss_function(test_logits, test_targets)
                results['outer_losses'][task_id] = outer_loss.item()
                mean_outer_loss += outer_loss
        mean_outer_loss.div_(num_tasks)
        results['mean_outer_loss'] = mean_outer_loss.item()
        return mean_outer_loss, results

    def adapt(self, inputs, targets, num_adaptation_steps=1, step_size=0.1, first_order=False):
        params = None
        results = {'inner_losses': np.zeros((num_adaptation_steps,), dtype=np.float32)}
        for step in range(num_adaptation_steps):
            logits = self.model(inputs, params=params)
            inner_loss = self.loss_function(logits, targets)
            results['inner_losses'][step] = inner_loss.item()
            self.model.zero_grad()
            params = update_parameters(self.model, inner_loss, step_size=step_size, params=params,
                                       first_order=(not self.model.training) or first_order)
        return params, results

    def train_iter(self, dataloader, max_batches=500):
        num_batches = 0
        self.model.train()
        while num_batches < max_batches:
            for batch in dataloader:
                if num_batches >= max_batches:
                    break
                self.optimizer.zero_grad()
                outer_loss, results = self.get_outer_loss(batch)
                yield results
                outer_loss.backward()
                self.optimizer.step()
                num_batches += 1

    def evaluate_iter(self, dataloader, max_batches=500):
        num_batches = 0
        self.model.eval()
        while num_batches < max_batches:
            for batch in dataloader:
                if num_batches >= max_batches:
                    break
                _, results = self.get_outer_loss(batch)
                yield results
                num_batches += 1


def sinusoid_batches(torch, n_batches, batch_size, shots, test_shots, seed):
    """torchmeta's Sinusoid tasks (amplitude in [0.1, 5], phase in [0, pi], x in [-5, 5]), drawn by NumPy."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(n_batches):
        amp = rng.uniform(0.1, 5.0, (batch_size, 1, 1))
        phase = rng.uniform(0, np.pi, (batch_size, 1, 1))
        x = rng.uniform(-5.0, 5.0, (batch_size, shots + test_shots, 1))
        y = amp * np.sin(x - phase)
        t = [torch.tensor(a, dtype=torch.float32) for a in (x[:, :shots], y[:, :shots], x[:, shots:], y[:, shots:])]
        batches.append({'train': (t[0], t[1]), 'test': (t[2], t[3])})
    return batches


def main(init):
    model = init(torch, MetaMLPModel(1, 1, [16, 16]))
    meta_optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    metalearner = ModelAgnosticMetaLearning(model, meta_optimizer, step_size=0.05, learn_step_size=True,
                                            per_param_step_size=True, num_adaptation_steps=2,
                                            loss_function=F.mse_loss)
    losses = [[r['mean_outer_loss'], *r['inner_losses'].ravel().tolist()]
              for r in metalearner.train_iter(sinusoid_batches(torch, 5, 2, 5, 10, seed=0), max_batches=5)]
    evaluation = [r['mean_outer_loss'] for r in
                  metalearner.evaluate_iter(sinusoid_batches(torch, 2, 2, 5, 10, seed=1), max_batches=2)]
    step_sizes = [s.item() for s in metalearner.step_size.values()]
    return {"losses": losses, "metric": evaluation + step_sizes}
