"""PyTorch tutorials, Text classification with the torchtext library (AG_NEWS):
https://github.com/pytorch/tutorials/blob/main/beginner_source/text_sentiment_ngrams_tutorial.py (BSD-3-Clause).

``nn.EmbeddingBag`` (mean mode) over a flat token tensor cut by ``offsets`` (``cumsum`` of the lengths) in a
``collate_batch``, weights initialised by ``uniform_``, SGD at lr 5 with ``clip_grad_norm_(0.1)``, ``StepLR``
stepped only when validation accuracy drops, evaluation under ``no_grad``, and ``predict`` on one text with
offsets ``[0]``. Adapted: torchtext's AG_NEWS, tokenizer and ``build_vocab_from_iterator`` are replaced by
synthetic "news" of 4 classes (each class draws most of its words from its own part of a 60-word vocabulary)
and a dict vocabulary with ``<unk>``; ``random_split`` is a fixed split; batch 8, 3 epochs of 40 texts.
"""
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

WORDS = [f"w{i}" for i in range(60)]


def synthetic_news(n, seed):
    """(label, text) pairs like AG_NEWS's iterators give, labels 1..4."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        label = int(rng.integers(1, 5))
        length = int(rng.integers(3, 12))
        own = rng.integers(15 * (label - 1), 15 * label, length)
        other = rng.integers(0, 60, length)
        words = np.where(rng.random(length) < 0.7, own, other)
        out.append((label, " ".join(WORDS[w] for w in words) + " zzz"))
    return out


def tokenizer(text):
    return text.split()


class Vocab:
    """build_vocab_from_iterator(..., specials=["<unk>"]) with set_default_index(vocab["<unk>"])."""

    def __init__(self, iterator):
        self.itos = ["<unk>"]
        for tokens in iterator:
            for t in tokens:
                if t not in self.itos:
                    self.itos.append(t)
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    def __call__(self, tokens):
        return [self.stoi.get(t, 0) for t in tokens]

    def __len__(self):
        return len(self.itos)


train_iter = synthetic_news(40, 0)
vocab = Vocab(tokenizer(text) for _, text in train_iter)
text_pipeline = lambda x: vocab(tokenizer(x))  # noqa: E731
label_pipeline = lambda x: int(x) - 1  # noqa: E731
device = "cpu"


def collate_batch(batch):
    label_list, text_list, offsets = [], [], [0]
    for _label, _text in batch:
        label_list.append(label_pipeline(_label))
        processed_text = torch.tensor(text_pipeline(_text), dtype=torch.int64)
        text_list.append(processed_text)
        offsets.append(processed_text.size(0))
    label_list = torch.tensor(label_list, dtype=torch.int64)
    offsets = torch.tensor(offsets[:-1]).cumsum(dim=0)
    text_list = torch.cat(text_list)
    return label_list.to(device), text_list.to(device), offsets.to(device)


class TextClassificationModel(nn.Module):
    def __init__(self, vocab_size, embed_dim, num_class):
        super(TextClassificationModel, self).__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, sparse=False)
        self.fc = nn.Linear(embed_dim, num_class)
        self.init_weights()

    def init_weights(self):
        initrange = 0.5
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.fc.weight.data.uniform_(-initrange, initrange)
        self.fc.bias.data.zero_()

    def forward(self, text, offsets):
        embedded = self.embedding(text, offsets)
        return self.fc(embedded)


def main(init):
    num_class = len(set([label for (label, text) in train_iter]))
    vocab_size = len(vocab)
    emsize = 16
    model = init(torch, TextClassificationModel(vocab_size, emsize, num_class).to(device))
    losses = []

    def train(dataloader):
        model.train()
        total_acc, total_count = 0, 0
        for idx, (label, text, offsets) in enumerate(dataloader):
            optimizer.zero_grad()
            predicted_label = model(text, offsets)
            loss = criterion(predicted_label, label)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            optimizer.step()
            total_acc += (predicted_label.argmax(1) == label).sum().item()
            total_count += label.size(0)
            losses.append(loss.item())

    def evaluate(dataloader):
        model.eval()
        total_acc, total_count = 0, 0
        with torch.no_grad():
            for idx, (label, text, offsets) in enumerate(dataloader):
                predicted_label = model(text, offsets)
                loss = criterion(predicted_label, label)  # noqa: F841
                total_acc += (predicted_label.argmax(1) == label).sum().item()
                total_count += label.size(0)
        return total_acc / total_count

    EPOCHS = 3
    LR = 5
    BATCH_SIZE = 8
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.1)
    total_accu = None
    train_dataset = train_iter[:32]
    valid_dataset = train_iter[32:]
    test_dataset = synthetic_news(16, 1)
    train_dataloader = DataLoader(train_dataset, batch_size=BATCH_SIZE, shuffle=False, collate_fn=collate_batch)
    valid_dataloader = DataLoader(valid_dataset, batch_size=BATCH_SIZE, shuffle=False, collate_fn=collate_batch)
    test_dataloader = DataLoader(test_dataset, batch_size=BATCH_SIZE, shuffle=False, collate_fn=collate_batch)
    accs, lrs = [], []
    for epoch in range(1, EPOCHS + 1):
        train(train_dataloader)
        accu_val = evaluate(valid_dataloader)
        if total_accu is not None and total_accu > accu_val:
            scheduler.step()
        else:
            total_accu = accu_val
        accs.append(accu_val)
        lrs.append(scheduler.get_last_lr()[0])
    accs.append(evaluate(test_dataloader))

    def predict(text, text_pipeline):
        with torch.no_grad():
            text = torch.tensor(text_pipeline(text))
            output = model(text, torch.tensor([0]))
            return output.argmax(1).item() + 1

    model = model.to("cpu")
    label = predict("w20 w21 w3 w25 unseen w26", text_pipeline)
    return {"losses": losses, "metric": [accs, lrs, label, model.embedding.weight.detach().numpy()]}
