"""PixelCNN, after jzbontar/pixelcnn-pytorch (main.py; no licence file, read only):
https://github.com/jzbontar/pixelcnn-pytorch

``MaskedConv2d`` subclasses ``nn.Conv2d``, keeps its type-A/B mask as a buffer cloned from ``weight.data`` and
multiplies ``self.weight.data`` by it in place before each ``super().forward``; the net predicts a 256-way
softmax per pixel with ``F.cross_entropy`` over (N, 256, H, W) logits; sampling fills the image pixel by pixel.
Adapted: 8x8 fake images instead of MNIST, 16 feature maps and 3 type-B layers instead of 64 and 7; 5 Adam
steps; the sampler draws each pixel by inverting the CDF at a NumPy uniform (``torch.multinomial`` draws from
the library's stream) and samples only the first 2 rows.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from _harness import sample


class MaskedConv2d(nn.Conv2d):
    def __init__(self, mask_type, *args, **kwargs):
        super(MaskedConv2d, self).__init__(*args, **kwargs)
        assert mask_type in {'A', 'B'}
        self.register_buffer('mask', self.weight.data.clone())
        _, _, kH, kW = self.weight.size()
        self.mask.fill_(1)
        self.mask[:, :, kH // 2, kW // 2 + (mask_type == 'B'):] = 0
        self.mask[:, :, kH // 2 + 1:] = 0

    def forward(self, x):
        self.weight.data *= self.mask
        return super(MaskedConv2d, self).forward(x)


def make_net(fm):
    return nn.Sequential(
        MaskedConv2d('A', 1, fm, 7, 1, 3, bias=False), nn.BatchNorm2d(fm), nn.ReLU(True),
        MaskedConv2d('B', fm, fm, 7, 1, 3, bias=False), nn.BatchNorm2d(fm), nn.ReLU(True),
        MaskedConv2d('B', fm, fm, 7, 1, 3, bias=False), nn.BatchNorm2d(fm), nn.ReLU(True),
        MaskedConv2d('B', fm, fm, 7, 1, 3, bias=False), nn.BatchNorm2d(fm), nn.ReLU(True),
        nn.Conv2d(fm, 256, 1))


def main(init):
    rng = np.random.default_rng(0)
    net = init(torch, make_net(16))
    optimizer = torch.optim.Adam(net.parameters())
    data = torch.from_numpy((rng.random((5, 8, 1, 8, 8)) > 0.6).astype(np.float32) * rng.random((5, 8, 1, 8, 8),
                                                                                           dtype=np.float32))
    losses = []
    net.train()
    for input in data:
        target = (input.data[:, 0] * 255).long()
        loss = F.cross_entropy(net(input), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    out = torch.Tensor(4, 1, 8, 8)
    out.fill_(0)
    net.eval()
    with torch.no_grad():
        for i in range(2):
            for j in range(8):
                logits = net(out)
                probs = F.softmax(logits[:, :, i, j], dim=1).data
                out[:, :, i, j] = sample(torch, probs, rng).float().unsqueeze(1) / 255.
    return {"losses": losses, "metric": [out.numpy(), net[3].mask.numpy()[0, 0], net[0].weight.detach().numpy()]}
