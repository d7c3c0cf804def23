"""davidmrau/mixture-of-experts: https://github.com/davidmrau/mixture-of-experts (moe.py, example.py; GPL-3.0, so
this is our own writing of the same layer and loop), the sparsely-gated MoE of Shazeer et al. (2017).

Noisy top-k gating (``topk`` of k+1, softmax over the top k, ``scatter`` into a zeros tensor made with
``requires_grad=True``), the differentiable load estimate through ``Normal(mean, std).cdf`` of buffers and
``torch.where``, the cv-squared balancing loss, and the ``SparseDispatcher``: ``nonzero().sort(0)``, ``split`` by
per-expert counts, ``gather`` of the gates, ``index_add`` of the expert outputs and a masked in-place write before
``log``. Adapted: ``randn_like`` noise drawn by NumPy (the libraries' streams differ), 6 experts with k=2 on a
small synthetic classification set, 8 Adam steps, then the eval-mode (noise-free) loss.
"""
import numpy as np
import torch
import torch.nn as nn
from torch.distributions.normal import Normal


class SparseDispatcher(object):
    """Sends each example to the experts whose gate is nonzero and sums their gated outputs back."""

    def __init__(self, num_experts, gates):
        self._gates = gates
        self._num_experts = num_experts
        sorted_experts, index_sorted_experts = torch.nonzero(gates).sort(0)
        _, self._expert_index = sorted_experts.split(1, dim=1)
        self._batch_index = torch.nonzero(gates)[index_sorted_experts[:, 1], 0]
        self._part_sizes = (gates > 0).sum(0).tolist()
        gates_exp = gates[self._batch_index.flatten()]
        self._nonzero_gates = torch.gather(gates_exp, 1, self._expert_index)

    def dispatch(self, inp):
        inp_exp = inp[self._batch_index].squeeze(1)
        return torch.split(inp_exp, self._part_sizes, dim=0)

    def combine(self, expert_out, multiply_by_gates=True):
        # the experts give log-probabilities: mix in probability space, then go back to logs
        stitched = torch.cat(expert_out, 0).exp()
        if multiply_by_gates:
            stitched = stitched.mul(self._nonzero_gates)
        zeros = torch.zeros(self._gates.size(0), expert_out[-1].size(1), requires_grad=True, device=stitched.device)
        combined = zeros.index_add(0, self._batch_index, stitched.float())
        combined[combined == 0] = np.finfo(float).eps
        return combined.log()

    def expert_to_gates(self):
        return torch.split(self._nonzero_gates, self._part_sizes, dim=0)


class MLP(nn.Module):
    def __init__(self, input_size, output_size, hidden_size):
        super(MLP, self).__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, output_size)
        self.relu = nn.ReLU()
        self.soft = nn.Softmax(1)

    def forward(self, x):
        return self.soft(self.fc2(self.relu(self.fc1(x))))


