"""SeanNaren/deepspeech.pytorch: https://github.com/SeanNaren/deepspeech.pytorch (deepspeech_pytorch/model.py,
decoder.py, loader/data_loader.py; MIT License), DeepSpeech2 trained with CTC and decoded greedily.

``MaskConv`` zeroing the padded frames after each conv layer (a legacy ``torch.BoolTensor(size).fill_(0)`` mask,
``narrow(...).fill_(1)``, ``masked_fill``), output lengths computed from the conv's padding/stride/dilation of
every ``type(m) == nn.modules.conv.Conv2d``, ``Hardtanh(0, 20)``, bidirectional LSTMs over
``pack_padded_sequence``/``pad_packed_sequence`` with int32 lengths and the two directions summed through a
``view``, ``SequenceWise`` BatchNorm1d, ``log_softmax`` and ``nn.CTCLoss(reduction='sum', zero_infinity=True)``
on flat concatenated targets with target sizes, ``clip_grad_norm_``, AdamW with ExponentialLR, softmax at
inference and the ``GreedyDecoder`` (argmax, collapsed repeats, blanks dropped). Adapted: the Lightning module
driven by a plain loop; 16-bin synthetic spectrograms of 12 to 20 frames sorted by length as the collate sorts
them; conv kernels (5, 3) and (3, 3) with 4 channels, hidden size 12, 2 layers; Levenshtein's distance written
out (an extra package); 3 epochs of 2 batches.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SequenceWise(nn.Module):
    def __init__(self, module):
        """Collapses input of dim T*N*H to (T*N)*H, and applies to a module."""
        super(SequenceWise, self).__init__()
        self.module = module

    def forward(self, x):
        t, n = x.size(0), x.size(1)
        x = x.view(t * n, -1)
        x = self.module(x)
        return x.view(t, n, -1)


class MaskConv(nn.Module):
    def __init__(self, seq_module):
        """Zeroes the padded frames after every module, so a batch's padding never changes the results."""
        super(MaskConv, self).__init__()
        self.seq_module = seq_module

    def forward(self, x, lengths):
        for module in self.seq_module:
            x = module(x)
            mask = torch.BoolTensor(x.size()).fill_(0)
            for i, length in enumerate(lengths):
                length = length.item()
                if (mask[i].size(2) - length) > 0:
                    mask[i].narrow(2, length, mask[i].size(2) - length).fill_(1)
            x = x.masked_fill(mask, 0)
        return x, lengths


class InferenceBatchSoftmax(nn.Module):
    def forward(self, input_):
        if not self.training:
            return F.softmax(input_, dim=-1)
        return input_


class BatchRNN(nn.Module):
    def __init__(self, input_size, hidden_size, rnn_type=nn.LSTM, bidirectional=False, batch_norm=True):
        super(BatchRNN, self).__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bidirectional = bidirectional
        self.batch_norm = SequenceWise(nn.BatchNorm1d(input_size)) if batch_norm else None
        self.rnn = rnn_type(input_size=input_size, hidden_size=hidden_size, bidirectional=bidirectional, bias=True)
        self.num_directions = 2 if bidirectional else 1

    def flatten_parameters(self):
        self.rnn.flatten_parameters()

    def forward(self, x, output_lengths):
        if self.batch_norm is not None:
            x = self.batch_norm(x)
        x = nn.utils.rnn.pack_padded_sequence(x, output_lengths)
        x, h = self.rnn(x)
        x, _ = nn.utils.rnn.pad_packed_sequence(x)
        if self.bidirectional:
            # (T, N, 2H) -> (T, N, H) by summing the directions
            x = x.view(x.size(0), x.size(1), 2, -1).sum(2).view(x.size(0), x.size(1), -1)
        return x


