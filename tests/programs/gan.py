"""eriklindernoren/PyTorch-GAN, GAN: https://github.com/eriklindernoren/PyTorch-GAN/blob/master/implementations/gan/gan.py
(MIT License).

Adapted: fake 8x8 images in [-1, 1] (16, batch 8) instead of MNIST resized, latent_dim 16, one epoch, no
image files; np.random is seeded (the program draws its noise from it).
"""
import numpy as np
import torch
import torch.nn as nn
from torch.autograd import Variable

from _harness import Args

opt = Args(n_epochs=1, batch_size=8, lr=0.0002, b1=0.5, b2=0.999, latent_dim=16, img_size=8, channels=1)
img_shape = (opt.channels, opt.img_size, opt.img_size)
cuda = True if torch.cuda.is_available() else False


class Generator(nn.Module):
    def __init__(self):
        super(Generator, self).__init__()

        def block(in_feat, out_feat, normalize=True):
            layers = [nn.Linear(in_feat, out_feat)]
            if normalize:
                layers.append(nn.BatchNorm1d(out_feat, 0.8))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            return layers

        self.model = nn.Sequential(
            *block(opt.latent_dim, 128, normalize=False),
            *block(128, 256),
            *block(256, 512),
            *block(512, 1024),
            nn.Linear(1024, int(np.prod(img_shape))),
            nn.Tanh()
        )

    def forward(self, z):
        img = self.model(z)
        img = img.view(img.size(0), *img_shape)
        return img


class Discriminator(nn.Module):
    def __init__(self):
        super(Discriminator, self).__init__()
        self.model = nn.Sequential(
            nn.Linear(int(np.prod(img_shape)), 512),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(256, 1),
            nn.Sigmoid(),
        )

    def forward(self, img):
        img_flat = img.view(img.size(0), -1)
        validity = self.model(img_flat)
        return validity


def main(init):
    np.random.seed(0)
    adversarial_loss = torch.nn.BCELoss()
    generator = init(torch, Generator(), "generator")
    discriminator = init(torch, Discriminator(), "discriminator")
    if cuda:
        generator.cuda()
        discriminator.cuda()
        adversarial_loss.cuda()
    data = np.random.uniform(-1, 1, (16, *img_shape)).astype(np.float32)
    dataloader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(data), torch.zeros(16)),
                                             batch_size=opt.batch_size, shuffle=False)
    optimizer_G = torch.optim.Adam(generator.parameters(), lr=opt.lr, betas=(opt.b1, opt.b2))
    optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=opt.lr, betas=(opt.b1, opt.b2))
    Tensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor
    losses = []
    for epoch in range(opt.n_epochs):
        for i, (imgs, _) in enumerate(dataloader):
            valid = Variable(Tensor(imgs.size(0), 1).fill_(1.0), requires_grad=False)
            fake = Variable(Tensor(imgs.size(0), 1).fill_(0.0), requires_grad=False)
            real_imgs = Variable(imgs.type(Tensor))
            optimizer_G.zero_grad()
            z = Variable(Tensor(np.random.normal(0, 1, (imgs.shape[0], opt.latent_dim))))
            gen_imgs = generator(z)
            g_loss = adversarial_loss(discriminator(gen_imgs), valid)
            g_loss.backward()
            optimizer_G.step()
            optimizer_D.zero_grad()
            real_loss = adversarial_loss(discriminator(real_imgs), valid)
            fake_loss = adversarial_loss(discriminator(gen_imgs.detach()), fake)
            d_loss = (real_loss + fake_loss) / 2
            d_loss.backward()
            optimizer_D.step()
            losses += [d_loss.item(), g_loss.item()]
    return {"losses": losses, "metric": gen_imgs.detach().numpy()}
