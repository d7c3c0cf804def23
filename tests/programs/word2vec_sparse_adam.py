"""Andras7/word2vec-pytorch: https://github.com/Andras7/word2vec-pytorch (word2vec/model.py, data_reader.py,
trainer.py; no license stated, so this is our own writing of the same model and loop), skip-gram with negative
sampling.

``nn.Embedding(..., sparse=True)`` tables initialised through ``init.uniform_``/``init.constant_`` on
``weight.data``, ``torch.mul``/``sum`` positive scores and ``bmm`` negative scores clamped to [-10, 10] under
``F.logsigmoid``, ``optim.SparseAdam`` rebuilt each iteration with ``CosineAnnealingLR`` stepped before the
optimizer (as the script does), a ``Dataset`` that reads a corpus file line by line and a ``collate_fn`` giving
``torch.LongTensor`` batches; the subsampling, window and negatives come from NumPy's global generator, seeded as
data_reader.py seeds it (here at the start of each run rather than at import). Adapted: a 120-sentence
synthetic corpus in a temporary file, a negative table of 1e4 instead of 1e8, a sub-sampling threshold of 0.01
instead of 1e-4 (the original would discard almost every word of 12), dimension 8, 2 iterations. The
embeddings' gradients are sparse COO tensors in both, and SparseAdam updates the rows the batch touched.
"""
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.nn import init
from torch.utils.data import DataLoader, Dataset

from _harness import text


class SkipGramModel(nn.Module):
    """u_embeddings embed the centre words, v_embeddings their neighbours."""

    def __init__(self, emb_size, emb_dimension):
        super(SkipGramModel, self).__init__()
        self.emb_size = emb_size
        self.emb_dimension = emb_dimension
        self.u_embeddings = nn.Embedding(emb_size, emb_dimension, sparse=True)
        self.v_embeddings = nn.Embedding(emb_size, emb_dimension, sparse=True)
        initrange = 1.0 / self.emb_dimension
        init.uniform_(self.u_embeddings.weight.data, -initrange, initrange)
        init.constant_(self.v_embeddings.weight.data, 0)

    def forward(self, pos_u, pos_v, neg_v):
        emb_u = self.u_embeddings(pos_u)
        emb_v = self.v_embeddings(pos_v)
        emb_neg_v = self.v_embeddings(neg_v)
        score = torch.sum(torch.mul(emb_u, emb_v), dim=1)
        score = torch.clamp(score, max=10, min=-10)
        score = -F.logsigmoid(score)
        neg_score = torch.bmm(emb_neg_v, emb_u.unsqueeze(2)).squeeze()
        neg_score = torch.clamp(neg_score, max=10, min=-10)
        neg_score = -torch.sum(F.logsigmoid(-neg_score), dim=1)
        return torch.mean(score + neg_score)


class DataReader:
    NEGATIVE_TABLE_SIZE = 1e4

    def __init__(self, inputFileName, min_count):
        self.negatives = []
        self.discards = []
        self.negpos = 0
        self.word2id, self.id2word, self.word_frequency = dict(), dict(), dict()
        self.sentences_count = 0
        self.token_count = 0
        self.inputFileName = inputFileName
        self.read_words(min_count)
        self.initTableNegatives()
        self.initTableDiscards()

    def read_words(self, min_count):
        word_frequency = dict()
        for line in open(self.inputFileName, encoding="utf8"):
            line = line.split()
            if len(line) > 1:
                self.sentences_count += 1
                for word in line:
                    if len(word) > 0:
                        self.token_count += 1
                        word_frequency[word] = word_frequency.get(word, 0) + 1
        wid = 0
        for w, c in word_frequency.items():
            if c < min_count:
                continue
            self.word2id[w] = wid
            self.id2word[wid] = w
            self.word_frequency[wid] = c
            wid += 1

    def initTableDiscards(self):
        t = 0.01  # 0.0001 in the original, for real corpora: it would discard nearly all of a 12-word one
        f = np.array(list(self.word_frequency.values())) / self.token_count
        self.discards = np.sqrt(t / f) + (t / f)

    def initTableNegatives(self):
        pow_frequency = np.array(list(self.word_frequency.values())) ** 0.5
        ratio = pow_frequency / sum(pow_frequency)
        count = np.round(ratio * DataReader.NEGATIVE_TABLE_SIZE)
        for wid, c in enumerate(count):
            self.negatives += [wid] * int(c)
        self.negatives = np.array(self.negatives)
        np.random.shuffle(self.negatives)

    def getNegatives(self, target, size):
        response = self.negatives[self.negpos:self.negpos + size]
        self.negpos = (self.negpos + size) % len(self.negatives)
        if len(response) != size:
            return np.concatenate((response, self.negatives[0:self.negpos]))
        return response


