"""Temporal convolutional network on the adding problem, after locuslab/TCN (TCN/tcn.py, TCN/adding_problem/
model.py, add_test.py, utils.py; MIT): https://github.com/locuslab/TCN

``Chomp1d`` trims the causal padding with ``x[:, :, :-chomp_size].contiguous()``; each ``TemporalBlock`` is two
``weight_norm(nn.Conv1d(..., dilation=d))`` layers with chomp, ReLU and dropout, and a 1x1 downsample on the
residual when the widths differ; ``init_weights`` calls ``normal_(0, 0.01)`` on the weights; the model reads
the last time step through a linear layer; MSE against the sum of the two marked values; gradient clipping.
Adapted: sequences of 24 steps, 3 levels of 8 channels, kernel 3, dropout 0, batches of 16, 6 Adam steps;
data drawn with NumPy as ``data_generator`` lays it out (random values in channel 0, two ones in channel 1).
"""
import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils import weight_norm


class Chomp1d(nn.Module):
    def __init__(self, chomp_size):
        super(Chomp1d, self).__init__()
        self.chomp_size = chomp_size

    def forward(self, x):
        return x[:, :, :-self.chomp_size].contiguous()


class TemporalBlock(nn.Module):
    def __init__(self, n_inputs, n_outputs, kernel_size, stride, dilation, padding, dropout=0.2):
        super(TemporalBlock, self).__init__()
        self.conv1 = weight_norm(nn.Conv1d(n_inputs, n_outputs, kernel_size, stride=stride, padding=padding,
                                           dilation=dilation))
        self.chomp1 = Chomp1d(padding)
        self.relu1 = nn.ReLU()
        self.dropout1 = nn.Dropout(dropout)
        self.conv2 = weight_norm(nn.Conv1d(n_outputs, n_outputs, kernel_size, stride=stride, padding=padding,
                                           dilation=dilation))
        self.chomp2 = Chomp1d(padding)
        self.relu2 = nn.ReLU()
        self.dropout2 = nn.Dropout(dropout)
        self.net = nn.Sequential(self.conv1, self.chomp1, self.relu1, self.dropout1,
                                 self.conv2, self.chomp2, self.relu2, self.dropout2)
        self.downsample = nn.Conv1d(n_inputs, n_outputs, 1) if n_inputs != n_outputs else None
        self.relu = nn.ReLU()
        self.init_weights()

    def init_weights(self):
        self.conv1.weight.data.normal_(0, 0.01)
        self.conv2.weight.data.normal_(0, 0.01)
        if self.downsample is not None:
            self.downsample.weight.data.normal_(0, 0.01)

    def forward(self, x):
        out = self.net(x)
        res = x if self.downsample is None else self.downsample(x)
        return self.relu(out + res)


class TemporalConvNet(nn.Module):
    def __init__(self, num_inputs, num_channels, kernel_size=2, dropout=0.2):
        super(TemporalConvNet, self).__init__()
        layers = []
        num_levels = len(num_channels)
        for i in range(num_levels):
            dilation_size = 2 ** i
            in_channels = num_inputs if i == 0 else num_channels[i - 1]
            out_channels = num_channels[i]
            layers += [TemporalBlock(in_channels, out_channels, kernel_size, stride=1, dilation=dilation_size,
                                     padding=(kernel_size - 1) * dilation_size, dropout=dropout)]
        self.network = nn.Sequential(*layers)

    def forward(self, x):
        return self.network(x)


class TCN(nn.Module):
    def __init__(self, input_size, output_size, num_channels, kernel_size, dropout):
        super(TCN, self).__init__()
        self.tcn = TemporalConvNet(input_size, num_channels, kernel_size=kernel_size, dropout=dropout)
        self.linear = nn.Linear(num_channels[-1], output_size)
        self.init_weights()

    def init_weights(self):
        self.linear.weight.data.normal_(0, 0.01)

    def forward(self, x):
        y1 = self.tcn(x)
        return self.linear(y1[:, :, -1])


def data_generator(N, seq_length, rng):
    X_num = torch.from_numpy(rng.random((N, 1, seq_length)).astype(np.float32))
    X_mask = torch.zeros([N, 1, seq_length])
    Y = torch.zeros([N, 1])
    for i in range(N):
        positions = rng.choice(seq_length, size=2, replace=False)
        X_mask[i, 0, positions[0]] = 1
        X_mask[i, 0, positions[1]] = 1
        Y[i, 0] = X_num[i, 0, positions[0]] + X_num[i, 0, positions[1]]
    X = torch.cat((X_num, X_mask), dim=1)
    return X, Y


def main(init):
    rng = np.random.default_rng(0)
    X_train, Y_train = data_generator(96, 24, rng)
    X_test, Y_test = data_generator(32, 24, rng)
    model = init(torch, TCN(2, 1, [8] * 3, kernel_size=3, dropout=0.0))
    optimizer = torch.optim.Adam(model.parameters(), lr=4e-3)
    losses = []
    model.train()
    batch_size = 16
    for i in range(0, X_train.size(0), batch_size):
        x, y = X_train[i:i + batch_size], Y_train[i:i + batch_size]
        optimizer.zero_grad()
        output = model(x)
        loss = torch.nn.functional.mse_loss(output, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        output = model(X_test)
        test_loss = torch.nn.functional.mse_loss(output, Y_test)
    w = model.tcn.network[0].conv1.weight
    return {"losses": losses, "metric": [test_loss.item(), output.numpy(), w.detach().numpy()]}
