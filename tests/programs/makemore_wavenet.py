"""makemore part 5 (WaveNet) from karpathy/nn-zero-to-hero (lectures/makemore/makemore_part5_cnn1.ipynb;
MIT License): https://github.com/karpathy/nn-zero-to-hero

The hand-written layers (Linear with kaiming-style ``randn / fan_in**0.5`` init, BatchNorm1d over dims
(0, 1) with its running buffers updated under ``no_grad``, Tanh, Embedding by indexing, FlattenConsecutive
with ``view``/``squeeze``, Sequential), the last layer made less confident in place under ``no_grad``,
``requires_grad = True`` set on plain tensors, the training loop (``p.grad = None``, ``p.data += -lr *
p.grad``, step decay, ``loss.log10()``), ``split_loss`` under ``@torch.no_grad()`` with the layers switched
to eval, and sampling with ``F.softmax``. Adapted: names.txt is a fixed list of 60 names; n_embd 24 and
n_hidden 128 made 8 and 32; the minibatch indices (``torch.randint``) and the samples (``torch.multinomial``)
are drawn by NumPy; 12 steps of batch 32. The layers are plain objects, so a small module wraps their
parameters for the harness to give both runs the same start.
"""
import numpy as np
import torch
import torch.nn.functional as F

from _harness import sample

NAMES = ("emma olivia ava isabella sophia charlotte mia amelia harper evelyn abigail emily elizabeth mila ella "
         "avery sofia camila aria scarlett victoria madison luna grace chloe penelope layla riley zoey nora lily "
         "eleanor hannah lillian addison aubrey ellie stella natalie zoe leah hazel violet aurora savannah audrey "
         "brooklyn bella claire skylar lucy paisley everly anna caroline nova genesis emilia kennedy").split()


class Linear:

    def __init__(self, fan_in, fan_out, bias=True):
        self.weight = torch.randn((fan_in, fan_out)) / fan_in**0.5  # note: kaiming init
        self.bias = torch.zeros(fan_out) if bias else None

    def __call__(self, x):
        self.out = x @ self.weight
        if self.bias is not None:
            self.out += self.bias
        return self.out

    def parameters(self):
        return [self.weight] + ([] if self.bias is None else [self.bias])


class BatchNorm1d:

    def __init__(self, dim, eps=1e-5, momentum=0.1):
        self.eps = eps
        self.momentum = momentum
        self.training = True
        # parameters (trained with backprop)
        self.gamma = torch.ones(dim)
        self.beta = torch.zeros(dim)
        # buffers (trained with a running 'momentum update')
        self.running_mean = torch.zeros(dim)
        self.running_var = torch.ones(dim)

    def __call__(self, x):
        if self.training:
            if x.ndim == 2:
                dim = 0
            elif x.ndim == 3:
                dim = (0, 1)
            xmean = x.mean(dim, keepdim=True)  # batch mean
            xvar = x.var(dim, keepdim=True)  # batch variance
        else:
            xmean = self.running_mean
            xvar = self.running_var
        xhat = (x - xmean) / torch.sqrt(xvar + self.eps)  # normalize to unit variance
        self.out = self.gamma * xhat + self.beta
        if self.training:
            with torch.no_grad():
                self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * xmean
                self.running_var = (1 - self.momentum) * self.running_var + self.momentum * xvar
        return self.out

    def parameters(self):
        return [self.gamma, self.beta]


class Tanh:
    def __call__(self, x):
        self.out = torch.tanh(x)
        return self.out

    def parameters(self):
        return []


class Embedding:

    def __init__(self, num_embeddings, embedding_dim):
        self.weight = torch.randn((num_embeddings, embedding_dim))

    def __call__(self, IX):
        self.out = self.weight[IX]
        return self.out

    def parameters(self):
        return [self.weight]


class FlattenConsecutive:

    def __init__(self, n):
        self.n = n

    def __call__(self, x):
        B, T, C = x.shape
        x = x.view(B, T // self.n, C * self.n)
        if x.shape[1] == 1:
            x = x.squeeze(1)
        self.out = x
        return self.out

    def parameters(self):
        return []


class Sequential:

    def __init__(self, layers):
        self.layers = layers

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        self.out = x
        return self.out

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


class _Params(torch.nn.Module):
    """The harness's hook: the plain parameter list seen as a state dict (loaded in place)."""

    def __init__(self, params):
        super().__init__()
        self.params = params

    def state_dict(self):
        return {str(i): p for i, p in enumerate(self.params)}

    def load_state_dict(self, sd):
        with torch.no_grad():
            for i, p in enumerate(self.params):
                p.copy_(sd[str(i)])


def main(init):
    rng = np.random.default_rng(0)
    words = list(NAMES)
    chars = sorted(list(set(''.join(words))))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi['.'] = 0
    itos = {i: s for s, i in stoi.items()}
    vocab_size = len(itos)
    block_size = 8

    def build_dataset(words):
        X, Y = [], []
        for w in words:
            context = [0] * block_size
            for ch in w + '.':
                ix = stoi[ch]
                X.append(context)
                Y.append(ix)
                context = context[1:] + [ix]  # crop and append
        X = torch.tensor(X)
        Y = torch.tensor(Y)
        return X, Y

    n1 = int(0.8 * len(words))
    n2 = int(0.9 * len(words))
    Xtr, Ytr = build_dataset(words[:n1])
    Xdev, Ydev = build_dataset(words[n1:n2])
    Xte, Yte = build_dataset(words[n2:])

    torch.manual_seed(42)
    n_embd = 8
    n_hidden = 32
    model = Sequential([
        Embedding(vocab_size, n_embd),
        FlattenConsecutive(2), Linear(n_embd * 2, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        FlattenConsecutive(2), Linear(n_hidden * 2, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        FlattenConsecutive(2), Linear(n_hidden * 2, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        Linear(n_hidden, vocab_size),
    ])
    with torch.no_grad():
        model.layers[-1].weight *= 0.1  # last layer make less confident
    parameters = model.parameters()
    init(torch, _Params(parameters))
    for p in parameters:
        p.requires_grad = True

    max_steps = 12
    batch_size = 32
    lossi, losses = [], []
    for i in range(max_steps):
        ix = torch.tensor(rng.integers(0, Xtr.shape[0], (batch_size,)))
        Xb, Yb = Xtr[ix], Ytr[ix]  # batch X,Y
        logits = model(Xb)
        loss = F.cross_entropy(logits, Yb)  # loss function
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1 if i < 8 else 0.01  # step learning rate decay
        for p in parameters:
            p.data += -lr * p.grad
        losses.append(loss.item())
        lossi.append(loss.log10().item())

    for layer in model.layers:
        layer.training = False

    split_losses = {}

    @torch.no_grad()  # this decorator disables gradient tracking inside pytorch
    def split_loss(split):
        x, y = {
            'train': (Xtr, Ytr),
            'val': (Xdev, Ydev),
            'test': (Xte, Yte),
        }[split]
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        split_losses[split] = loss.item()

    split_loss('train')
    split_loss('val')

    samples = []
    for _ in range(5):
        out = []
        context = [0] * block_size
        while len(out) < 12:
            logits = model(torch.tensor([context]))
            probs = F.softmax(logits, dim=1)
            ix = sample(torch, probs, rng)[0].item()
            context = context[1:] + [ix]
            out.append(ix)
            if ix == 0:
                break
        samples.append(''.join(itos[i] for i in out))
    bn = model.layers[3]
    return {"losses": losses, "metric": [lossi, split_losses, samples, bn.running_mean.numpy(),
                                         bn.running_var.numpy()]}
