"""pytorch/examples language_translation: https://github.com/pytorch/examples/tree/main/language_translation
(main.py, src/model.py, src/data.py; BSD-3-Clause).

Adapted: a made-up parallel corpus (the target sentence is the source reversed, each token shifted by one
vocabulary slot) of 24 pairs with lengths 3 to 6 instead of Multi30k and spaCy tokenizers; padded batches
made by the program's own collate (``pad_sequence`` between <bos> and <eos>); d_model 16, 2 heads, one encoder
and one decoder layer, dropout 0; one training epoch, validation, and a greedy decode of two sentences.
"""
import math

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

from _harness import Args

UNK_IDX, PAD_IDX, BOS_IDX, EOS_IDX = 0, 1, 2, 3
special_symbols = {"<unk>": UNK_IDX, "<pad>": PAD_IDX, "<bos>": BOS_IDX, "<eos>": EOS_IDX}
DEVICE = torch.device("cpu")
VOCAB = 14
losses = []


class PositionalEncoding(nn.Module):
    def __init__(self, emb_size, dropout, maxlen=5000):
        super(PositionalEncoding, self).__init__()
        den = torch.exp(- torch.arange(0, emb_size, 2) * math.log(10000) / emb_size)
        pos = torch.arange(0, maxlen).reshape(maxlen, 1)
        pos_embedding = torch.zeros((maxlen, emb_size))
        pos_embedding[:, 0::2] = torch.sin(pos * den)
        pos_embedding[:, 1::2] = torch.cos(pos * den)
        pos_embedding = pos_embedding.unsqueeze(-2)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer('pos_embedding', pos_embedding)

    def forward(self, token_embedding):
        return self.dropout(token_embedding + self.pos_embedding[:token_embedding.size(0), :])


class Translator(nn.Module):
    def __init__(self, num_encoder_layers, num_decoder_layers, embed_size, num_heads, src_vocab_size,
                 tgt_vocab_size, dim_feedforward, dropout):
        super(Translator, self).__init__()
        self.src_embedding = nn.Embedding(src_vocab_size, embed_size)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, embed_size)
        self.pos_enc = PositionalEncoding(embed_size, dropout, maxlen=64)
        self.transformer = nn.Transformer(d_model=embed_size, nhead=num_heads, num_encoder_layers=num_encoder_layers,
                                          num_decoder_layers=num_decoder_layers, dim_feedforward=dim_feedforward,
                                          dropout=dropout)
        self.ff = nn.Linear(embed_size, tgt_vocab_size)
        self._init_weights()

    def _init_weights(self):
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, src, trg, src_mask, tgt_mask, src_padding_mask, tgt_padding_mask, memory_key_padding_mask):
        src_emb = self.pos_enc(self.src_embedding(src))
        tgt_emb = self.pos_enc(self.tgt_embedding(trg))
        outs = self.transformer(src_emb, tgt_emb, src_mask, tgt_mask, None, src_padding_mask, tgt_padding_mask,
                                memory_key_padding_mask)
        return self.ff(outs)

    def encode(self, src, src_mask):
        return self.transformer.encoder(self.pos_enc(self.src_embedding(src)), src_mask)

    def decode(self, tgt, memory, tgt_mask):
        return self.transformer.decoder(self.pos_enc(self.tgt_embedding(tgt)), memory, tgt_mask)


def generate_square_subsequent_mask(size, device):
    mask = (torch.triu(torch.ones((size, size), device=device)) == 1).transpose(0, 1)
    mask = mask.float().masked_fill(mask == 0, float('-inf')).masked_fill(mask == 1, float(0.0))
    return mask


def create_mask(src, tgt, pad_idx, device):
    src_seq_len = src.shape[0]
    tgt_seq_len = tgt.shape[0]
    tgt_mask = generate_square_subsequent_mask(tgt_seq_len, device)
    src_mask = torch.zeros((src_seq_len, src_seq_len), device=device).type(torch.bool)
    src_padding_mask = (src == pad_idx).transpose(0, 1)
    tgt_padding_mask = (tgt == pad_idx).transpose(0, 1)
    return src_mask, tgt_mask, src_padding_mask, tgt_padding_mask


def tensor_transform(token_ids):
    return torch.cat((torch.tensor([BOS_IDX]), torch.tensor(token_ids), torch.tensor([EOS_IDX])))