class DeepSpeech(nn.Module):
    def __init__(self, labels, hidden_size, hidden_layers, n_freq, channels=4):
        super(DeepSpeech, self).__init__()
        self.bidirectional = True
        self.labels = labels
        num_classes = len(self.labels)
        self.conv = MaskConv(nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=(5, 3), stride=(2, 2), padding=(2, 1)),
            nn.BatchNorm2d(channels),
            nn.Hardtanh(0, 20, inplace=True),
            nn.Conv2d(channels, channels, kernel_size=(3, 3), stride=(2, 1), padding=(1, 1)),
            nn.BatchNorm2d(channels),
            nn.Hardtanh(0, 20, inplace=True)))
        # the frequency axis after both convolutions, (W - F + 2P) / S + 1 each
        rnn_input_size = int(math.floor(n_freq + 2 * 2 - 5) / 2 + 1)
        rnn_input_size = int(math.floor(rnn_input_size + 2 * 1 - 3) / 2 + 1)
        rnn_input_size *= channels
        self.rnns = nn.Sequential(
            BatchRNN(input_size=rnn_input_size, hidden_size=hidden_size, rnn_type=nn.LSTM,
                     bidirectional=self.bidirectional, batch_norm=False),
            *(BatchRNN(input_size=hidden_size, hidden_size=hidden_size, rnn_type=nn.LSTM,
                       bidirectional=self.bidirectional) for x in range(hidden_layers - 1)))
        fully_connected = nn.Sequential(nn.BatchNorm1d(hidden_size), nn.Linear(hidden_size, num_classes, bias=False))
        self.fc = nn.Sequential(SequenceWise(fully_connected))
        self.inference_softmax = InferenceBatchSoftmax()
        self.criterion = nn.CTCLoss(blank=self.labels.index('_'), reduction='sum', zero_infinity=True)

    def forward(self, x, lengths):
        lengths = lengths.cpu().int()
        output_lengths = self.get_seq_lens(lengths)
        x, _ = self.conv(x, output_lengths)
        sizes = x.size()
        x = x.view(sizes[0], sizes[1] * sizes[2], sizes[3])  # collapse the feature dimension
        x = x.transpose(1, 2).transpose(0, 1).contiguous()  # TxNxH
        for rnn in self.rnns:
            x = rnn(x, output_lengths)
        x = self.fc(x)
        x = x.transpose(0, 1)
        x = self.inference_softmax(x)
        return x, output_lengths

    def training_step(self, batch):
        inputs, targets, input_percentages, target_sizes = batch
        input_sizes = input_percentages.mul_(int(inputs.size(3))).int()
        out, output_sizes = self(inputs, input_sizes)
        out = out.transpose(0, 1)  # TxNxH
        out = out.log_softmax(-1)
        return self.criterion(out, targets, output_sizes, target_sizes)

    def get_seq_lens(self, input_length):
        seq_len = input_length
        for m in self.conv.modules():
            if type(m) == nn.modules.conv.Conv2d:
                seq_len = ((seq_len + 2 * m.padding[1] - m.dilation[1] * (m.kernel_size[1] - 1) - 1)
                           // m.stride[1] + 1)
        return seq_len.int()


class GreedyDecoder(object):
    def __init__(self, labels, blank_index=0):
        self.labels = labels
        self.int_to_char = dict([(i, c) for (i, c) in enumerate(labels)])
        self.blank_index = blank_index
        self.space_index = labels.index(' ') if ' ' in labels else len(labels)

    def convert_to_strings(self, sequences, sizes=None, remove_repetitions=False, return_offsets=False):
        strings, offsets = [], [] if return_offsets else None
        for x in range(len(sequences)):
            seq_len = sizes[x] if sizes is not None else len(sequences[x])
            string, string_offsets = self.process_string(sequences[x], seq_len, remove_repetitions)
            strings.append([string])
            if return_offsets:
                offsets.append([string_offsets])
        return (strings, offsets) if return_offsets else strings

    def process_string(self, sequence, size, remove_repetitions=False):
        string, offsets = '', []
        for i in range(size):
            char = self.int_to_char[sequence[i].item()]
            if char != self.int_to_char[self.blank_index]:
                if remove_repetitions and i != 0 and char == self.int_to_char[sequence[i - 1].item()]:
                    pass
                elif char == self.labels[self.space_index]:
                    string += ' '
                    offsets.append(i)
                else:
                    string = string + char
                    offsets.append(i)
        return string, torch.tensor(offsets, dtype=torch.int)

    def decode(self, probs, sizes=None):
        _, max_probs = torch.max(probs, 2)
        return self.convert_to_strings(max_probs.view(max_probs.size(0), max_probs.size(1)), sizes,
                                       remove_repetitions=True, return_offsets=True)


def levenshtein(a, b):
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def make_batches(labels, n, batch_size, n_freq, rng):
    """Utterances whose spectrogram bands light up per character; the collate's padding and sorting."""
    utts = []
    for _ in range(n):
        text = ''.join(rng.choice(list(labels[1:]), rng.integers(2, 5)))
        frames = int(rng.integers(12, 21))
        spect = rng.normal(0, 0.3, (n_freq, frames))
        for k, c in enumerate(text):
            band = labels.index(c) * 2
            spect[band:band + 2, k * frames // len(text):(k + 1) * frames // len(text)] += 1.5
        utts.append((spect.astype(np.float32), text))
    batches = []
    for b in range(0, n, batch_size):
        group = sorted(utts[b:b + batch_size], key=lambda u: u[0].shape[1], reverse=True)
        max_t = group[0][0].shape[1]
        inputs = torch.zeros(len(group), 1, n_freq, max_t)
        input_percentages = torch.FloatTensor(len(group))
        target_sizes = torch.IntTensor(len(group))
        targets = []
        for i, (spect, text) in enumerate(group):
            inputs[i][0].narrow(1, 0, spect.shape[1]).copy_(torch.from_numpy(spect))
            input_percentages[i] = spect.shape[1] / float(max_t)
            target_sizes[i] = len(text)
            targets.extend(labels.index(c) for c in text)
        batches.append((inputs, torch.tensor(targets, dtype=torch.int), input_percentages, target_sizes,
                        [t for _, t in group]))
    return batches


def main(init):
    labels = "_abcdef "
    rng = np.random.default_rng(0)
    batches = make_batches(labels, 6, 3, 16, rng)
    model = init(torch, DeepSpeech(labels, hidden_size=12, hidden_layers=2, n_freq=16))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-5)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer=optimizer, gamma=0.99)
    decoder = GreedyDecoder(labels)
    losses = []
    for epoch in range(3):
        model.train()
        for inputs, targets, input_percentages, target_sizes, _ in batches:
            loss = model.training_step((inputs, targets, input_percentages.clone(), target_sizes))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters=model.parameters(), max_norm=400)
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
    model.eval()
    total_cer, num_chars, decoded = 0, 0, []
    with torch.no_grad():
        for inputs, targets, input_percentages, target_sizes, texts in batches:
            input_sizes = input_percentages.mul_(int(inputs.size(3))).int()
            out, output_sizes = model(inputs, input_sizes)
            strings, offsets = decoder.decode(out, output_sizes)
            for (s,), t in zip(strings, texts):
                decoded.append(s)
                total_cer += levenshtein(s, t)
                num_chars += len(t)
    return {"losses": losses, "metric": [decoded, total_cer / num_chars]}
