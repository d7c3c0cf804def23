"""lucidrains/DALLE-pytorch: https://github.com/lucidrains/DALLE-pytorch (dalle_pytorch/dalle_pytorch.py's
DiscreteVAE, train_vae.py; MIT License), the dVAE that gives DALL-E its image tokens.

``F.gumbel_softmax(logits, tau=temp, dim=1, hard=True)`` over the token channel, drawn from the library's own
generator after ``torch.manual_seed`` (ember's stream is torch's, so the hard samples agree draw for draw), the
codebook mixed in by ``einsum('b n h w, n d -> b d h w')``, strided conv/conv-transpose stacks with residual
blocks, the KL to a uniform prior by ``F.kl_div(log_uniform, log_qy, None, None, 'batchmean', log_target=True)``
(a one-element input broadcast against the target), the temperature annealed every few steps with
``math.exp``, Adam with ExponentialLR, then ``get_codebook_indices`` (a ``no_grad`` + eval decorator pair) and
``decode`` of the tokens. Adapted: einops' ``rearrange`` written as the ``permute``/``reshape`` it stands for;
16x16 fake images, 16 tokens, hidden 8, 2 layers, one residual block; 8 steps.
"""
import math
from math import log2, sqrt

import numpy as np
import torch
import torch.nn.functional as F
from torch import einsum, nn


def exists(val):
    return val is not None


def default(val, d):
    return val if exists(val) else d


def eval_decorator(fn):
    def inner(model, *args, **kwargs):
        was_training = model.training
        model.eval()
        out = fn(model, *args, **kwargs)
        model.train(was_training)
        return out
    return inner


class ResBlock(nn.Module):
    def __init__(self, chan):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(chan, chan, 3, padding=1), nn.ReLU(), nn.Conv2d(chan, chan, 3, padding=1),
                                 nn.ReLU(), nn.Conv2d(chan, chan, 1))

    def forward(self, x):
        return self.net(x) + x


class DiscreteVAE(nn.Module):
    def __init__(self, image_size=256, num_tokens=512, codebook_dim=512, num_layers=3, num_resnet_blocks=0,
                 hidden_dim=64, channels=3, smooth_l1_loss=False, temperature=0.9, straight_through=False,
                 kl_div_loss_weight=0.):
        super().__init__()
        assert log2(image_size).is_integer(), 'image size must be a power of 2'
        assert num_layers >= 1, 'number of layers must be greater than or equal to 1'
        has_resblocks = num_resnet_blocks > 0
        self.image_size = image_size
        self.num_tokens = num_tokens
        self.num_layers = num_layers
        self.temperature = temperature
        self.straight_through = straight_through
        self.codebook = nn.Embedding(num_tokens, codebook_dim)
        enc_chans = [hidden_dim] * num_layers
        dec_chans = list(reversed(enc_chans))
        enc_chans = [channels, *enc_chans]
        dec_init_chan = codebook_dim if not has_resblocks else dec_chans[0]
        dec_chans = [dec_init_chan, *dec_chans]
        enc_chans_io, dec_chans_io = map(lambda t: list(zip(t[:-1], t[1:])), (enc_chans, dec_chans))
        enc_layers = []
        dec_layers = []
        for (enc_in, enc_out), (dec_in, dec_out) in zip(enc_chans_io, dec_chans_io):
            enc_layers.append(nn.Sequential(nn.Conv2d(enc_in, enc_out, 4, stride=2, padding=1), nn.ReLU()))
            dec_layers.append(nn.Sequential(nn.ConvTranspose2d(dec_in, dec_out, 4, stride=2, padding=1), nn.ReLU()))
        for _ in range(num_resnet_blocks):
            dec_layers.insert(0, ResBlock(dec_chans[1]))
            enc_layers.append(ResBlock(enc_chans[-1]))
        if num_resnet_blocks > 0:
            dec_layers.insert(0, nn.Conv2d(codebook_dim, dec_chans[1], 1))
        enc_layers.append(nn.Conv2d(enc_chans[-1], num_tokens, 1))
        dec_layers.append(nn.Conv2d(dec_chans[-1], channels, 1))
        self.encoder = nn.Sequential(*enc_layers)
        self.decoder = nn.Sequential(*dec_layers)
        self.loss_fn = F.smooth_l1_loss if smooth_l1_loss else F.mse_loss
        self.kl_div_loss_weight = kl_div_loss_weight

    @torch.no_grad()
    @eval_decorator
    def get_codebook_indices(self, images):
        logits = self.forward(images, return_logits=True)
        return logits.argmax(dim=1).flatten(1)

    def decode(self, img_seq):
        image_embeds = self.codebook(img_seq)
        b, n, d = image_embeds.shape
        h = w = int(sqrt(n))
        image_embeds = image_embeds.reshape(b, h, w, d).permute(0, 3, 1, 2)  # 'b (h w) d -> b d h w'
        return self.decoder(image_embeds)

    def forward(self, img, return_loss=False, return_recons=False, return_logits=False, temp=None):
        num_tokens, image_size, kl_div_loss_weight = self.num_tokens, self.image_size, self.kl_div_loss_weight
        assert img.shape[-1] == image_size and img.shape[-2] == image_size, \
            f'input must have the correct image size {image_size}'
        logits = self.encoder(img)
        if return_logits:
            return logits
        temp = default(temp, self.temperature)
        soft_one_hot = F.gumbel_softmax(logits, tau=temp, dim=1, hard=self.straight_through)
        sampled = einsum('b n h w, n d -> b d h w', soft_one_hot, self.codebook.weight)
        out = self.decoder(sampled)
        if not return_loss:
            return out
        recon_loss = self.loss_fn(img, out)
        logits = logits.flatten(2).transpose(1, 2)  # 'b n h w -> b (h w) n'
        log_qy = F.log_softmax(logits, dim=-1)
        log_uniform = torch.log(torch.tensor([1. / num_tokens]))
        kl_div = F.kl_div(log_uniform, log_qy, None, None, 'batchmean', log_target=True)
        loss = recon_loss + (kl_div * kl_div_loss_weight)
        if not return_recons:
            return loss
        return loss, out


def main(init):
    rng = np.random.default_rng(0)
    images = torch.tensor(rng.random((32, 3, 16, 16)), dtype=torch.float32)
    dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images), batch_size=4)
    vae = init(torch, DiscreteVAE(image_size=16, num_layers=2, num_tokens=16, codebook_dim=8, hidden_dim=8,
                                  num_resnet_blocks=1, temperature=1.0, straight_through=True,
                                  kl_div_loss_weight=0.1))
    torch.manual_seed(7)  # the Gumbel draws below come from this generator, in torch and in ember
    STARTING_TEMP, TEMP_MIN, ANNEAL_RATE, LR_DECAY_RATE = 1., 0.5, 1e-2, 0.98
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.ExponentialLR(optimizer=opt, gamma=LR_DECAY_RATE)
    global_step, temp, losses = 0, STARTING_TEMP, []
    for i, (images,) in enumerate(dl):
        loss, recons = vae(images, return_loss=True, return_recons=True, temp=temp)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i % 2 == 0:
            temp = max(temp * math.exp(-ANNEAL_RATE * global_step), TEMP_MIN)
            sched.step()
        losses.append(loss.item())
        global_step += 1
    codes = vae.get_codebook_indices(images[:2])
    with torch.no_grad():
        decoded = vae.decode(codes)
    return {"losses": losses, "metric": [codes.tolist(), decoded.mean().item(), vae.training, temp]}
