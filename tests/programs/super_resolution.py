"""pytorch/examples super_resolution: https://github.com/pytorch/examples/tree/main/super_resolution (model.py and
main.py; BSD-3-Clause).

Adapted: fake 8x8 low-resolution / 24x24 high-resolution image pairs (8, in batches of 4) instead of BSDS300,
two epochs; each epoch's checkpoint goes to a temporary folder.
"""
import os
import tempfile
from math import log10

import numpy as np
import torch
import torch.nn as nn
import torch.nn.init as init
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset

from _harness import Args


class Net(nn.Module):
    def __init__(self, upscale_factor):
        super(Net, self).__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(64, 64, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(64, 32, (3, 3), (1, 1), (1, 1))
        self.conv4 = nn.Conv2d(32, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)
        self._initialize_weights()

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        x = self.pixel_shuffle(self.conv4(x))
        return x

    def _initialize_weights(self):
        init.orthogonal_(self.conv1.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv2.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv3.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv4.weight)


def main(init_weights):
    opt = Args(upscale_factor=3, batchSize=4, testBatchSize=4, nEpochs=2, lr=0.001, seed=123, accel=False)
    torch.manual_seed(opt.seed)
    device = torch.accelerator.current_accelerator() if opt.accel and torch.accelerator.is_available() else "cpu"
    rng = np.random.default_rng(0)
    hi = rng.random((12, 1, 24, 24)).astype(np.float32)
    lo = hi.reshape(12, 1, 8, 3, 8, 3).mean(axis=(3, 5))
    training_data_loader = DataLoader(dataset=TensorDataset(torch.tensor(lo[:8]), torch.tensor(hi[:8])),
                                      batch_size=opt.batchSize, shuffle=False)
    testing_data_loader = DataLoader(dataset=TensorDataset(torch.tensor(lo[8:]), torch.tensor(hi[8:])),
                                     batch_size=opt.testBatchSize, shuffle=False)
    model = init_weights(torch, Net(upscale_factor=opt.upscale_factor).to(device))
    criterion = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=opt.lr)
    losses, psnrs = [], []

    def train(epoch):
        epoch_loss = 0
        for iteration, batch in enumerate(training_data_loader, 1):
            input, target = batch[0].to(device), batch[1].to(device)
            optimizer.zero_grad()
            loss = criterion(model(input), target)
            epoch_loss += loss.item()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    def test():
        avg_psnr = 0
        with torch.no_grad():
            for batch in testing_data_loader:
                input, target = batch[0].to(device), batch[1].to(device)
                prediction = model(input)
                mse = criterion(prediction, target)
                psnr = 10 * log10(1 / mse.item())
                avg_psnr += psnr
        psnrs.append(avg_psnr / len(testing_data_loader))

    with tempfile.TemporaryDirectory() as tmp:
        def checkpoint(epoch):
            model_out_path = os.path.join(tmp, "model_epoch_{}.pth".format(epoch))
            torch.save(model, model_out_path)

        for epoch in range(1, opt.nEpochs + 1):
            train(epoch)
            test()
            checkpoint(epoch)
        reloaded = torch.load(os.path.join(tmp, "model_epoch_2.pth"), weights_only=False)
    with torch.no_grad():
        same = bool((reloaded(torch.tensor(lo[8:])) == model(torch.tensor(lo[8:]))).all())
    return {"losses": losses, "metric": [psnrs, same]}
