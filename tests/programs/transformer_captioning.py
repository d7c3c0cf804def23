"""Image captioning with ``nn.TransformerDecoder``, after kienvbhp872004/Image_Captioning
(models/decoder_transformer.py; no licence file, read only): https://github.com/kienvbhp872004/Image_Captioning

A word ``nn.Embedding`` plus a learned position ``nn.Embedding`` over ``torch.arange(seq_len)``, a stack of
batch-first ``nn.TransformerDecoderLayer``s under ``nn.TransformerDecoder`` with the causal mask from
``nn.Transformer.generate_square_subsequent_mask``, a linear head. Adapted: the memory is a small CNN's 4x4
feature grid (16 tokens) instead of one ResNet vector; padded captions of lengths 3 to 6 pass
``tgt_key_padding_mask`` and the loss ignores the pad index; a few memory tokens are hidden with
``memory_key_padding_mask``; the stack ends in a ``LayerNorm``; d_model 16, 2 heads, 2 layers, feed-forward 32,
dropout 0; 5 Adam steps; greedy decoding of two images.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, BOS, EOS = 0, 1, 2


class EncoderCNN(nn.Module):
    def __init__(self, embed_size):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(8, embed_size, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))

    def forward(self, images):
        features = self.conv(images)
        return features.flatten(2).permute(0, 2, 1)


class TransformerDecoder(nn.Module):
    def __init__(self, vocab_size, embed_size, num_heads, num_layers):
        super().__init__()
        self.word_embed = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
        self.pos_embed = nn.Embedding(20, embed_size)
        layer = nn.TransformerDecoderLayer(d_model=embed_size, nhead=num_heads, dim_feedforward=32, dropout=0.0,
                                           batch_first=True)
        self.transformer = nn.TransformerDecoder(layer, num_layers, norm=nn.LayerNorm(embed_size))
        self.fc_out = nn.Linear(embed_size, vocab_size)

    def forward(self, memory, captions, memory_key_padding_mask=None):
        seq_len = captions.size(1)
        positions = torch.arange(seq_len, device=captions.device).unsqueeze(0)
        tgt = self.word_embed(captions) + self.pos_embed(positions)
        mask = nn.Transformer.generate_square_subsequent_mask(seq_len).to(captions.device)
        out = self.transformer(tgt, memory, tgt_mask=mask, tgt_key_padding_mask=captions == PAD,
                               memory_key_padding_mask=memory_key_padding_mask)
        return self.fc_out(out)


class Captioner(nn.Module):
    def __init__(self, vocab_size, embed_size=16):
        super().__init__()
        self.encoder = EncoderCNN(embed_size)
        self.decoder = TransformerDecoder(vocab_size, embed_size, 2, 2)

    def forward(self, images, captions, memory_key_padding_mask=None):
        return self.decoder(self.encoder(images), captions, memory_key_padding_mask)

    @torch.no_grad()
    def generate(self, images, max_len=7):
        memory = self.encoder(images)
        out = torch.full((images.size(0), 1), BOS, dtype=torch.long)
        for _ in range(max_len):
            logits = self.decoder(memory, out)
            out = torch.cat([out, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
        return out


def make_batch(rng, n, vocab):
    images = rng.standard_normal((n, 3, 16, 16)).astype(np.float32)
    lengths = rng.integers(3, 7, n)
    captions = np.full((n, 8), PAD, dtype=np.int64)
    for i, length in enumerate(lengths):
        # the caption is a function of the image so that there is something to learn
        words = 3 + (np.abs(images[i, :, ::4, ::4]).reshape(-1)[:length] * 3).astype(np.int64) % (vocab - 3)
        captions[i, :length + 2] = [BOS, *words, EOS]
    mem_mask = np.zeros((n, 16), dtype=bool)
    mem_mask[:, 13:] = rng.random((n, 3)) < 0.5
    return torch.from_numpy(images), torch.from_numpy(captions), torch.from_numpy(mem_mask)


def main(init):
    rng = np.random.default_rng(0)
    vocab = 12
    model = init(torch, Captioner(vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    model.train()
    for step in range(5):
        images, captions, mem_mask = make_batch(rng, 6, vocab)
        logits = model(images, captions[:, :-1], mem_mask)
        loss = F.cross_entropy(logits.reshape(-1, vocab), captions[:, 1:].reshape(-1), ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    images, captions, _ = make_batch(rng, 2, vocab)
    return {"losses": losses, "metric": [model.generate(images).numpy(), model(images, captions).detach().numpy()]}