class MoE(nn.Module):
    def __init__(self, input_size, output_size, num_experts, hidden_size, noisy_gating=True, k=4):
        super(MoE, self).__init__()
        self.noisy_gating = noisy_gating
        self.num_experts = num_experts
        self.output_size = output_size
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.k = k
        self.experts = nn.ModuleList([MLP(self.input_size, self.output_size, self.hidden_size)
                                      for i in range(self.num_experts)])
        self.w_gate = nn.Parameter(torch.zeros(input_size, num_experts), requires_grad=True)
        self.w_noise = nn.Parameter(torch.zeros(input_size, num_experts), requires_grad=True)
        self.softplus = nn.Softplus()
        self.softmax = nn.Softmax(1)
        self.register_buffer("mean", torch.tensor([0.0]))
        self.register_buffer("std", torch.tensor([1.0]))
        self.rng = np.random.default_rng(0)  # stands in for randn_like's stream
        assert self.k <= self.num_experts

    def cv_squared(self, x):
        eps = 1e-10
        if x.shape[0] == 1:
            return torch.tensor([0], device=x.device, dtype=x.dtype)
        return x.float().var() / (x.float().mean() ** 2 + eps)

    def _gates_to_load(self, gates):
        return (gates > 0).sum(0)

    def _prob_in_top_k(self, clean_values, noisy_values, noise_stddev, noisy_top_values):
        batch = clean_values.size(0)
        m = noisy_top_values.size(1)
        top_values_flat = noisy_top_values.flatten()
        threshold_positions_if_in = torch.arange(batch, device=clean_values.device) * m + self.k
        threshold_if_in = torch.unsqueeze(torch.gather(top_values_flat, 0, threshold_positions_if_in), 1)
        is_in = torch.gt(noisy_values, threshold_if_in)
        threshold_positions_if_out = threshold_positions_if_in - 1
        threshold_if_out = torch.unsqueeze(torch.gather(top_values_flat, 0, threshold_positions_if_out), 1)
        normal = Normal(self.mean, self.std)
        prob_if_in = normal.cdf((clean_values - threshold_if_in) / noise_stddev)
        prob_if_out = normal.cdf((clean_values - threshold_if_out) / noise_stddev)
        return torch.where(is_in, prob_if_in, prob_if_out)

    def noisy_top_k_gating(self, x, train, noise_epsilon=1e-2):
        clean_logits = x @ self.w_gate
        if self.noisy_gating and train:
            raw_noise_stddev = x @ self.w_noise
            noise_stddev = self.softplus(raw_noise_stddev) + noise_epsilon
            noise = torch.tensor(self.rng.standard_normal(tuple(clean_logits.shape)), dtype=clean_logits.dtype)
            noisy_logits = clean_logits + (noise * noise_stddev)
            logits = noisy_logits
        else:
            logits = clean_logits
        top_logits, top_indices = logits.topk(min(self.k + 1, self.num_experts), dim=1)
        top_k_logits = top_logits[:, :self.k]
        top_k_indices = top_indices[:, :self.k]
        top_k_gates = self.softmax(top_k_logits)
        zeros = torch.zeros_like(logits, requires_grad=True)
        gates = zeros.scatter(1, top_k_indices, top_k_gates)
        if self.noisy_gating and self.k < self.num_experts and train:
            load = (self._prob_in_top_k(clean_logits, noisy_logits, noise_stddev, top_logits)).sum(0)
        else:
            load = self._gates_to_load(gates)
        return gates, load

    def forward(self, x, loss_coef=1e-2):
        gates, load = self.noisy_top_k_gating(x, self.training)
        importance = gates.sum(0)
        loss = self.cv_squared(importance) + self.cv_squared(load)
        loss *= loss_coef
        dispatcher = SparseDispatcher(self.num_experts, gates)
        expert_inputs = dispatcher.dispatch(x)
        gates = dispatcher.expert_to_gates()
        expert_outputs = [self.experts[i](expert_inputs[i]) for i in range(self.num_experts)]
        y = dispatcher.combine(expert_outputs)
        return y, loss


def train(x, y, model, loss_fn, optim):
    model.train()
    y_hat, aux_loss = model(x.float())
    loss = loss_fn(y_hat, y)
    total_loss = loss + aux_loss
    optim.zero_grad()
    total_loss.backward()
    optim.step()
    return total_loss.item()


def evaluate(x, y, model, loss_fn):
    model.eval()
    y_hat, aux_loss = model(x.float())
    loss = loss_fn(y_hat, y)
    return (loss + aux_loss).item(), y_hat.argmax(1).tolist()


def main(init):
    rng = np.random.default_rng(1)
    input_size, num_classes, num_experts, hidden_size, batch_size, k = 12, 5, 6, 16, 24, 2
    x = torch.tensor(rng.standard_normal((batch_size, input_size)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, num_classes, batch_size))
    model = MoE(input_size, num_classes, num_experts, hidden_size, k=k, noisy_gating=True)
    with torch.no_grad():  # the repository starts the gates at zero; small random gates make top-k choose
        model.w_gate.copy_(torch.tensor(rng.standard_normal((input_size, num_experts)) * 0.3, dtype=torch.float32))
        model.w_noise.copy_(torch.tensor(rng.standard_normal((input_size, num_experts)) * 0.1, dtype=torch.float32))
    model = init(torch, model)
    loss_fn = nn.NLLLoss()
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = [train(x, y, model, loss_fn, optim) for _ in range(8)]
    eval_loss, pred = evaluate(x, y, model, loss_fn)
    return {"losses": losses, "metric": [eval_loss, pred]}
