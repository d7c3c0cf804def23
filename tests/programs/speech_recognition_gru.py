"""AssemblyAI's "Building an end-to-end Speech Recognition model in PyTorch" (Michael Nguyen, 2020):
https://www.assemblyai.com/blog/end-to-end-speech-recognition-pytorch (the Colab it links; a DeepSpeech2-like
model), trained with CTC on LibriSpeech there, on synthetic spectrograms here.

Residual CNN blocks with a ``CNNLayerNorm`` that transposes to put features last, GELU, in-place residual ``+=``,
bidirectional GRUs (the first ``batch_first=True``, the later ones ``batch_first=False``: the blog's
``batch_first=i==0``, kept as published), float labels made by ``torch.Tensor(list)`` and padded with
``pad_sequence``, spectrograms padded, ``unsqueeze``d and ``transpose``d, ``F.log_softmax`` then
``nn.CTCLoss(blank=28)`` with Python-list lengths, AdamW with a linear ``OneCycleLR`` stepped per batch, and the
greedy decoder with ``torch.argmax`` and collapsed repeats under ``no_grad`` testing. Adapted: torchaudio's
MelSpectrogram/SpecAugment replaced by NumPy spectrograms of 16 bins; 32 CNN channels as published but
rnn_dim 16, one residual block, two GRU layers; dropout 0; 2 epochs of 2 batches.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class TextTransform:
    """Maps characters to integers and vice versa."""

    def __init__(self):
        chars = ["'", "<SPACE>"] + [chr(c) for c in range(ord('a'), ord('z') + 1)]
        self.char_map = {ch: i for i, ch in enumerate(chars)}
        self.index_map = {i: ch for ch, i in self.char_map.items()}
        self.index_map[1] = ' '

    def text_to_int(self, text):
        return [self.char_map['<SPACE>'] if c == ' ' else self.char_map[c] for c in text]

    def int_to_text(self, labels):
        return ''.join(self.index_map[i] for i in labels).replace('<SPACE>', ' ')


text_transform = TextTransform()


def data_processing(data):
    spectrograms, labels, input_lengths, label_lengths = [], [], [], []
    for spec, utterance in data:
        spec = torch.tensor(spec).squeeze(0).transpose(0, 1)  # (time, n_mels)
        spectrograms.append(spec)
        label = torch.Tensor(text_transform.text_to_int(utterance.lower()))
        labels.append(label)
        input_lengths.append(spec.shape[0] // 2)
        label_lengths.append(len(label))
    spectrograms = nn.utils.rnn.pad_sequence(spectrograms, batch_first=True).unsqueeze(1).transpose(2, 3)
    labels = nn.utils.rnn.pad_sequence(labels, batch_first=True)
    return spectrograms, labels, input_lengths, label_lengths


def GreedyDecoder(output, labels, label_lengths, blank_label=28, collapse_repeated=True):
    arg_maxes = torch.argmax(output, dim=2)
    decodes, targets = [], []
    for i, args in enumerate(arg_maxes):
        decode = []
        targets.append(text_transform.int_to_text(labels[i][:label_lengths[i]].int().tolist()))
        for j, index in enumerate(args):
            if index != blank_label:
                if collapse_repeated and j != 0 and index == args[j - 1]:
                    continue
                decode.append(index.item())
        decodes.append(text_transform.int_to_text(decode))
    return decodes, targets


class CNNLayerNorm(nn.Module):
    """Layer normalization built for CNNs input"""

    def __init__(self, n_feats):
        super(CNNLayerNorm, self).__init__()
        self.layer_norm = nn.LayerNorm(n_feats)

    def forward(self, x):
        x = x.transpose(2, 3).contiguous()  # (batch, channel, time, feature)
        x = self.layer_norm(x)
        return x.transpose(2, 3).contiguous()  # (batch, channel, feature, time)


class ResidualCNN(nn.Module):
    """Residual CNN (He et al. 2016) with layer norm instead of batch norm."""

    def __init__(self, in_channels, out_channels, kernel, stride, dropout, n_feats):
        super(ResidualCNN, self).__init__()
        self.cnn1 = nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2)
        self.cnn2 = nn.Conv2d(out_channels, out_channels, kernel, stride, padding=kernel // 2)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.layer_norm1 = CNNLayerNorm(n_feats)
        self.layer_norm2 = CNNLayerNorm(n_feats)

    def forward(self, x):
        residual = x  # (batch, channel, feature, time)
        x = self.layer_norm1(x)
        x = F.gelu(x)
        x = self.dropout1(x)
        x = self.cnn1(x)
        x = self.layer_norm2(x)
        x = F.gelu(x)
        x = self.dropout2(x)
        x = self.cnn2(x)
        x += residual
        return x


class BidirectionalGRU(nn.Module):
    def __init__(self, rnn_dim, hidden_size, dropout, batch_first):
        super(BidirectionalGRU, self).__init__()
        self.BiGRU = nn.GRU(input_size=rnn_dim, hidden_size=hidden_size, num_layers=1, batch_first=batch_first,
                            bidirectional=True)
        self.layer_norm = nn.LayerNorm(rnn_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = self.layer_norm(x)
        x = F.gelu(x)
        x, _ = self.BiGRU(x)
        return self.dropout(x)


class SpeechRecognitionModel(nn.Module):
    def __init__(self, n_cnn_layers, n_rnn_layers, rnn_dim, n_class, n_feats, stride=2, dropout=0.1):
        super(SpeechRecognitionModel, self).__init__()
        n_feats = n_feats // 2
        self.cnn = nn.Conv2d(1, 32, 3, stride=stride, padding=3 // 2)
        self.rescnn_layers = nn.Sequential(*[ResidualCNN(32, 32, kernel=3, stride=1, dropout=dropout,
                                                         n_feats=n_feats) for _ in range(n_cnn_layers)])
        self.fully_connected = nn.Linear(n_feats * 32, rnn_dim)
        self.birnn_layers = nn.Sequential(*[BidirectionalGRU(rnn_dim=rnn_dim if i == 0 else rnn_dim * 2,
                                                             hidden_size=rnn_dim, dropout=dropout,
                                                             batch_first=i == 0) for i in range(n_rnn_layers)])
        self.classifier = nn.Sequential(nn.Linear(rnn_dim * 2, rnn_dim), nn.GELU(), nn.Dropout(dropout),
                                        nn.Linear(rnn_dim, n_class))

    def forward(self, x):
        x = self.cnn(x)
        x = self.rescnn_layers(x)
        sizes = x.size()
        x = x.view(sizes[0], sizes[1] * sizes[2], sizes[3])  # (batch, feature, time)
        x = x.transpose(1, 2)  # (batch, time, feature)
        x = self.fully_connected(x)
        x = self.birnn_layers(x)
        return self.classifier(x)


def train(model, train_loader, criterion, optimizer, scheduler, losses):
    model.train()
    for batch_idx, _data in enumerate(train_loader):
        spectrograms, labels, input_lengths, label_lengths = _data
        optimizer.zero_grad()
        output = model(spectrograms)  # (batch, time, n_class)
        output = F.log_softmax(output, dim=2)
        output = output.transpose(0, 1)  # (time, batch, n_class)
        loss = criterion(output, labels, input_lengths, label_lengths)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())


def test(model, test_loader, criterion):
    model.eval()
    test_loss, decoded = 0, []
    with torch.no_grad():
        for i, _data in enumerate(test_loader):
            spectrograms, labels, input_lengths, label_lengths = _data
            output = model(spectrograms)
            output = F.log_softmax(output, dim=2)
            output = output.transpose(0, 1)
            loss = criterion(output, labels, input_lengths, label_lengths)
            test_loss += loss.item() / len(test_loader)
            decoded_preds, decoded_targets = GreedyDecoder(output.transpose(0, 1), labels, label_lengths)
            decoded.extend(decoded_preds)
    return test_loss, decoded


def main(init):
    rng = np.random.default_rng(0)
    data = []
    for _ in range(8):
        utterance = ''.join(rng.choice(list("abcde "), int(rng.integers(2, 5))))
        frames = int(rng.integers(14, 22))
        spec = rng.normal(0, 0.5, (1, 16, frames)).astype(np.float32)
        for k, c in enumerate(utterance):
            spec[0, 2 * (ord(c) % 8):2 * (ord(c) % 8) + 2, k * frames // len(utterance):] += 1.0
        data.append((spec, utterance))
    hparams = {"n_cnn_layers": 1, "n_rnn_layers": 2, "rnn_dim": 16, "n_class": 29, "n_feats": 16, "stride": 2,
               "dropout": 0.0, "learning_rate": 5e-3, "batch_size": 4, "epochs": 2}
    train_loader = torch.utils.data.DataLoader(data, batch_size=hparams['batch_size'], shuffle=False,
                                               collate_fn=data_processing)
    test_loader = torch.utils.data.DataLoader(data[:4], batch_size=hparams['batch_size'], shuffle=False,
                                              collate_fn=data_processing)
    model = init(torch, SpeechRecognitionModel(hparams['n_cnn_layers'], hparams['n_rnn_layers'], hparams['rnn_dim'],
                                               hparams['n_class'], hparams['n_feats'], hparams['stride'],
                                               hparams['dropout']))
    optimizer = torch.optim.AdamW(model.parameters(), hparams['learning_rate'])
    criterion = nn.CTCLoss(blank=28)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=hparams['learning_rate'],
                                                    steps_per_epoch=int(len(train_loader)),
                                                    epochs=hparams['epochs'], anneal_strategy='linear')
    losses = []
    for epoch in range(1, hparams['epochs'] + 1):
        train(model, train_loader, criterion, optimizer, scheduler, losses)
    test_loss, decoded = test(model, test_loader, criterion)
    return {"losses": losses, "metric": [test_loss, decoded]}
