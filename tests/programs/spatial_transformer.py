"""PyTorch tutorials, Spatial Transformer Networks:
https://github.com/pytorch/tutorials/blob/main/intermediate_source/spatial_transformer_tutorial.py
(the version with ``Variable``; BSD-3-Clause).

Adapted: fake 28x28 images (16 to train, 8 to test) instead of MNIST, batch 8, two epochs; dropout 0 (the
tutorial's Dropout2d() and F.dropout's default 0.5); ``loss.data[0]`` reads ``loss.item()`` (indexing a 0-d
tensor fails on torch 2.13 as well); no plots.
"""
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.autograd import Variable

from _harness import images

use_cuda = torch.cuda.is_available()


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(0.0)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)
        self.localization = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=7),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
            nn.Conv2d(8, 10, kernel_size=5),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True)
        )
        self.fc_loc = nn.Sequential(
            nn.Linear(10 * 3 * 3, 32),
            nn.ReLU(True),
            nn.Linear(32, 3 * 2)
        )
        self.fc_loc[2].weight.data.fill_(0)
        self.fc_loc[2].bias.data = torch.FloatTensor([1, 0, 0, 0, 1, 0])

    def stn(self, x):
        xs = self.localization(x)
        xs = xs.view(-1, 10 * 3 * 3)
        theta = self.fc_loc(xs)
        theta = theta.view(-1, 2, 3)
        grid = F.affine_grid(theta, x.size())
        x = F.grid_sample(x, grid)
        return x

    def forward(self, x):
        x = self.stn(x)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, p=0.0, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x)


def main(init):
    train_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*images(torch, 16, (1, 28, 28), 10, 9)),
                                               batch_size=8, shuffle=False)
    test_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*images(torch, 8, (1, 28, 28), 10, 10)),
                                              batch_size=8, shuffle=False)
    model = init(torch, Net())
    if use_cuda:
        model.cuda()
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    losses, results = [], []

    def train(epoch):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = Variable(data), Variable(target)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    def test():
        model.eval()
        test_loss = 0
        correct = 0
        for data, target in test_loader:
            data, target = Variable(data, volatile=True), Variable(target)
            output = model(data)
            test_loss += F.nll_loss(output, target, size_average=False).item()
            pred = output.data.max(1, keepdim=True)[1]
            correct += pred.eq(target.data.view_as(pred)).cpu().sum()
        test_loss /= len(test_loader.dataset)
        results.append((test_loss, int(correct)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # implicit softmax dim, align_corners, size_average, volatile
        for epoch in range(1, 3):
            train(epoch)
            test()
        with torch.no_grad():
            data, _ = next(iter(test_loader))
            transformed = model.stn(data).cpu().data
    return {"losses": losses, "metric": [results, transformed.numpy()]}
