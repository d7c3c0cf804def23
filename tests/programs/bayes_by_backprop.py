"""Bayes by backprop, after nitarshan/bayes-by-backprop (Weight Uncertainty in Neural Networks.ipynb; MIT):
https://github.com/nitarshan/bayes-by-backprop

A ``Gaussian`` variational posterior with ``sigma = torch.log1p(torch.exp(rho))`` sampled by the
reparameterisation ``mu + sigma * epsilon`` and scored by a hand-written log-density; a scale-mixture prior
of two ``torch.distributions.Normal``s whose ``log_prob(input).exp()`` are mixed; ``BayesianLinear`` layers
that accumulate ``log_prior`` and ``log_variational_posterior`` in training; the ELBO estimated over several
samples with ``F.nll_loss(outputs.mean(0), target, reduction='sum')`` and minibatch KL weighting. Adapted:
a 16-8-3 network on fake 16-feature data instead of MNIST, 2 samples, 4 batches of 16; epsilon drawn with
NumPy in the same order as the repo's ``normal_`` calls; test-time ensemble of 3 samples.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PI = 0.5
SIGMA_1 = torch.FloatTensor([math.exp(-0)])
SIGMA_2 = torch.FloatTensor([math.exp(-6)])
RNG = [None]


class Gaussian(object):
    def __init__(self, mu, rho):
        super().__init__()
        self.mu = mu
        self.rho = rho

    @property
    def sigma(self):
        return torch.log1p(torch.exp(self.rho))

    def sample(self):
        epsilon = torch.from_numpy(RNG[0].standard_normal(tuple(self.rho.size())).astype(np.float32))
        return self.mu + self.sigma * epsilon

    def log_prob(self, input):
        return (-math.log(math.sqrt(2 * math.pi)) - torch.log(self.sigma)
                - ((input - self.mu) ** 2) / (2 * self.sigma ** 2)).sum()


class ScaleMixtureGaussian(object):
    def __init__(self, pi, sigma1, sigma2):
        super().__init__()
        self.pi = pi
        self.gaussian1 = torch.distributions.Normal(0, sigma1)
        self.gaussian2 = torch.distributions.Normal(0, sigma2)

    def log_prob(self, input):
        prob1 = torch.exp(self.gaussian1.log_prob(input))
        prob2 = torch.exp(self.gaussian2.log_prob(input))
        return (torch.log(self.pi * prob1 + (1 - self.pi) * prob2)).sum()


class BayesianLinear(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight_mu = nn.Parameter(torch.Tensor(out_features, in_features).uniform_(-0.2, 0.2))
        self.weight_rho = nn.Parameter(torch.Tensor(out_features, in_features).uniform_(-5, -4))
        self.weight = Gaussian(self.weight_mu, self.weight_rho)
        self.bias_mu = nn.Parameter(torch.Tensor(out_features).uniform_(-0.2, 0.2))
        self.bias_rho = nn.Parameter(torch.Tensor(out_features).uniform_(-5, -4))
        self.bias = Gaussian(self.bias_mu, self.bias_rho)
        self.weight_prior = ScaleMixtureGaussian(PI, SIGMA_1, SIGMA_2)
        self.bias_prior = ScaleMixtureGaussian(PI, SIGMA_1, SIGMA_2)
        self.log_prior = 0
        self.log_variational_posterior = 0

    def forward(self, input, sample=False, calculate_log_probs=False):
        if self.training or sample:
            weight = self.weight.sample()
            bias = self.bias.sample()
        else:
            weight = self.weight.mu
            bias = self.bias.mu
        if self.training or calculate_log_probs:
            self.log_prior = self.weight_prior.log_prob(weight) + self.bias_prior.log_prob(bias)
            self.log_variational_posterior = self.weight.log_prob(weight) + self.bias.log_prob(bias)
        else:
            self.log_prior, self.log_variational_posterior = 0, 0
        return F.linear(input, weight, bias)


class BayesianNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = BayesianLinear(16, 8)
        self.l2 = BayesianLinear(8, 3)

    def forward(self, x, sample=False):
        x = x.view(-1, 16)
        x = F.relu(self.l1(x, sample))
        return F.log_softmax(self.l2(x, sample), dim=1)

    def log_prior(self):
        return self.l1.log_prior + self.l2.log_prior

    def log_variational_posterior(self):
        return self.l1.log_variational_posterior + self.l2.log_variational_posterior

    def sample_elbo(self, input, target, samples, num_batches, batch_size):
        outputs = torch.zeros(samples, batch_size, 3)
        log_priors = torch.zeros(samples)
        log_variational_posteriors = torch.zeros(samples)
        for i in range(samples):
            outputs[i] = self(input, sample=True)
            log_priors[i] = self.log_prior()
            log_variational_posteriors[i] = self.log_variational_posterior()
        log_prior = log_priors.mean()
        log_variational_posterior = log_variational_posteriors.mean()
        negative_log_likelihood = F.nll_loss(outputs.mean(0), target, reduction='sum')
        loss = (log_variational_posterior - log_prior) / num_batches + negative_log_likelihood
        return loss, log_prior, log_variational_posterior, negative_log_likelihood


def main(init):
    RNG[0] = np.random.default_rng(0)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 80)
    x = (rng.standard_normal((80, 16)) + np.eye(3, 16)[y] * 2).astype(np.float32)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    net = init(torch, BayesianNetwork())
    optimizer = torch.optim.Adam(net.parameters())
    losses, parts = [], []
    net.train()
    for batch_idx in range(4):
        data, target = x[16 * batch_idx:16 * batch_idx + 16], y[16 * batch_idx:16 * batch_idx + 16]
        net.zero_grad()
        loss, log_prior, log_variational_posterior, nll = net.sample_elbo(data, target, 2, 4, 16)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        parts.append([log_prior.item(), log_variational_posterior.item(), nll.item()])
    net.eval()
    with torch.no_grad():
        outputs = torch.stack([net(x[64:], sample=True) for _ in range(3)])
        mean_output = net(x[64:])
        correct = mean_output.argmax(1).eq(y[64:]).sum().item()
    return {"losses": losses, "metric": [parts, outputs.numpy(), correct]}
