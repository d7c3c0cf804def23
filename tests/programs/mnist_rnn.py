"""pytorch/examples mnist_rnn: https://github.com/pytorch/examples/blob/main/mnist_rnn/main.py (BSD-3-Clause).

Adapted: fake 28x28 images (24 to train, 16 to test), one epoch; the two Dropout2d layers (given a 2-D input,
torch warns and drops entries) have p=0.
"""
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR

from _harness import Args, images, loader

losses = []


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.rnn = nn.LSTM(input_size=28, hidden_size=64, batch_first=True)
        self.batchnorm = nn.BatchNorm1d(64)
        self.dropout1 = nn.Dropout2d(0.0)
        self.dropout2 = nn.Dropout2d(0.0)
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, input):
        input = input.reshape(-1, 28, 28)
        output, hidden = self.rnn(input)
        output = output[:, -1, :]
        output = self.batchnorm(output)
        output = self.dropout1(output)
        output = self.fc1(output)
        output = F.relu(output)
        output = self.dropout2(output)
        output = self.fc2(output)
        output = F.log_softmax(output, dim=1)
        return output


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())


def test(args, model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    return test_loss, correct


def main(init):
    args = Args(batch_size=8, test_batch_size=16, epochs=1, lr=0.1, gamma=0.7, accel=False, seed=1)
    if args.accel:
        device = torch.accelerator.current_accelerator()
    else:
        device = torch.device("cpu")
    torch.manual_seed(args.seed)
    train_loader = loader(torch, *images(torch, 24, (1, 28, 28), 10, seed=5), batch_size=args.batch_size)
    test_loader = loader(torch, *images(torch, 16, (1, 28, 28), 10, seed=6), batch_size=args.test_batch_size)
    model = init(torch, Net().to(device))
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for epoch in range(1, args.epochs + 1):
            train(args, model, device, train_loader, optimizer, epoch)
            metric = test(args, model, device, test_loader)
            scheduler.step()
    dropout2d_warned = any("dropout2d" in str(w.message) for w in caught)
    return {"losses": losses, "metric": [*metric, dropout2d_warned]}
