"""PyTorch tutorials, Classifying Names with a Character-Level RNN:
https://github.com/pytorch/tutorials/blob/main/intermediate_source/char_rnn_classification_tutorial.py
(the version with ``Variable``; BSD-3-Clause).

Adapted: a few made-up names in three categories instead of data/names; 30 training examples picked by a
seeded ``random.Random`` (the tutorial uses the ``random`` module), hidden size 32; ``loss.data[0]`` reads
``loss.item()`` (indexing a 0-d tensor fails on torch 2.13 as well); no plots.
"""
import random
import string

import torch
import torch.nn as nn
from torch.autograd import Variable

all_letters = string.ascii_letters + " .,;'"
n_letters = len(all_letters)
category_lines = {"Italian": ["Rossi", "Bianchi", "Romano", "Colombo", "Ricci"],
                  "German": ["Muller", "Schmidt", "Schneider", "Fischer", "Weber"],
                  "Japanese": ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe"]}
all_categories = list(category_lines)
n_categories = len(all_categories)


def letterToIndex(letter):
    return all_letters.find(letter)


def letterToTensor(letter):
    tensor = torch.zeros(1, n_letters)
    tensor[0][letterToIndex(letter)] = 1
    return tensor


def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][letterToIndex(letter)] = 1
    return tensor


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(RNN, self).__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        combined = torch.cat((input, hidden), 1)
        hidden = self.i2h(combined)
        output = self.i2o(combined)
        output = self.softmax(output)
        return output, hidden

    def initHidden(self):
        return Variable(torch.zeros(1, self.hidden_size))


def main(init):
    rnd = random.Random(0)
    n_hidden = 32
    rnn = init(torch, RNN(n_letters, n_hidden, n_categories))
    input = Variable(lineToTensor('Albert'))
    hidden = Variable(torch.zeros(1, n_hidden))
    output, next_hidden = rnn(input[0], hidden)

    def categoryFromOutput(output):
        top_n, top_i = output.data.topk(1)
        category_i = top_i[0][0]
        return all_categories[category_i], category_i

    def randomChoice(l):
        return l[rnd.randint(0, len(l) - 1)]

    def randomTrainingExample():
        category = randomChoice(all_categories)
        line = randomChoice(category_lines[category])
        category_tensor = Variable(torch.LongTensor([all_categories.index(category)]))
        line_tensor = Variable(lineToTensor(line))
        return category, line, category_tensor, line_tensor

    criterion = nn.NLLLoss()
    learning_rate = 0.005

    def train(category_tensor, line_tensor):
        hidden = rnn.initHidden()
        rnn.zero_grad()
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
        loss = criterion(output, category_tensor)
        loss.backward()
        for p in rnn.parameters():
            p.data.add_(-learning_rate, p.grad.data)
        return output, loss.item()

    losses = []
    for iter in range(1, 31):
        category, line, category_tensor, line_tensor = randomTrainingExample()
        output, loss = train(category_tensor, line_tensor)
        losses.append(loss)

    confusion = torch.zeros(n_categories, n_categories)

    def evaluate(line_tensor):
        hidden = rnn.initHidden()
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
        return output

    for i in range(20):
        category, line, category_tensor, line_tensor = randomTrainingExample()
        output = evaluate(line_tensor)
        guess, guess_i = categoryFromOutput(output)
        category_i = all_categories.index(category)
        confusion[category_i][guess_i] += 1
    for i in range(n_categories):
        confusion[i] = confusion[i] / confusion[i].sum()

    def predict(input_line, n_predictions=3):
        output = evaluate(Variable(lineToTensor(input_line)))
        topv, topi = output.data.topk(n_predictions, 1, True)
        predictions = []
        for i in range(n_predictions):
            value = topv[0][i]
            category_index = topi[0][i]
            predictions.append([value.item(), all_categories[category_index]])
        return predictions

    return {"losses": losses, "metric": [confusion.numpy(), predict('Dovesky'), predict('Satoshi'),
                                         categoryFromOutput(output)[0]]}