def collate_fn(batch):
    src_batch, tgt_batch = [], []
    for src_sample, tgt_sample in batch:
        src_batch.append(tensor_transform(src_sample))
        tgt_batch.append(tensor_transform(tgt_sample))
    return pad_sequence(src_batch, padding_value=PAD_IDX), pad_sequence(tgt_batch, padding_value=PAD_IDX)


def corpus(n, seed):
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n):
        src = [int(t) for t in rng.integers(4, VOCAB, int(rng.integers(3, 7)))]
        pairs.append((src, [4 + (t - 4 + 1) % (VOCAB - 4) for t in reversed(src)]))
    return pairs


def greedy_decode(model, src, src_mask, max_len, start_symbol, end_symbol):
    memory = model.encode(src, src_mask)
    ys = torch.ones(1, 1).fill_(start_symbol).type(torch.long).to(DEVICE)
    for _ in range(max_len - 1):
        tgt_mask = (generate_square_subsequent_mask(ys.size(0), DEVICE).type(torch.bool)).to(DEVICE)
        out = model.decode(ys, memory, tgt_mask)
        out = out.transpose(0, 1)
        prob = model.ff(out[:, -1])
        _, next_word = torch.max(prob, dim=1)
        next_word = next_word.item()
        ys = torch.cat([ys, torch.ones(1, 1).type_as(src.data).fill_(next_word)], dim=0)
        if next_word == end_symbol:
            break
    return ys


def train(model, train_dl, loss_fn, optim):
    total = 0
    model.train()
    for src, tgt in train_dl:
        src, tgt = src.to(DEVICE), tgt.to(DEVICE)
        tgt_input = tgt[:-1, :]
        src_mask, tgt_mask, src_padding_mask, tgt_padding_mask = create_mask(src, tgt_input, PAD_IDX, DEVICE)
        logits = model(src, tgt_input, src_mask, tgt_mask, src_padding_mask, tgt_padding_mask, src_padding_mask)
        optim.zero_grad()
        tgt_out = tgt[1:, :]
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1))
        loss.backward()
        optim.step()
        total += loss.item()
        losses.append(loss.item())
    return total / len(list(train_dl))


def validate(model, valid_dl, loss_fn):
    total = 0
    model.eval()
    for src, tgt in valid_dl:
        tgt_input = tgt[:-1, :]
        src_mask, tgt_mask, src_padding_mask, tgt_padding_mask = create_mask(src, tgt_input, PAD_IDX, DEVICE)
        logits = model(src, tgt_input, src_mask, tgt_mask, src_padding_mask, tgt_padding_mask, src_padding_mask)
        tgt_out = tgt[1:, :]
        total += loss_fn(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1)).item()
    return total / len(list(valid_dl))


def main(init):
    losses.clear()
    opts = Args(enc_layers=1, dec_layers=1, embed_size=16, attn_heads=2, dim_feedforward=32, dropout=0.0,
                batch=6, lr=1e-3, epochs=1)
    torch.manual_seed(0)
    train_dl = DataLoader(corpus(24, 0), batch_size=opts.batch, collate_fn=collate_fn)
    valid_dl = DataLoader(corpus(8, 1), batch_size=opts.batch, collate_fn=collate_fn)
    model = init(torch, Translator(opts.enc_layers, opts.dec_layers, opts.embed_size, opts.attn_heads, VOCAB, VOCAB,
                                   opts.dim_feedforward, opts.dropout).to(DEVICE))
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=PAD_IDX)
    optim = torch.optim.Adam(model.parameters(), lr=opts.lr, betas=(0.9, 0.98), eps=1e-9)
    for _ in range(opts.epochs):
        train_loss = train(model, train_dl, loss_fn, optim)
        val_loss = validate(model, valid_dl, loss_fn)
    model.eval()
    decoded = []
    with torch.no_grad():
        for sentence, _ in corpus(2, 2):
            src = tensor_transform(sentence).view(-1, 1)
            num_tokens = src.shape[0]
            src_mask = (torch.zeros(num_tokens, num_tokens)).type(torch.bool)
            tgt_tokens = greedy_decode(model, src, src_mask, max_len=num_tokens + 5, start_symbol=BOS_IDX,
                                       end_symbol=EOS_IDX).flatten()
            decoded.append([int(t) for t in tgt_tokens])
    return {"losses": list(losses), "metric": [train_loss, val_loss, decoded]}
