"""PyTorch tutorials, Quickstart: https://github.com/pytorch/tutorials/blob/main/beginner_source/basics/quickstart_tutorial.py
(BSD-3-Clause).

Adapted: fake 28x28 images (32 to train, 16 to test) instead of FashionMNIST, batch 8, two epochs; the model
is saved to and loaded from a temporary folder.
"""
import os
import tempfile

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from _harness import images


class NeuralNetwork(nn.Module):
    def __init__(self):
        super(NeuralNetwork, self).__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
            nn.ReLU()
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


def main(init):
    training_data = TensorDataset(*images(torch, 32, (1, 28, 28), 10, seed=7))
    test_data = TensorDataset(*images(torch, 16, (1, 28, 28), 10, seed=8))
    batch_size = 8
    train_dataloader = DataLoader(training_data, batch_size=batch_size)
    test_dataloader = DataLoader(test_data, batch_size=batch_size)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = init(torch, NeuralNetwork().to(device))
    str(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-1)
    losses, results = [], []

    def train(dataloader, model, loss_fn, optimizer):
        size = len(dataloader.dataset)  # noqa: F841
        for batch, (X, y) in enumerate(dataloader):
            X, y = X.to(device), y.to(device)
            pred = model(X)
            loss = loss_fn(pred, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    def test(dataloader, model, loss_fn):
        size = len(dataloader.dataset)
        num_batches = len(dataloader)
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for X, y in dataloader:
                X, y = X.to(device), y.to(device)
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(torch.float).sum().item()
        test_loss /= num_batches
        correct /= size
        results.append((test_loss, correct))

    epochs = 2
    for t in range(epochs):
        train(train_dataloader, model, loss_fn, optimizer)
        test(test_dataloader, model, loss_fn)
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(model.state_dict(), os.path.join(tmp, "model.pth"))
        model = NeuralNetwork()
        model.load_state_dict(torch.load(os.path.join(tmp, "model.pth")))
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
    model.eval()
    x, y = test_data[0][0], test_data[0][1]
    with torch.no_grad():
        pred = model(x)
        predicted, actual = classes[pred[0].argmax(0)], classes[y]
    return {"losses": losses, "metric": [results, predicted, actual]}
