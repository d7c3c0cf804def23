"""Neural Turing machine on the copy task, after loudinthecloud/pytorch-ntm (ntm/memory.py, ntm/head.py,
ntm/controller.py, ntm/ntm.py, tasks/copytask.py; BSD-3-Clause): https://github.com/loudinthecloud/pytorch-ntm

An LSTM controller whose initial state is a learned ``nn.Parameter`` ``clone().repeat``ed over the batch;
memory addressing by ``F.cosine_similarity`` of the key against every row (``+ 1e-16`` on both), content
weights ``F.softmax(beta * sim)``, interpolation with the previous weights, a circular 3-tap shift done with
``torch.cat`` wrap-around and ``F.conv1d``, sharpening ``w ** gamma`` renormalised; ``F.softplus`` for beta
and gamma, ``F.sigmoid`` for the gate and erase, ``F.softmax`` for the shift; writing by erase-and-add outer
products; the copy task's BCE loss with RMSprop and gradient clipping. Adapted: 4-bit sequences of length 3
drawn with NumPy, batch 4, controller 16, memory 8x6, one read and one write head, 6 steps; the memory bias is
initialised by ``init`` like the weights (the repo draws it with ``nn.init.uniform_``).
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _split_cols(mat, lengths):
    assert mat.size()[1] == sum(lengths), "Lengths must be summed to num columns"
    l = np.cumsum([0] + lengths)
    return [mat[:, s:e] for s, e in zip(l[:-1], l[1:])]


def _convolve(w, s):
    assert s.size(0) == 3
    t = torch.cat([w[-1:], w, w[:1]])
    return F.conv1d(t.view(1, 1, -1), s.view(1, 1, -1)).view(-1)


class NTMMemory(nn.Module):
    def __init__(self, N, M):
        super(NTMMemory, self).__init__()
        self.N, self.M = N, M
        self.register_buffer('mem_bias', torch.Tensor(N, M))
        stdev = 1 / (np.sqrt(N + M))
        nn.init.uniform_(self.mem_bias, -stdev, stdev)

    def reset(self, batch_size):
        self.batch_size = batch_size
        self.memory = self.mem_bias.clone().repeat(batch_size, 1, 1)

    def read(self, w):
        return torch.matmul(w.unsqueeze(1), self.memory).squeeze(1)

    def write(self, w, e, a):
        self.prev_mem = self.memory
        self.memory = torch.Tensor(self.batch_size, self.N, self.M)
        erase = torch.matmul(w.unsqueeze(-1), e.unsqueeze(1))
        add = torch.matmul(w.unsqueeze(-1), a.unsqueeze(1))
        self.memory = self.prev_mem * (1 - erase) + add

    def address(self, k, β, g, s, γ, w_prev):
        wc = F.softmax(β * F.cosine_similarity(self.memory + 1e-16, k.unsqueeze(1) + 1e-16, dim=-1), dim=1)
        wg = g * wc + (1 - g) * w_prev
        ŵ = torch.zeros(wg.size())
        for b in range(self.batch_size):
            ŵ[b] = _convolve(wg[b], s[b])
        w = ŵ ** γ
        return torch.div(w, torch.sum(w, dim=1).view(-1, 1) + 1e-16)


class NTMHead(nn.Module):
    def __init__(self, memory, controller_size, write):
        super().__init__()
        self.memory = memory
        self.N, self.M = memory.N, memory.M
        self.write_head = write
        self.lengths = [self.M, 1, 1, 3, 1] + ([self.M, self.M] if write else [])
        self.fc = nn.Linear(controller_size, sum(self.lengths))
        nn.init.xavier_uniform_(self.fc.weight, gain=1.4)
        nn.init.normal_(self.fc.bias, std=0.01)

    def create_new_state(self, batch_size):
        return torch.zeros(batch_size, self.N)

    def _address_memory(self, k, β, g, s, γ, w_prev):
        k = k.clone()
        β = F.softplus(β)
        g = F.sigmoid(g)
        s = F.softmax(s, dim=1)
        γ = 1 + F.softplus(γ)
        return self.memory.address(k, β, g, s, γ, w_prev)

    def forward(self, embeddings, w_prev):
        o = self.fc(embeddings)
        if self.write_head:
            k, β, g, s, γ, e, a = _split_cols(o, self.lengths)
            e = F.sigmoid(e)
            w = self._address_memory(k, β, g, s, γ, w_prev)
            self.memory.write(w, e, a)
            return w
        k, β, g, s, γ = _split_cols(o, self.lengths)
        w = self._address_memory(k, β, g, s, γ, w_prev)
        return self.memory.read(w), w


class LSTMController(nn.Module):
    def __init__(self, num_inputs, num_outputs, num_layers):
        super(LSTMController, self).__init__()
        self.num_outputs, self.num_layers = num_outputs, num_layers
        self.lstm = nn.LSTM(input_size=num_inputs, hidden_size=num_outputs, num_layers=num_layers)
        self.lstm_h_bias = nn.Parameter(torch.randn(self.num_layers, 1, self.num_outputs) * 0.05)
        self.lstm_c_bias = nn.Parameter(torch.randn(self.num_layers, 1, self.num_outputs) * 0.05)

    def create_new_state(self, batch_size):
        return (self.lstm_h_bias.clone().repeat(1, batch_size, 1), self.lstm_c_bias.clone().repeat(1, batch_size, 1))

    def forward(self, x, prev_state):
        outp, state = self.lstm(x.unsqueeze(0), prev_state)
        return outp.squeeze(0), state


class NTM(nn.Module):
    def __init__(self, num_inputs, num_outputs, controller_size, N, M):
        super(NTM, self).__init__()
        self.memory = NTMMemory(N, M)
        self.controller = LSTMController(num_inputs + M, controller_size, 1)
        self.read_head = NTMHead(self.memory, controller_size, write=False)
        self.write_head = NTMHead(self.memory, controller_size, write=True)
        self.init_r = nn.Parameter(torch.randn(1, M) * 0.01)
        self.fc = nn.Linear(controller_size + M, num_outputs)
        self.num_inputs = num_inputs

    def init_sequence(self, batch_size):
        self.batch_size = batch_size
        self.memory.reset(batch_size)
        self.state = ([self.init_r.clone().repeat(batch_size, 1)], self.controller.create_new_state(batch_size),
                      [self.read_head.create_new_state(batch_size), self.write_head.create_new_state(batch_size)])

    def forward(self, x=None):
        if x is None:
            x = torch.zeros(self.batch_size, self.num_inputs)
        prev_reads, prev_controller_state, prev_heads_states = self.state
        inp = torch.cat([x] + prev_reads, dim=1)
        controller_outp, controller_state = self.controller(inp, prev_controller_state)
        r, read_w = self.read_head(controller_outp, prev_heads_states[0])
        write_w = self.write_head(controller_outp, prev_heads_states[1])
        o = F.sigmoid(self.fc(torch.cat([controller_outp, r], dim=1)))
        self.state = ([r], controller_state, [read_w, write_w])
        return o, self.state


def copy_batch(rng, seq_len, seq_width, batch_size):
    seq = torch.from_numpy(rng.binomial(1, 0.5, (seq_len, batch_size, seq_width)).astype(np.float32))
    inp = torch.zeros(seq_len + 1, batch_size, seq_width + 1)
    inp[:seq_len, :, :seq_width] = seq
    inp[seq_len, :, seq_width] = 1.0
    return inp, seq.clone()


def main(init):
    rng = np.random.default_rng(0)
    net = init(torch, NTM(5, 4, 16, 8, 6))
    criterion = nn.BCELoss()
    optimizer = torch.optim.RMSprop(net.parameters(), momentum=0.9, alpha=0.95, lr=1e-3)
    losses = []
    for step in range(6):
        X, Y = copy_batch(rng, 3, 4, 4)
        optimizer.zero_grad()
        inp_seq_len, outp_seq_len = X.size(0), Y.size(0)
        net.init_sequence(4)
        for i in range(inp_seq_len):
            net(X[i])
        y_out = torch.zeros(Y.size())
        for i in range(outp_seq_len):
            y_out[i], _ = net()
        loss = criterion(y_out, Y)
        loss.backward()
        for p in net.parameters():
            p.grad.data.clamp_(-10, 10)
        optimizer.step()
        losses.append(loss.item())
    y_out_binarized = y_out.clone().data.apply_(lambda x: 0 if x < 0.5 else 1)
    cost = torch.sum(torch.abs(y_out_binarized - Y.data))
    return {"losses": losses, "metric": [y_out.detach().numpy(), cost.item(), net.state[2][0].detach().numpy()]}
