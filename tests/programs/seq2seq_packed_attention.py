"""Seq2seq with packed padded sequences, masked additive attention and teacher forcing, after
bentrevett/pytorch-seq2seq ("4 - Packed Padded Sequences, Masking, Inference and BLEU"; MIT):
https://github.com/bentrevett/pytorch-seq2seq

A bidirectional GRU encoder over ``nn.utils.rnn.pack_padded_sequence(..., enforce_sorted=False)`` unpacked by
``pad_packed_sequence``, its last forward and backward states joined through ``torch.tanh(fc(cat(hidden[-2, :,
:], hidden[-1, :, :])))``; Bahdanau attention ``v(tanh(attn(cat(hidden.repeat, encoder_outputs))))`` with
``masked_fill(mask == 0, -1e10)`` before the softmax; a GRU decoder fed ``torch.bmm(a, encoder_outputs)``; a
teacher-forcing coin per step; ``CrossEntropyLoss(ignore_index=PAD)`` over ``output[1:].view(-1, dim)``; the
``init_weights`` loop over ``named_parameters`` and clipping. Adapted: a made-up corpus (targets are sources
reversed and shifted) of lengths 3 to 7 instead of Multi30k; embeddings 8, hidden 16, dropout 0; the coin is a
NumPy draw (the repo's ``random.random()``); 5 Adam steps; a greedy translation with its attention returned.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, SOS, EOS = 0, 1, 2


class Encoder(nn.Module):
    def __init__(self, input_dim, emb_dim, enc_hid_dim, dec_hid_dim, dropout):
        super().__init__()
        self.embedding = nn.Embedding(input_dim, emb_dim)
        self.rnn = nn.GRU(emb_dim, enc_hid_dim, bidirectional=True)
        self.fc = nn.Linear(enc_hid_dim * 2, dec_hid_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, src, src_len):
        embedded = self.dropout(self.embedding(src))
        packed_embedded = nn.utils.rnn.pack_padded_sequence(embedded, src_len.to('cpu'), enforce_sorted=False)
        packed_outputs, hidden = self.rnn(packed_embedded)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(packed_outputs)
        hidden = torch.tanh(self.fc(torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1)))
        return outputs, hidden


class Attention(nn.Module):
    def __init__(self, enc_hid_dim, dec_hid_dim):
        super().__init__()
        self.attn = nn.Linear((enc_hid_dim * 2) + dec_hid_dim, dec_hid_dim)
        self.v = nn.Linear(dec_hid_dim, 1, bias=False)

    def forward(self, hidden, encoder_outputs, mask):
        src_len = encoder_outputs.shape[0]
        hidden = hidden.unsqueeze(1).repeat(1, src_len, 1)
        encoder_outputs = encoder_outputs.permute(1, 0, 2)
        energy = torch.tanh(self.attn(torch.cat((hidden, encoder_outputs), dim=2)))
        attention = self.v(energy).squeeze(2)
        attention = attention.masked_fill(mask == 0, -1e10)
        return F.softmax(attention, dim=1)


class Decoder(nn.Module):
    def __init__(self, output_dim, emb_dim, enc_hid_dim, dec_hid_dim, dropout, attention):
        super().__init__()
        self.output_dim = output_dim
        self.attention = attention
        self.embedding = nn.Embedding(output_dim, emb_dim)
        self.rnn = nn.GRU((enc_hid_dim * 2) + emb_dim, dec_hid_dim)
        self.fc_out = nn.Linear((enc_hid_dim * 2) + dec_hid_dim + emb_dim, output_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, input, hidden, encoder_outputs, mask):
        input = input.unsqueeze(0)
        embedded = self.dropout(self.embedding(input))
        a = self.attention(hidden, encoder_outputs, mask)
        a = a.unsqueeze(1)
        encoder_outputs = encoder_outputs.permute(1, 0, 2)
        weighted = torch.bmm(a, encoder_outputs)
        weighted = weighted.permute(1, 0, 2)
        rnn_input = torch.cat((embedded, weighted), dim=2)
        output, hidden = self.rnn(rnn_input, hidden.unsqueeze(0))
        assert (output == hidden).all()
        embedded, output, weighted = embedded.squeeze(0), output.squeeze(0), weighted.squeeze(0)
        prediction = self.fc_out(torch.cat((output, weighted, embedded), dim=1))
        return prediction, hidden.squeeze(0), a.squeeze(1)


class Seq2Seq(nn.Module):
    def __init__(self, encoder, decoder, src_pad_idx):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.src_pad_idx = src_pad_idx

    def create_mask(self, src):
        return (src != self.src_pad_idx).permute(1, 0)

    def forward(self, src, src_len, trg, coins):
        batch_size, trg_len = src.shape[1], trg.shape[0]
        outputs = torch.zeros(trg_len, batch_size, self.decoder.output_dim)
        encoder_outputs, hidden = self.encoder(src, src_len)
        input = trg[0, :]
        mask = self.create_mask(src)
        for t in range(1, trg_len):
            output, hidden, _ = self.decoder(input, hidden, encoder_outputs, mask)
            outputs[t] = output
            teacher_force = coins[t] < 0.5
            top1 = output.argmax(1)
            input = trg[t] if teacher_force else top1
        return outputs


def init_weights(m):
    for name, param in m.named_parameters():
        if 'weight' in name:
            nn.init.normal_(param.data, mean=0, std=0.01)
        else:
            nn.init.constant_(param.data, 0)


def make_batch(rng, n, vocab):
    lens = rng.integers(3, 8, n)
    src = np.full((9, n), PAD, dtype=np.int64)
    trg = np.full((9, n), PAD, dtype=np.int64)
    for i, length in enumerate(lens):
        words = rng.integers(3, vocab, length)
        src[:length + 2, i] = [SOS, *words, EOS]
        trg[:length + 2, i] = [SOS, *(3 + (words[::-1] - 2) % (vocab - 3)), EOS]
    return torch.from_numpy(src), torch.from_numpy(lens + 2), torch.from_numpy(trg)


def translate(model, src, src_len, max_len=9):
    model.eval()
    with torch.no_grad():
        encoder_outputs, hidden = model.encoder(src, src_len)
    mask = model.create_mask(src)
    trg_indexes = [SOS]
    attentions = torch.zeros(max_len, 1, src.shape[0])
    for i in range(max_len):
        trg_tensor = torch.LongTensor([trg_indexes[-1]])
        with torch.no_grad():
            output, hidden, attention = model.decoder(trg_tensor, hidden, encoder_outputs, mask)
        attentions[i] = attention
        pred_token = output.argmax(1).item()
        trg_indexes.append(pred_token)
        if pred_token == EOS:
            break
    return trg_indexes, attentions[:len(trg_indexes) - 1]


def main(init):
    rng = np.random.default_rng(0)
    vocab = 12
    attn = Attention(16, 16)
    enc = Encoder(vocab, 8, 16, 16, 0.0)
    dec = Decoder(vocab, 8, 16, 16, 0.0, attn)
    model = Seq2Seq(enc, dec, PAD)
    model.apply(init_weights)
    model = init(torch, model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.CrossEntropyLoss(ignore_index=PAD)
    losses = []
    model.train()
    for step in range(5):
        src, src_len, trg = make_batch(rng, 6, vocab)
        optimizer.zero_grad()
        output = model(src, src_len, trg, rng.random(trg.shape[0]))
        output_dim = output.shape[-1]
        loss = criterion(output[1:].view(-1, output_dim), trg[1:].view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1)
        optimizer.step()
        losses.append(loss.item())
    src, src_len, _ = make_batch(rng, 1, vocab)
    tokens, attentions = translate(model, src[:int(src_len[0])], src_len)
    return {"losses": losses, "metric": [tokens, attentions.numpy()]}
