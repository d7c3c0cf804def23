"""pytorch/examples vae: https://github.com/pytorch/examples/blob/main/vae/main.py (BSD-3-Clause).

Adapted: fake images in [0, 1] (32 to train in batches of 8, 16 to test), one epoch; the reparameterisation
noise comes from NumPy instead of torch.randn_like; no image files are written.
"""
import numpy as np
import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F

from _harness import Args

noise = np.random.default_rng(0)
losses = []


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.tensor(noise.standard_normal(tuple(std.shape)).astype(np.float32))
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def main(init):
    global noise
    noise = np.random.default_rng(0)
    args = Args(batch_size=8, epochs=1, no_accel=False, seed=1, log_interval=10)
    use_accel = not args.no_accel and torch.accelerator.is_available()
    torch.manual_seed(args.seed)
    device = torch.accelerator.current_accelerator() if use_accel else torch.device("cpu")
    kwargs = {'num_workers': 1, 'pin_memory': True} if use_accel else {}
    rng = np.random.default_rng(3)
    train_set = torch.utils.data.TensorDataset(torch.tensor(rng.random((32, 1, 28, 28), dtype=np.float32)),
                                               torch.zeros(32))
    test_set = torch.utils.data.TensorDataset(torch.tensor(rng.random((16, 1, 28, 28), dtype=np.float32)),
                                              torch.zeros(16))
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=False, **kwargs)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=args.batch_size, shuffle=False, **kwargs)
    model = init(torch, VAE().to(device))
    optimizer = optim.Adam(model.parameters(), lr=1e-3)

    def train(epoch):
        model.train()
        train_loss = 0
        for batch_idx, (data, _) in enumerate(train_loader):
            data = data.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            losses.append(loss.item() / len(data))
        return train_loss / len(train_loader.dataset)

    def test(epoch):
        model.eval()
        test_loss = 0
        with torch.no_grad():
            for i, (data, _) in enumerate(test_loader):
                data = data.to(device)
                recon_batch, mu, logvar = model(data)
                test_loss += loss_function(recon_batch, data, mu, logvar).item()
                if i == 0:
                    n = min(data.size(0), 8)
                    comparison = torch.cat([data[:n], recon_batch.view(args.batch_size, 1, 28, 28)[:n]])
        test_loss /= len(test_loader.dataset)
        return test_loss, comparison.shape

    for epoch in range(1, args.epochs + 1):
        train(epoch)
        test_loss, shape = test(epoch)
        with torch.no_grad():
            sample = torch.tensor(noise.standard_normal((64, 20)).astype(np.float32)).to(device)
            sample = model.decode(sample).cpu()
    return {"losses": losses, "metric": [test_loss, list(shape), sample.numpy()]}