class Word2vecDataset(Dataset):
    def __init__(self, data, window_size):
        self.data = data
        self.window_size = window_size
        self.input_file = open(data.inputFileName, encoding="utf8")

    def __len__(self):
        return self.data.sentences_count

    def __getitem__(self, idx):
        while True:
            line = self.input_file.readline()
            if not line:
                self.input_file.seek(0, 0)
                line = self.input_file.readline()
            if len(line) > 1:
                words = line.split()
                if len(words) > 1:
                    word_ids = [self.data.word2id[w] for w in words if w in self.data.word2id
                                and np.random.rand() < self.data.discards[self.data.word2id[w]]]
                    boundary = np.random.randint(1, self.window_size)
                    return [(u, v, self.data.getNegatives(v, 5)) for i, u in enumerate(word_ids)
                            for j, v in enumerate(word_ids[max(i - boundary, 0):i + boundary]) if u != v]

    @staticmethod
    def collate(batches):
        all_u = [u for batch in batches for u, _, _ in batch if len(batch) > 0]
        all_v = [v for batch in batches for _, v, _ in batch if len(batch) > 0]
        all_neg_v = [neg_v for batch in batches for _, _, neg_v in batch if len(batch) > 0]
        return torch.LongTensor(all_u), torch.LongTensor(all_v), torch.LongTensor(np.array(all_neg_v))


class Word2VecTrainer:
    def __init__(self, input_file, emb_dimension=100, batch_size=32, window_size=5, iterations=3, initial_lr=0.001,
                 min_count=12, init_model=None):
        self.data = DataReader(input_file, min_count)
        self.dataset = Word2vecDataset(self.data, window_size)
        self.dataloader = DataLoader(self.dataset, batch_size=batch_size, shuffle=False, num_workers=0,
                                     collate_fn=self.dataset.collate)
        self.emb_size = len(self.data.word2id)
        self.emb_dimension = emb_dimension
        self.iterations = iterations
        self.initial_lr = initial_lr
        self.skip_gram_model = init_model(SkipGramModel(self.emb_size, self.emb_dimension))
        self.device = torch.device("cpu")

    def train(self, losses):
        for iteration in range(self.iterations):
            optimizer = optim.SparseAdam(self.skip_gram_model.parameters(), lr=self.initial_lr)
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, len(self.dataloader))
            running_loss = 0.0
            for i, sample_batched in enumerate(self.dataloader):
                if len(sample_batched[0]) > 1:
                    pos_u = sample_batched[0].to(self.device)
                    pos_v = sample_batched[1].to(self.device)
                    neg_v = sample_batched[2].to(self.device)
                    scheduler.step()
                    optimizer.zero_grad()
                    loss = self.skip_gram_model.forward(pos_u, pos_v, neg_v)
                    loss.backward()
                    optimizer.step()
                    running_loss = running_loss * 0.9 + loss.item() * 0.1
                    losses.append(loss.item())
        self.dataset.input_file.close()
        return running_loss


def main(init_weights):
    np.random.seed(12345)  # data_reader.py seeds at import; here each run starts from the same state
    words = ["w%d" % k for k in range(12)]
    stream = text(120 * 8, len(words), seed=3).reshape(120, 8)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "input.txt")
        with open(path, "w", encoding="utf8") as f:
            f.writelines(" ".join(words[k] for k in row) + "\n" for row in stream)
        w2v = Word2VecTrainer(path, emb_dimension=8, batch_size=12, window_size=3, iterations=2, initial_lr=0.01,
                              min_count=1, init_model=lambda m: init_weights(torch, m))
        losses = []
        running = w2v.train(losses)
    embedding = w2v.skip_gram_model.u_embeddings.weight.cpu().data.numpy()
    return {"losses": losses, "metric": [running, embedding[:4].tolist()]}
