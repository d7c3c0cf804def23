"""kuangliu/pytorch-cifar, ResNet: https://github.com/kuangliu/pytorch-cifar (models/resnet.py and main.py; MIT
License).

Adapted: fake 32x32 RGB images (4 to train, 4 to test, batch 2) instead of CIFAR-10, one epoch; the network is
ResNet(BasicBlock, [1, 1, 1, 1]) (ResNet18 is [2, 2, 2, 2]); no progress bar; the checkpoint goes to a
temporary folder.
"""
import os
import tempfile

import torch
import torch.backends.cudnn as cudnn
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

from _harness import Args, images, loader


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super(BasicBlock, self).__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        out = F.relu(out)
        return out


class ResNet(nn.Module):
    def __init__(self, block, num_blocks, num_classes=10):
        super(ResNet, self).__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._make_layer(block, 64, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, 128, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, 256, num_blocks[2], stride=2)
        self.layer4 = self._make_layer(block, 512, num_blocks[3], stride=2)
        self.linear = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, num_blocks, stride):
        strides = [stride] + [1] * (num_blocks - 1)
        layers = []
        for stride in strides:
            layers.append(block(self.in_planes, planes, stride))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer1(out)
        out = self.layer2(out)
        out = self.layer3(out)
        out = self.layer4(out)
        out = F.avg_pool2d(out, 4)
        out = out.view(out.size(0), -1)
        out = self.linear(out)
        return out


def main(init):
    args = Args(lr=0.1, resume=False)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    best_acc = 0
    start_epoch = 0
    trainloader = loader(torch, *images(torch, 4, (3, 32, 32), 10, seed=11), batch_size=2)
    testloader = loader(torch, *images(torch, 4, (3, 32, 32), 10, seed=12), batch_size=2)
    net = ResNet(BasicBlock, [1, 1, 1, 1])
    net = net.to(device)
    if device == 'cuda':
        net = torch.nn.DataParallel(net)
        cudnn.benchmark = True
    init(torch, net)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=200)
    losses, accs = [], []
    tmp = tempfile.TemporaryDirectory()

    def train(epoch):
        net.train()
        train_loss = 0
        correct = 0
        total = 0
        for batch_idx, (inputs, targets) in enumerate(trainloader):
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()
            train_loss += loss.item()
            _, predicted = outputs.max(1)
            total += targets.size(0)
            correct += predicted.eq(targets).sum().item()
            losses.append(loss.item())

    def test(epoch):
        nonlocal best_acc
        net.eval()
        test_loss = 0
        correct = 0
        total = 0
        with torch.no_grad():
            for batch_idx, (inputs, targets) in enumerate(testloader):
                inputs, targets = inputs.to(device), targets.to(device)
                outputs = net(inputs)
                loss = criterion(outputs, targets)
                test_loss += loss.item()
                _, predicted = outputs.max(1)
                total += targets.size(0)
                correct += predicted.eq(targets).sum().item()
        acc = 100. * correct / total
        accs.append((test_loss, acc))
        if acc >= best_acc:
            state = {'net': net.state_dict(), 'acc': acc, 'epoch': epoch}
            if not os.path.isdir(os.path.join(tmp.name, 'checkpoint')):
                os.mkdir(os.path.join(tmp.name, 'checkpoint'))
            torch.save(state, os.path.join(tmp.name, 'checkpoint', 'ckpt.pth'))
            best_acc = acc

    for epoch in range(start_epoch, start_epoch + 1):
        train(epoch)
        test(epoch)
        scheduler.step()
    checkpoint = torch.load(os.path.join(tmp.name, 'checkpoint', 'ckpt.pth'))
    net.load_state_dict(checkpoint['net'])
    tmp.cleanup()
    return {"losses": losses, "metric": [accs, checkpoint['epoch'], scheduler.get_last_lr()]}


TOLERANCE = dict(rtol=2e-4, atol=2e-5)  # batch norm over 2 images amplifies float32 rounding
