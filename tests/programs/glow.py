"""Glow, after rosinality/glow-pytorch (model.py, train.py; MIT): https://github.com/rosinality/glow-pytorch

``ActNorm`` with a data-dependent first-batch initialisation (a uint8 ``initialized`` buffer, ``loc.data.copy_``
and ``scale.data.copy_`` under ``torch.no_grad``), an ``InvConv2dLU`` whose weight is rebuilt each call from an
LU factorisation held as a permutation buffer, masked lower/upper factors and a log-scaled diagonal with its
sign buffer (``F.conv2d`` with ``weight.unsqueeze(2).unsqueeze(3)``, log-determinant ``h * w * sum(w_s)``),
an affine coupling whose last layer is a ``ZeroConv2d`` (zero-initialised, ``F.pad(value=1)``, ``exp(scale * 3)``),
the squeeze by ``view``/``permute``, and the bits-per-dimension loss with the dequantisation term. Adapted: one
block of two flows on 8x8 3-channel fake images quantised to 5 bits, coupling width 16; the LU factors come from
``torch.linalg.lu`` of a QR-orthogonalised NumPy matrix instead of ``scipy.linalg.lu``; the block's latent is
scored under a standard normal instead of the learned split prior; uniform dequantisation noise from NumPy;
5 SGD steps instead of Adam (after the data-dependent initialisation the ActNorm shifts have gradients that are
zero up to rounding, which Adam would scale to full steps); the reverse pass reconstructs the input.
"""
from math import log, pi

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

logabs = lambda x: torch.log(torch.abs(x))


class ActNorm(nn.Module):
    def __init__(self, in_channel, logdet=True):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(1, in_channel, 1, 1))
        self.scale = nn.Parameter(torch.ones(1, in_channel, 1, 1))
        self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))
        self.logdet = logdet

    def initialize(self, input):
        with torch.no_grad():
            flatten = input.permute(1, 0, 2, 3).contiguous().view(input.shape[1], -1)
            mean = flatten.mean(1).unsqueeze(1).unsqueeze(2).unsqueeze(3).permute(1, 0, 2, 3)
            std = flatten.std(1).unsqueeze(1).unsqueeze(2).unsqueeze(3).permute(1, 0, 2, 3)
            self.loc.data.copy_(-mean)
            self.scale.data.copy_(1 / (std + 1e-6))

    def forward(self, input):
        _, _, height, width = input.shape
        if self.initialized.item() == 0:
            self.initialize(input)
            self.initialized.fill_(1)
        log_abs = logabs(self.scale)
        logdet = height * width * torch.sum(log_abs)
        return self.scale * (input + self.loc), logdet

    def reverse(self, output):
        return output / self.scale - self.loc


class InvConv2dLU(nn.Module):
    def __init__(self, in_channel, rng):
        super().__init__()
        q, _ = np.linalg.qr(rng.standard_normal((in_channel, in_channel)))
        w_p, w_l, w_u = torch.linalg.lu(torch.from_numpy(q.astype(np.float32)))
        w_s = torch.diag(w_u)
        w_u = torch.triu(w_u, 1)
        u_mask = torch.triu(torch.ones_like(w_u), 1)
        l_mask = u_mask.T
        self.register_buffer("w_p", w_p)
        self.register_buffer("u_mask", u_mask)
        self.register_buffer("l_mask", l_mask)
        self.register_buffer("s_sign", torch.sign(w_s))
        self.register_buffer("l_eye", torch.eye(l_mask.shape[0]))
        self.w_l = nn.Parameter(w_l)
        self.w_s = nn.Parameter(logabs(w_s))
        self.w_u = nn.Parameter(w_u)

    def forward(self, input):
        _, _, height, width = input.shape
        weight = self.calc_weight()
        out = F.conv2d(input, weight)
        logdet = height * width * torch.sum(self.w_s)
        return out, logdet

    def calc_weight(self):
        weight = self.w_p @ (self.w_l * self.l_mask + self.l_eye) @ (
            (self.w_u * self.u_mask) + torch.diag(self.s_sign * torch.exp(self.w_s)))
        return weight.unsqueeze(2).unsqueeze(3)

    def reverse(self, output):
        weight = self.calc_weight()
        return F.conv2d(output, weight.squeeze().inverse().unsqueeze(2).unsqueeze(3))


class ZeroConv2d(nn.Module):
    def __init__(self, in_channel, out_channel):
        super().__init__()
        self.conv = nn.Conv2d(in_channel, out_channel, 3, padding=0)
        self.conv.weight.data.zero_()
        self.conv.bias.data.zero_()
        self.scale = nn.Parameter(torch.zeros(1, out_channel, 1, 1))

    def forward(self, input):
        out = F.pad(input, [1, 1, 1, 1], value=1)
        out = self.conv(out)
        return out * torch.exp(self.scale * 3)


