"""pytorch/examples mnist_hogwild: https://github.com/pytorch/examples/tree/main/mnist_hogwild (main.py and
train.py; BSD-3-Clause).

Adapted: the one training process runs in this process instead of a torch.multiprocessing worker; fake
images (24 to train, 16 to test); dropout 0.
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

from _harness import Args, images

losses = []


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(0.0)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, p=0.0, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def train(rank, args, model, device, dataset, dataloader_kwargs):
    torch.manual_seed(args.seed + rank)
    train_loader = torch.utils.data.DataLoader(dataset, **dataloader_kwargs)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    for epoch in range(1, args.epochs + 1):
        train_epoch(epoch, args, model, device, train_loader, optimizer)


def test(args, model, device, dataset, dataloader_kwargs):
    torch.manual_seed(args.seed)
    test_loader = torch.utils.data.DataLoader(dataset, **dataloader_kwargs)
    return test_epoch(model, device, test_loader)


def train_epoch(epoch, args, model, device, data_loader, optimizer):
    model.train()
    pid = os.getpid()  # noqa: F841  (printed by the original)
    for batch_idx, (data, target) in enumerate(data_loader):
        optimizer.zero_grad()
        output = model(data.to(device))
        loss = F.nll_loss(output, target.to(device))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())


def test_epoch(model, device, data_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in data_loader:
            output = model(data.to(device))
            test_loss += F.nll_loss(output, target.to(device), reduction='sum').item()  # sum up batch loss
            pred = output.max(1)[1]  # get the index of the max log-probability
            correct += pred.eq(target.to(device)).sum().item()
    test_loss /= len(data_loader.dataset)
    return test_loss, correct


def main(init):
    args = Args(batch_size=8, epochs=2, lr=0.01, momentum=0.5, seed=1, num_processes=1, cuda=False, mps=False)
    use_cuda = args.cuda and torch.cuda.is_available()
    use_mps = args.mps and torch.backends.mps.is_available()
    if use_cuda:
        device = torch.device("cuda")
    elif use_mps:
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    dataset1 = torch.utils.data.TensorDataset(*images(torch, 24, (1, 28, 28), 10, seed=3))
    dataset2 = torch.utils.data.TensorDataset(*images(torch, 16, (1, 28, 28), 10, seed=4))
    kwargs = {'batch_size': args.batch_size, 'shuffle': False}
    torch.manual_seed(args.seed)
    model = init(torch, Net().to(device))
    model.share_memory()  # gradients are allocated lazily, so they are not shared here
    for rank in range(args.num_processes):
        train(rank, args, model, device, dataset1, kwargs)
    return {"losses": losses, "metric": test(args, model, device, dataset2, kwargs)}
