"""YongfeiYan/Gumbel_Softmax_VAE: https://github.com/YongfeiYan/Gumbel_Softmax_VAE (gumbel_softmax_vae.py; after
the PyTorch VAE example and Eric Jang's TensorFlow original), a VAE with 30 categorical latents of 10 classes.

The straight-through Gumbel-softmax as the program writes it (``-log(-log(U + eps) + eps)`` noise, softmax at a
temperature, ``max(dim=-1)`` indices ``scatter_``-ed into a zeros tensor, ``(y_hard - y).detach() + y``), the
categorical KL against a uniform prior, ``binary_cross_entropy`` with the legacy ``size_average=False``, the
temperature annealed with ``np.maximum``/``np.exp`` (a NumPy float dividing the logits), evaluation without
``no_grad``, and decoding one-hot prior samples built by NumPy and ``torch.from_numpy``. Adapted: the uniform
noise ``torch.rand(shape)`` is drawn by NumPy (the libraries' streams differ); 8x8 fake images in [0, 1] and
hidden sizes 64/32 instead of 28x28 and 512/256; 12 training batches of 8 (so the batch_idx % 100 == 1
annealing runs once); argparse replaced by its defaults.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn, optim

from _harness import Args

args = Args(batch_size=8, epochs=1, temp=1.0, cuda=False, log_interval=10)
pixels = 64  # 784 in the original
noise = np.random.default_rng(0)  # stands in for torch.rand's stream


def sample_gumbel(shape, eps=1e-20):
    U = torch.tensor(noise.random(tuple(shape)), dtype=torch.float32)
    return -torch.log(-torch.log(U + eps) + eps)


def gumbel_softmax_sample(logits, temperature):
    y = logits + sample_gumbel(logits.size())
    return F.softmax(y / temperature, dim=-1)


def gumbel_softmax(logits, temperature):
    """ST-gumbel-softmax: [*, n_class] in, flattened one-hot vectors out."""
    y = gumbel_softmax_sample(logits, temperature)
    shape = y.size()
    _, ind = y.max(dim=-1)
    y_hard = torch.zeros_like(y).view(-1, shape[-1])
    y_hard.scatter_(1, ind.view(-1, 1), 1)
    y_hard = y_hard.view(*shape)
    # the forward pass sees the one-hot sample, the backward pass the soft one
    y_hard = (y_hard - y).detach() + y
    return y_hard.view(-1, latent_dim * categorical_dim)


class VAE_gumbel(nn.Module):
    def __init__(self, temp):
        super(VAE_gumbel, self).__init__()
        self.fc1 = nn.Linear(pixels, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, latent_dim * categorical_dim)
        self.fc4 = nn.Linear(latent_dim * categorical_dim, 32)
        self.fc5 = nn.Linear(32, 64)
        self.fc6 = nn.Linear(64, pixels)
        self.relu = nn.ReLU()
        self.sigmoid = nn.Sigmoid()

    def encode(self, x):
        h1 = self.relu(self.fc1(x))
        h2 = self.relu(self.fc2(h1))
        return self.relu(self.fc3(h2))

    def decode(self, z):
        h4 = self.relu(self.fc4(z))
        h5 = self.relu(self.fc5(h4))
        return self.sigmoid(self.fc6(h5))

    def forward(self, x, temp):
        q = self.encode(x.view(-1, pixels))
        q_y = q.view(q.size(0), latent_dim, categorical_dim)
        z = gumbel_softmax(q_y, temp)
        return self.decode(z), F.softmax(q_y, dim=-1).reshape(*q.size())


latent_dim = 30
categorical_dim = 10  # one-of-K vector
temp_min = 0.5
ANNEAL_RATE = 0.00003


def loss_function(recon_x, x, qy):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, pixels), size_average=False) / x.shape[0]
    log_ratio = torch.log(qy * categorical_dim + 1e-20)
    KLD = torch.sum(qy * log_ratio, dim=-1).mean()
    return BCE + KLD


def train(model, optimizer, train_loader, losses):
    model.train()
    train_loss = 0
    temp = args.temp
    for batch_idx, (data, _) in enumerate(train_loader):
        optimizer.zero_grad()
        recon_batch, qy = model(data, temp)
        loss = loss_function(recon_batch, data, qy)
        loss.backward()
        train_loss += loss.item() * len(data)
        optimizer.step()
        if batch_idx % 100 == 1:
            temp = np.maximum(temp * np.exp(-ANNEAL_RATE * batch_idx), temp_min)
        losses.append(loss.item())
    return train_loss / len(train_loader.dataset)


def test(model, test_loader):
    model.eval()
    test_loss = 0
    temp = args.temp
    for i, (data, _) in enumerate(test_loader):
        recon_batch, qy = model(data, temp)
        test_loss += loss_function(recon_batch, data, qy).item() * len(data)
    return test_loss / len(test_loader.dataset)


def main(init):
    rng = np.random.default_rng(1)
    data = torch.tensor((rng.random((112, 1, 8, 8)) > 0.6).astype(np.float32))  # binarised digits stand-in
    labels = torch.zeros(112, dtype=torch.long)
    train_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data[:96], labels[:96]),
                                               batch_size=args.batch_size)
    test_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data[96:], labels[96:]),
                                              batch_size=args.batch_size)
    model = init(torch, VAE_gumbel(args.temp))
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    train_avg = train(model, optimizer, train_loader, losses)
    test_loss = test(model, test_loader)
    M = 4 * latent_dim
    np_y = np.zeros((M, categorical_dim), dtype=np.float32)
    np_y[range(M), rng.choice(categorical_dim, M)] = 1
    np_y = np.reshape(np_y, [M // latent_dim, latent_dim, categorical_dim])
    sample = torch.from_numpy(np_y).view(M // latent_dim, latent_dim * categorical_dim)
    sample = model.decode(sample).cpu()
    return {"losses": losses, "metric": [train_avg, test_loss, sample.data.view(M // latent_dim, 1, 8, 8).tolist()]}