class AffineCoupling(nn.Module):
    def __init__(self, in_channel, filter_size=16):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(in_channel // 2, filter_size, 3, padding=1), nn.ReLU(inplace=True),
                                 nn.Conv2d(filter_size, filter_size, 1), nn.ReLU(inplace=True),
                                 ZeroConv2d(filter_size, in_channel))
        self.net[0].weight.data.normal_(0, 0.05)
        self.net[0].bias.data.zero_()
        self.net[2].weight.data.normal_(0, 0.05)
        self.net[2].bias.data.zero_()

    def forward(self, input):
        in_a, in_b = input.chunk(2, 1)
        log_s, t = self.net(in_a).chunk(2, 1)
        s = F.sigmoid(log_s + 2)
        out_b = (in_b + t) * s
        logdet = torch.sum(torch.log(s).view(input.shape[0], -1), 1)
        return torch.cat([in_a, out_b], 1), logdet

    def reverse(self, output):
        out_a, out_b = output.chunk(2, 1)
        log_s, t = self.net(out_a).chunk(2, 1)
        s = F.sigmoid(log_s + 2)
        in_b = out_b / s - t
        return torch.cat([out_a, in_b], 1)


class Flow(nn.Module):
    def __init__(self, in_channel, rng):
        super().__init__()
        self.actnorm = ActNorm(in_channel)
        self.invconv = InvConv2dLU(in_channel, rng)
        self.coupling = AffineCoupling(in_channel)

    def forward(self, input):
        out, logdet = self.actnorm(input)
        out, det1 = self.invconv(out)
        out, det2 = self.coupling(out)
        return out, logdet + det1 + det2

    def reverse(self, output):
        return self.actnorm.reverse(self.invconv.reverse(self.coupling.reverse(output)))


def squeeze(input):
    b_size, n_channel, height, width = input.shape
    squeezed = input.view(b_size, n_channel, height // 2, 2, width // 2, 2)
    squeezed = squeezed.permute(0, 1, 3, 5, 2, 4)
    return squeezed.contiguous().view(b_size, n_channel * 4, height // 2, width // 2)


def unsqueeze(out):
    b_size, n_channel, height, width = out.shape
    out = out.view(b_size, n_channel // 4, 2, 2, height, width).permute(0, 1, 4, 2, 5, 3)
    return out.contiguous().view(b_size, n_channel // 4, height * 2, width * 2)


class Block(nn.Module):
    def __init__(self, in_channel, n_flow, rng):
        super().__init__()
        self.flows = nn.ModuleList([Flow(in_channel * 4, rng) for _ in range(n_flow)])

    def forward(self, input):
        out = squeeze(input)
        logdet = 0
        for flow in self.flows:
            out, det = flow(out)
            logdet = logdet + det
        log_p = (-0.5 * log(2 * pi) - 0.5 * out ** 2).view(input.shape[0], -1).sum(1)
        return log_p, logdet, out

    def reverse(self, z):
        for flow in self.flows[::-1]:
            z = flow.reverse(z)
        return unsqueeze(z)


def calc_loss(log_p, logdet, image_size, n_bins):
    n_pixel = image_size * image_size * 3
    loss = -log(n_bins) * n_pixel
    loss = loss + logdet + log_p
    return ((-loss / (log(2) * n_pixel)).mean(), (log_p / (log(2) * n_pixel)).mean(),
            (logdet / (log(2) * n_pixel)).mean())


def main(init):
    rng = np.random.default_rng(0)
    model = init(torch, Block(3, 2, np.random.default_rng(1)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    n_bins = 2.0 ** 5
    data = rng.random((5, 8, 3, 8, 8)).astype(np.float32)
    losses = []
    for i in range(5):
        image = torch.from_numpy(data[i]) * 255
        image = torch.floor(image / 2 ** 3)
        image = image / n_bins - 0.5
        noise = torch.from_numpy(rng.random(image.shape).astype(np.float32))
        log_p, logdet, _ = model(image + noise / n_bins)
        logdet = logdet.mean()
        loss, log_p, log_det = calc_loss(log_p, logdet, 8, n_bins)
        model.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        _, _, z = model(image)
        back = model.reverse(z)
    return {"losses": losses, "metric": [z.numpy(), (back - image).abs().max().item() < 1e-4,
                                         model.flows[0].actnorm.scale.detach().numpy(),
                                         model.flows[0].actnorm.initialized.item()]}
