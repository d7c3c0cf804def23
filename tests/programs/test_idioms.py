"""Everyday PyTorch idioms (folded in from tests/test_pytorch_scripts.py), run unchanged on torch and on ember.

Each ``program(torch)`` is the kind of code people write in tutorials and training scripts,
using only the module it is given. The test runs it once with real torch and once with
``ember`` passed in as ``torch`` and compares what it returns (losses, predictions, weights,
gradients, Python numbers). Data comes from NumPy with a fixed seed; models that start from
random weights are given deterministic weights with ``_fill_params`` (the same values on both
sides, in ``named_parameters()`` order, so that order is checked as well).
"""
import math
import os
import re
import tempfile

import numpy as np
import pytest

import ember
import torch as real_torch


def _fill_params(torch, model, seed=0, scale=0.5):
    """Overwrite every parameter with seeded uniform values (an idiom in itself: ``p.copy_`` under no_grad)."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.copy_(torch.tensor(rng.uniform(-scale, scale, tuple(p.shape)).astype(np.float32)))


def _dt(dtype):
    """A dtype's name without the module prefix (``torch.int64`` and ``ember.int64`` both give ``int64``)."""
    return str(dtype).split(".")[-1]


def _np(t):
    return t.detach().numpy().copy()


# ---------------------------------------------------------------- 1. polynomial fit, raw tensors
def prog_poly_raw_tensors(torch):
    dtype = torch.float
    x = torch.linspace(-math.pi, math.pi, 200, dtype=dtype)
    y = torch.sin(x)
    rng = np.random.default_rng(1)
    a, b, c, d = (torch.tensor(rng.standard_normal(()).astype(np.float32), requires_grad=True) for _ in range(4))
    lr, losses = 1e-6, []
    for t in range(300):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        if t % 50 == 49:
            losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            a -= lr * a.grad
            b -= lr * b.grad
            c -= lr * c.grad
            d -= lr * d.grad
            if t % 2:
                a.grad = None
                b.grad = None
                c.grad = None
                d.grad = None
            else:
                a.grad.zero_()
                b.grad.zero_()
                c.grad.zero_()
                d.grad.zero_()
    return losses, [a.item(), b.item(), c.item(), d.item()], a.requires_grad, a.is_leaf


# ---------------------------------------------------------------- 2. polynomial fit, nn.Sequential
def prog_poly_sequential(torch):
    x = torch.linspace(-math.pi, math.pi, 200)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    _fill_params(torch, model, seed=2)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    lr, losses = 1e-6, []
    for t in range(200):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if t % 40 == 39:
            losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for param in model.parameters():
                param -= lr * param.grad
    linear_layer = model[0]
    return (losses, linear_layer.bias.item(), _np(linear_layer.weight), tuple(xx.shape), _dt(xx.dtype),
            xx.dtype == torch.int64 or xx.dtype == torch.float32)


# ---------------------------------------------------------------- 3. polynomial fit, optimizer
def prog_poly_optim(torch):
    x = torch.linspace(-math.pi, math.pi, 100)
    y = torch.sin(x)
    xx = x.unsqueeze(-1).pow(torch.tensor([1, 2, 3]))
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    _fill_params(torch, model, seed=3)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    losses = []
    for t in range(100):
        loss = loss_fn(model(xx), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses[::10], _np(model[0].weight)


# ---------------------------------------------------------------- 4. dynamic graph, weight sharing
def prog_dynamic_net(torch):
    class DynamicNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.tensor(0.1))
            self.b = torch.nn.Parameter(torch.tensor(-0.2))
            self.c = torch.nn.Parameter(torch.tensor(0.05))
            self.d = torch.nn.Parameter(torch.tensor(0.01))
            self.e = torch.nn.Parameter(torch.tensor(0.0))

        def forward(self, x, n_extra):
            y = self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
            for exp in range(4, 4 + n_extra):  # the same parameter reused a data-dependent number of times
                y = y + self.e * x ** exp
            return y

        def string(self):
            return f"y = {self.a.item():.4f} + {self.b.item():.4f} x"

    x = torch.linspace(-1.0, 1.0, 50)
    y = torch.sin(x)
    model = DynamicNet()
    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    rng = np.random.default_rng(4)
    losses = []
    for t in range(60):
        loss = criterion(model(x, int(rng.integers(0, 3))), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, model.e.item(), model.string(), len(list(model.parameters()))


# ---------------------------------------------------------------- 5. custom autograd.Function
def prog_custom_function(torch):
    class LegendreP3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    class ScaledClamp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale, lo):
            ctx.scale = scale
            mask = x > lo
            ctx.save_for_backward(mask)
            return torch.where(mask, x, torch.full_like(x, lo)) * scale

        @staticmethod
        def backward(ctx, g):
            mask, = ctx.saved_tensors
            gx = g * mask.float() * ctx.scale if ctx.needs_input_grad[0] else None
            return gx, None, None

    x = torch.linspace(-math.pi, math.pi, 100)
    y = torch.sin(x)
    a = torch.full((), 0.0, requires_grad=True)
    b = torch.full((), -1.0, requires_grad=True)
    c = torch.full((), 0.0, requires_grad=True)
    d = torch.full((), 0.3, requires_grad=True)
    P3 = LegendreP3.apply
    losses = []
    for t in range(100):
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= 5e-6 * p.grad
                p.grad = None
        losses.append(loss.item())
    z = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    out = ScaledClamp.apply(z, 3.0, 0.0)
    out.sum().backward()
    return losses[::10], [p.item() for p in (a, b, c, d)], _np(out), _np(z.grad), type(out.grad_fn).__name__


# ---------------------------------------------------------------- 6. classifier: train/eval, param groups, scheduler
def prog_mlp_classifier(torch):
    nn, F = torch.nn, torch.nn.functional
    rng = np.random.default_rng(5)
    X = torch.tensor(rng.standard_normal((64, 10)).astype(np.float32))
    y = torch.tensor((rng.standard_normal(64) > 0).astype(np.int64) + (rng.standard_normal(64) > 1))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 32), nn.Tanh())
            self.head = nn.Linear(32, 3)

        def forward(self, x):
            return self.head(self.body(x))

    model = MLP()
    _fill_params(torch, model, seed=6)
    for m in model.modules():  # dropout is random: keep the train-mode run deterministic
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    optimizer = torch.optim.SGD([{"params": model.body.parameters()},
                                 {"params": model.head.parameters(), "lr": 0.05}], lr=0.1, momentum=0.9,
                                weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[5, 8], gamma=0.3)
    criterion = nn.CrossEntropyLoss()
    losses, lrs, accs = [], [], []
    for epoch in range(10):
        model.train()
        for i in range(0, X.size(0), 16):
            xb, yb = X[i:i + 16], y[i:i + 16]
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        lrs.append([g["lr"] for g in optimizer.param_groups])
        model.eval()
        with torch.no_grad():
            pred = model(X).argmax(1)
            accs.append((pred == y).sum().item() / y.shape[0])
            correct = (pred == y).float().sum()
    return losses, lrs, accs, correct.item(), scheduler.get_last_lr(), model.training, model.body.training


# ---------------------------------------------------------------- 7. tensor idioms
def prog_tensor_idioms(torch):
    rng = np.random.default_rng(7)
    x = torch.tensor(rng.standard_normal((4, 5)).astype(np.float32))
    out = {}
    out["cat0"] = torch.cat([x, x * 2], dim=0)
    out["cat1"] = torch.cat((x, x[:, :2]), 1)
    out["stack"] = torch.stack([x[0], x[1], x[2]], dim=1)
    out["arange"] = torch.arange(0, 10, 3)
    out["arange_f"] = torch.arange(0.0, 1.0, 0.25)
    out["zeros_like"] = torch.zeros_like(x)
    out["ones_like_long"] = torch.ones_like(x, dtype=torch.long)
    out["where"] = torch.where(x > 0, x, torch.zeros_like(x))
    out["where_scalar"] = torch.where(x > 0, x, 0.0)
    mask = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
    scores = torch.tensor(rng.standard_normal((5, 5)).astype(np.float32))
    masked = scores.masked_fill(mask, float("-inf"))
    out["masked"] = masked
    out["softmax"] = torch.nn.functional.softmax(masked, dim=-1)
    vals, idx = x.max(dim=1)
    out["max_vals"], out["max_idx"] = vals, idx
    out["max_named"] = x.max(dim=0).indices
    out["max_all"] = x.max()
    out["none_idx"] = x[:, None].shape
    out["none_idx2"] = x[None, :, None, 1]
    out["bool_idx"] = x[x > 0.5]
    out["row_idx"] = x[torch.tensor([0, 2, 2])]
    out["any"] = (x > 2).any().item()
    out["all"] = (x.abs() < 10).all().item()
    out["any_dim"] = (x > 1).any(dim=1)
    out["count"] = (x > 0).sum().item()
    out["count_dim"] = (x > 0).sum(dim=0)
    out["mean_bool"] = (x > 0).float().mean().item()
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.long)
    out["ids"] = ids.view(-1)
    out["ids_dtype"] = _dt(ids.dtype)
    out["size0"] = ids.size(0) + ids.shape[1] + ids.size()[1] + ids.dim() + ids.numel()
    z = torch.zeros(3, 4)
    z[0] = 1.0
    z[:, 1] += 2.0
    z[z > 1.5] = -1.0
    z.add_(torch.ones(4)).mul_(2)
    z[1, 2] = torch.tensor(7.0)
    out["inplace"] = z
    c = torch.zeros(5, dtype=torch.long)
    c[torch.tensor([0, 2])] += 1
    out["counter"] = c
    out["int_div"] = torch.tensor([7, -7]) // 2
    out["true_div"] = torch.tensor([7, -7]) / 2
    out["mod"] = torch.tensor([7, -7]) % 3
    out["float_long"] = (x * 3).long().float()
    out["to"] = x.to(torch.float64).dtype == torch.float64
    out["item_type"] = type(torch.tensor(3).item()).__name__ + type(torch.tensor(3.5).item()).__name__
    out["tolist"] = ids.tolist()
    out["bool_tensor"] = bool(torch.tensor(1) == 1)
    out["numpy_roundtrip"] = torch.from_numpy(np.arange(6.0).reshape(2, 3)).t().contiguous()
    out["permute"] = x.reshape(2, 2, 5).permute(2, 0, 1)
    out["expand"] = torch.tensor([1.0, 2.0])[:, None].expand(2, 3)
    out["repeat"] = torch.tensor([1, 2]).repeat(2, 2)
    out["flatten"] = x.reshape(2, 2, 5).flatten(1)
    out["squeeze"] = x[:1].squeeze().shape
    out["chunk"] = [c_.shape for c_ in x.chunk(2, dim=1)]
    out["split"] = [s.sum().item() for s in x.split([2, 3], dim=1)]
    out["topk"] = x.topk(2, dim=1).indices
    out["sort"] = x.sort(dim=1, descending=True).values
    out["clamp"] = x.clamp(min=-0.5, max=0.5)
    out["eq"] = torch.equal(x, x.clone()), torch.allclose(x, x + 1e-9)
    out["isnan"] = torch.isnan(masked).sum().item(), torch.isinf(masked).sum().item()
    out["nonzero"] = (x > 0).nonzero()
    out["argsort"] = torch.argsort(x[0])
    out["cumsum"] = torch.cumsum(x, dim=1)
    out["einsum"] = torch.einsum("ij,kj->ik", x, x)
    out["matmul_bcast"] = torch.matmul(x.reshape(2, 2, 5), x.t())
    out["bmm"] = torch.bmm(x.reshape(2, 2, 5), x.reshape(2, 5, 2))
    out["norm"] = x.norm(dim=1), torch.linalg.norm(x)
    out["std_var"] = x.std(dim=0), x.var(unbiased=False)
    out["one_hot"] = torch.nn.functional.one_hot(torch.tensor([0, 2, 1]), num_classes=4)
    out["gather"] = x.gather(1, torch.tensor([[0], [1], [2], [3]]))
    out["scatter"] = torch.zeros(3, 4).scatter_(1, torch.tensor([[1], [3], [0]]), 1.0)
    out["index_select"] = x.index_select(0, torch.tensor([3, 0]))
    out["pad"] = torch.nn.functional.pad(x[:2, :2], (1, 0, 0, 1), value=-1.0)
    out["unique"] = torch.unique(torch.tensor([3, 1, 3, 2, 1]))
    out["linspace"] = torch.linspace(0, 1, steps=5)
    out["full"] = torch.full((2, 2), 3.5)
    out["eye"] = torch.eye(3, dtype=torch.int64)
    out["tril"] = torch.tril(torch.ones(3, 3))
    out["type_promote"] = _dt((torch.tensor([1, 2]) * 1.5).dtype), _dt((torch.tensor([1, 2]) + True).dtype)
    return out


# ---------------------------------------------------------------- 8. Embedding + LSTM tagger with padding
def prog_lstm_tagger(torch):
    nn = torch.nn
    PAD, IGNORE = 0, -100
    rng = np.random.default_rng(8)
    lengths = [5, 3, 4, 2]
    tokens = np.zeros((4, 5), dtype=np.int64)
    tags = np.full((4, 5), IGNORE, dtype=np.int64)
    for i, n in enumerate(lengths):
        tokens[i, :n] = rng.integers(1, 12, n)
        tags[i, :n] = rng.integers(0, 3, n)
    tokens, tags = torch.tensor(tokens, dtype=torch.long), torch.tensor(tags.tolist(), dtype=torch.long)

    class Tagger(nn.Module):
        def __init__(self, vocab=12, emb=6, hidden=8, n_tags=3):
            super().__init__()
            self.embedding = nn.Embedding(vocab, emb, padding_idx=PAD)
            self.lstm = nn.LSTM(emb, hidden, num_layers=2, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(2 * hidden, n_tags)

        def forward(self, x):
            out, (h, c) = self.lstm(self.embedding(x))
            return self.fc(out), h

    model = Tagger()
    _fill_params(torch, model, seed=9)
    with torch.no_grad():
        model.embedding.weight[PAD].fill_(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    criterion = nn.CrossEntropyLoss(ignore_index=IGNORE)
    losses = []
    for _ in range(8):
        optimizer.zero_grad()
        logits, h = model(tokens)
        loss = criterion(logits.view(-1, logits.shape[-1]), tags.view(-1))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        logits, h = model(tokens)
        pred = logits.argmax(-1)
        mask = tags != IGNORE
        acc = (pred[mask] == tags[mask]).float().mean().item()
    return losses, acc, tuple(h.shape), _np(model.embedding.weight[PAD]), _np(logits)


# ---------------------------------------------------------------- 9. transformer block
def prog_transformer_block(torch):
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self, d=8, heads=2):
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
            self.ln2 = nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x, pad_mask):
            T = x.size(1)
            causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
            h = self.ln1(x)
            a, w = self.attn(h, h, h, attn_mask=causal, key_padding_mask=pad_mask)
            x = x + a
            x = x + self.mlp(self.ln2(x))
            return x, w

    rng = np.random.default_rng(10)
    x = torch.tensor(rng.standard_normal((3, 5, 8)).astype(np.float32))
    pad = torch.tensor([[False] * 5, [False] * 4 + [True], [False] * 3 + [True] * 2])
    block = Block()
    _fill_params(torch, block, seed=11)
    y, w = block(x, pad)
    loss = y.pow(2).mean()
    loss.backward()
    grads = {n: _np(p.grad) for n, p in block.named_parameters()}
    return _np(y), _np(w), loss.item(), grads, [n for n, _ in block.named_parameters()]


# ---------------------------------------------------------------- 10. nanoGPT-style attention from scratch
def prog_causal_self_attention(torch):
    nn, F = torch.nn, torch.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self, n_embd=8, n_head=2, block_size=6):
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)
            self.n_head, self.n_embd = n_head, n_embd
            self.register_buffer("bias", torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size,
                                                                                             block_size))

        def forward(self, x, flash=False):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            if flash:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
                att = F.softmax(att, dim=-1)
                y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)

    rng = np.random.default_rng(12)
    x = torch.tensor(rng.standard_normal((2, 5, 8)).astype(np.float32), requires_grad=True)
    m = CausalSelfAttention()
    _fill_params(torch, m, seed=13)
    y1 = m(x)
    y2 = m(x, flash=True)
    (y1.sum() + (y2 * y2).sum()).backward()
    return _np(y1), _np(y2), _np(x.grad), _np(m.c_attn.weight.grad), list(m.state_dict().keys())


# ---------------------------------------------------------------- 11. gradient clipping
def prog_clip_grad(torch):
    nn = torch.nn
    rng = np.random.default_rng(14)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    _fill_params(torch, model, seed=15, scale=2.0)
    X = torch.tensor(rng.standard_normal((32, 4)).astype(np.float32) * 5)
    Y = torch.tensor(rng.standard_normal((32, 2)).astype(np.float32))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    norms = []
    for step in range(6):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(X), Y)
        loss.backward()
        if step % 2:
            total = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        else:
            total = nn.utils.clip_grad_norm_(model.parameters(), 0.5, norm_type=float("inf"))
        norms.append(total.item())
        after = torch.norm(torch.stack([p.grad.norm(2) for p in model.parameters()]), 2).item()
        norms.append(after)
        opt.step()
    opt.zero_grad()
    nn.functional.mse_loss(model(X), Y).backward()
    torch.nn.utils.clip_grad_value_(model.parameters(), clip_value=0.1)
    vec = torch.nn.utils.parameters_to_vector(model.parameters())
    return norms, [_np(p.grad) for p in model.parameters()], _np(vec)


# ---------------------------------------------------------------- 12. save / load a state dict
def prog_save_load(torch):
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(6, 10, bias=False)  # BatchNorm follows
            self.bn = nn.BatchNorm1d(10)
            self.fc2 = nn.Linear(10, 3)

        def forward(self, x):
            return self.fc2(torch.relu(self.bn(self.fc1(x))))

    rng = np.random.default_rng(16)
    X = torch.tensor(rng.standard_normal((20, 6)).astype(np.float32))
    model = Net()
    _fill_params(torch, model, seed=17)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        model(X).logsumexp(dim=1).mean().backward()
        opt.step()
    model.eval()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.pt")
        torch.save(model.state_dict(), path)
        model2 = Net()
        result = model2.load_state_dict(torch.load(path))
        opt_path = os.path.join(d, "opt.pt")
        torch.save({"epoch": 3, "optimizer": opt.state_dict()}, opt_path)
        ckpt = torch.load(opt_path)
    opt2 = torch.optim.Adam(model2.parameters(), lr=1e-3)
    opt2.load_state_dict(ckpt["optimizer"])
    model2.eval()
    with torch.no_grad():
        same = torch.equal(model(X), model2(X))
    sd = model2.state_dict()
    return (same, list(sd.keys()), _np(sd["bn.running_mean"]), sd["bn.num_batches_tracked"].item(),
            list(result.missing_keys), list(result.unexpected_keys), ckpt["epoch"],
            opt2.param_groups[0]["lr"], _np(opt2.state[opt2.param_groups[0]["params"][0]]["exp_avg"]))


# ---------------------------------------------------------------- 13. gradient accumulation
def prog_grad_accumulation(torch):
    nn = torch.nn
    rng = np.random.default_rng(18)
    X = torch.tensor(rng.standard_normal((24, 5)).astype(np.float32))
    Y = torch.tensor(rng.integers(0, 4, 24))
    model = nn.Sequential(nn.Linear(5, 8), nn.SiLU(), nn.Linear(8, 4))
    _fill_params(torch, model, seed=19)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
    accum, losses = 3, []
    opt.zero_grad(set_to_none=True)
    for i, start in enumerate(range(0, 24, 4)):
        loss = nn.functional.cross_entropy(model(X[start:start + 4]), Y[start:start + 4]) / accum
        loss.backward()
        losses.append(loss.item())
        if (i + 1) % accum == 0:
            opt.step()
            opt.zero_grad(set_to_none=True)
    # the accumulated gradient of 3 micro-batches equals the gradient of their mean loss
    model.zero_grad()
    for s in range(0, 12, 4):
        (nn.functional.cross_entropy(model(X[s:s + 4]), Y[s:s + 4]) / 3).backward()
    acc_grad = model[0].weight.grad.clone()
    model.zero_grad()
    nn.functional.cross_entropy(model(X[:12]), Y[:12]).backward()
    return losses, [_np(p) for p in model.parameters()], _np(acc_grad), _np(model[0].weight.grad), \
        model[2].bias.grad is None


# ---------------------------------------------------------------- 14. freezing layers
def prog_freeze(torch):
    nn = torch.nn
    rng = np.random.default_rng(20)
    backbone = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU())
    head = nn.Linear(8, 2)
    model = nn.Sequential(backbone, head)
    _fill_params(torch, model, seed=21)
    backbone.requires_grad_(False)
    frozen_before = [_np(p) for p in backbone.parameters()]
    opt = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
    X = torch.tensor(rng.standard_normal((10, 6)).astype(np.float32))
    Y = torch.tensor(rng.standard_normal((10, 2)).astype(np.float32))
    for _ in range(5):
        opt.zero_grad()
        loss = ((model(X) - Y) ** 2).mean()
        loss.backward()
        opt.step()
    unchanged = all(np.array_equal(a, _np(b)) for a, b in zip(frozen_before, backbone.parameters()))
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n_total = sum(p.numel() for p in model.parameters())
    # unfreeze the last backbone layer, as in fine-tuning
    for p in backbone[2].parameters():
        p.requires_grad = True
    opt.add_param_group({"params": backbone[2].parameters(), "lr": 0.01})
    opt.zero_grad()
    ((model(X) - Y) ** 2).mean().backward()
    opt.step()
    return (unchanged, n_trainable, n_total, backbone[0].weight.grad is None, loss.item(), _np(head.weight),
            _np(backbone[2].weight), len(opt.param_groups), loss.requires_grad)


# ---------------------------------------------------------------- 15. hooks
def prog_hooks(torch):
    nn = torch.nn
    rng = np.random.default_rng(22)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    _fill_params(torch, model, seed=23)
    activations, grads, calls = {}, {}, []

    def get_activation(name):
        def hook(module, inp, output):
            activations[name] = output.detach()
        return hook

    h1 = model[0].register_forward_hook(get_activation("fc1"))
    h2 = model[1].register_forward_hook(get_activation("relu"))
    h3 = model[2].register_forward_pre_hook(lambda m, inp: calls.append(tuple(inp[0].shape)))
    h4 = model[2].register_forward_hook(lambda m, inp, out: out * 2)  # a returned value replaces the output
    x = torch.tensor(rng.standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    out = model(x)
    th = x.register_hook(lambda g: grads.__setitem__("x", g.clone()))
    h5 = model[0].weight.register_hook(lambda g: g * 0.5)
    out.sum().backward()
    for h in (h1, h2, h3, h4, h5):
        h.remove()
    th.remove()
    out2 = model(x)
    return (_np(activations["fc1"]), _np(activations["relu"]), calls, _np(out), _np(out2), _np(grads["x"]),
            _np(model[0].weight.grad), len(activations))


# ---------------------------------------------------------------- 16. gradient penalty (WGAN-GP)
def prog_gradient_penalty(torch):
    nn = torch.nn
    rng = np.random.default_rng(24)
    D = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 16), nn.Softplus(), nn.Linear(16, 1))
    _fill_params(torch, D, seed=25)
    real = torch.tensor(rng.standard_normal((8, 3)).astype(np.float32))
    fake = torch.tensor(rng.standard_normal((8, 3)).astype(np.float32) + 1)
    alpha = torch.tensor(rng.uniform(size=(8, 1)).astype(np.float32))
    opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.9))
    out = []
    for _ in range(3):
        interp = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        d_interp = D(interp)
        gradients = torch.autograd.grad(outputs=d_interp, inputs=interp,
                                        grad_outputs=torch.ones_like(d_interp), create_graph=True,
                                        retain_graph=True)[0]
        gp = ((gradients.norm(2, dim=1) - 1) ** 2).mean()
        loss = D(fake).mean() - D(real).mean() + 10 * gp
        opt.zero_grad()
        loss.backward()
        out.append((gp.item(), loss.item(), _np(D[0].weight.grad)))
        opt.step()
    # double backward through a scalar function: d2/dx2 of x^3 sin(x)
    x = torch.tensor([0.3, 1.2], requires_grad=True)
    y = (x ** 3 * torch.sin(x)).sum()
    g, = torch.autograd.grad(y, x, create_graph=True)
    h, = torch.autograd.grad(g.sum(), x)
    return out, _np(g), _np(h)


# ---------------------------------------------------------------- 17. DataLoader over a custom Dataset
def prog_dataloader_collate(torch):
    from_data = torch.utils.data

    class SeqDataset(from_data.Dataset):
        def __init__(self, n):
            rng = np.random.default_rng(26)
            self.seqs = [rng.integers(1, 9, int(rng.integers(1, 6))).tolist() for _ in range(n)]
            self.labels = [int(s[0] % 2) for s in self.seqs]

        def __len__(self):
            return len(self.seqs)

        def __getitem__(self, idx):
            return torch.tensor(self.seqs[idx], dtype=torch.long), self.labels[idx]

    def collate(batch):
        seqs, labels = zip(*batch)
        lengths = torch.tensor([len(s) for s in seqs])
        padded = torch.zeros(len(seqs), int(lengths.max()), dtype=torch.long)
        for i, s in enumerate(seqs):
            padded[i, :len(s)] = s
        return padded, lengths, torch.tensor(labels)

    ds = SeqDataset(11)
    loader = from_data.DataLoader(ds, batch_size=4, shuffle=False, collate_fn=collate)
    batches = [(p.tolist(), l.tolist(), y.tolist(), _dt(p.dtype)) for p, l, y in loader]
    loader2 = from_data.DataLoader(ds, batch_size=4, drop_last=True, collate_fn=collate)
    n2 = sum(1 for _ in loader2)
    sub = from_data.Subset(ds, [3, 1, 4])
    train, val = from_data.random_split(range(10), [7, 3], generator=torch.Generator().manual_seed(0))
    # a model over the padded batches: mean of embeddings over the real tokens
    emb = torch.nn.Embedding(9, 4, padding_idx=0)
    _fill_params(torch, emb, seed=27)
    means = []
    for padded, lengths, y in loader:
        mask = (padded != 0).unsqueeze(-1).float()
        means.append(_np((emb(padded) * mask).sum(1) / lengths[:, None]))
    tds = from_data.TensorDataset(torch.arange(6.0).view(3, 2), torch.tensor([0, 1, 0]))
    default = [(a.tolist(), b.tolist()) for a, b in from_data.DataLoader(tds, batch_size=2)]
    return (batches, len(loader), n2, [int(sub[i][1]) for i in range(len(sub))], len(train), len(val),
            sorted(list(train) + list(val)), means, default, len(ds))


# ---------------------------------------------------------------- 18. GRU language model with truncated BPTT
def prog_gru_lm(torch):
    nn = torch.nn
    rng = np.random.default_rng(28)
    data = torch.tensor(rng.integers(0, 10, 41))
    V, H, bptt = 10, 12, 8

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, H)
            self.rnn = nn.GRU(H, H)
            self.out = nn.Linear(H, V)

        def forward(self, x, h=None):
            o, h = self.rnn(self.emb(x), h)
            return self.out(o), h

    model = LM()
    _fill_params(torch, model, seed=29)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    crit = nn.CrossEntropyLoss()
    hidden, losses = None, []
    for i in range(0, data.size(0) - 1, bptt):
        seq_len = min(bptt, len(data) - 1 - i)
        inp = data[i:i + seq_len].unsqueeze(1)
        target = data[i + 1:i + 1 + seq_len].reshape(-1)
        if hidden is not None:
            hidden = hidden.detach()
        logits, hidden = model(inp, hidden)
        loss = crit(logits.view(-1, V), target)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        opt.step()
        losses.append(loss.item())
    ppl = math.exp(sum(losses) / len(losses))
    return losses, ppl, _np(hidden), hidden.requires_grad


# ---------------------------------------------------------------- 19. schedulers and optimizer bookkeeping
def prog_schedulers(torch):
    params = [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.zeros(3))]
    out = {}
    for name, make_opt, make_sched in [
        ("step", lambda: torch.optim.SGD(params, lr=0.1), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
        ("cos", lambda: torch.optim.Adam(params, lr=1e-2),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=1e-4)),
        ("lambda", lambda: torch.optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 1.0}], lr=0.1),
         lambda o: torch.optim.lr_scheduler.LambdaLR(o, lr_lambda=lambda e: 0.9 ** e)),
        ("onecycle", lambda: torch.optim.SGD(params, lr=0.1, momentum=0.9),
         lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=12)),
        ("warmup", lambda: torch.optim.AdamW(params, lr=1e-3),
         lambda o: torch.optim.lr_scheduler.SequentialLR(o, [torch.optim.lr_scheduler.LinearLR(o, 0.1, total_iters=3),
                                                             torch.optim.lr_scheduler.ExponentialLR(o, 0.9)],
                                                         milestones=[3])),
    ]:
        opt = make_opt()
        sched = make_sched(opt)
        lrs = []
        for epoch in range(10):
            opt.zero_grad()
            loss = sum((p ** 2).sum() for p in params) + params[0].sum()
            loss.backward()
            opt.step()
            sched.step()
            lrs.append([g["lr"] for g in opt.param_groups])
        out[name] = lrs
    opt = torch.optim.SGD(params, lr=1.0)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1)
    for val in [1.0, 0.9, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7]:
        plateau.step(val)
        out.setdefault("plateau", []).append(opt.param_groups[0]["lr"])
    for g in opt.param_groups:  # manual lr decay, the old way
        g["lr"] *= 0.1
    out["manual"] = opt.param_groups[0]["lr"]
    out["params"] = [_np(p) for p in params]
    out["defaults"] = sorted(k for k in opt.defaults)
    return out


# ---------------------------------------------------------------- 20. losses a user combines
def prog_losses(torch):
    nn, F = torch.nn, torch.nn.functional
    rng = np.random.default_rng(30)
    logits = torch.tensor(rng.standard_normal((6, 4)).astype(np.float32), requires_grad=True)
    target = torch.tensor([0, 3, 1, 1, 2, 3])
    weight = torch.tensor([1.0, 2.0, 0.5, 1.0])
    out = {}
    out["ce_w"] = nn.CrossEntropyLoss(weight=weight, label_smoothing=0.1)(logits, target)
    out["nll"] = F.nll_loss(F.log_softmax(logits, dim=1), target, reduction="sum")
    out["ce_probs"] = F.cross_entropy(logits, F.softmax(torch.ones(6, 4) * torch.arange(4.0), dim=1))
    y01 = torch.tensor(rng.integers(0, 2, (6, 4)).astype(np.float32))
    out["bce_logits"] = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0, 2.0, 3.0, 0.5]))(logits, y01)
    out["bce"] = F.binary_cross_entropy(torch.sigmoid(logits), y01)
    out["mse"] = F.mse_loss(logits, y01)
    out["l1"] = nn.L1Loss()(logits, y01)
    out["smooth_l1"] = F.smooth_l1_loss(logits, y01 * 3, beta=0.5)
    out["huber"] = nn.HuberLoss(delta=0.7)(logits, y01 * 3)
    out["kl"] = F.kl_div(F.log_softmax(logits, -1), F.softmax(y01, -1), reduction="batchmean")
    out["cos"] = F.cosine_similarity(logits, y01 + 0.1, dim=1).mean()
    total = sum(out.values())
    total.backward()
    res = {k: v.item() for k, v in out.items()}
    res["grad"] = _np(logits.grad)
    return res


# ---------------------------------------------------------------- 21. VAE step with the reparameterisation trick
def prog_vae(torch):
    nn, F = torch.nn, torch.nn.functional

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(12, 8)
            self.fc21 = nn.Linear(8, 2)
            self.fc22 = nn.Linear(8, 2)
            self.fc3 = nn.Linear(2, 8)
            self.fc4 = nn.Linear(8, 12)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar, eps):
            std = torch.exp(0.5 * logvar)
            return mu + eps * std

        def decode(self, z):
            return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

        def forward(self, x, eps):
            mu, logvar = self.encode(x.view(-1, 12))
            return self.decode(self.reparameterize(mu, logvar, eps)), mu, logvar

    rng = np.random.default_rng(31)
    x = torch.tensor(rng.uniform(size=(10, 3, 4)).astype(np.float32))
    model = VAE()
    _fill_params(torch, model, seed=32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(5):
        eps = torch.tensor(rng.standard_normal((10, 2)).astype(np.float32))
        recon, mu, logvar = model(x, eps)
        bce = F.binary_cross_entropy(recon, x.view(-1, 12), reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = bce + kld
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append((bce.item(), kld.item()))
    return losses, _np(model.fc21.weight)


# ---------------------------------------------------------------- 22. CNN with eval-mode batch norm and top-k accuracy
def prog_cnn_topk(torch):
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
                                          nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.ReLU())
            self.pool = nn.AdaptiveAvgPool2d((1, 1))
            self.classifier = nn.Linear(6, 5)

        def forward(self, x):
            x = self.pool(self.features(x))
            return self.classifier(torch.flatten(x, 1))

    def accuracy(output, target, topk=(1,)):
        with torch.no_grad():
            maxk = max(topk)
            batch_size = target.size(0)
            _, pred = output.topk(maxk, 1, True, True)
            pred = pred.t()
            correct = pred.eq(target.view(1, -1).expand_as(pred))
            res = []
            for k in topk:
                correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
                res.append(correct_k.mul_(100.0 / batch_size).item())
            return res

    rng = np.random.default_rng(33)
    x = torch.tensor(rng.standard_normal((6, 2, 8, 8)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 5, 6))
    model = Net()
    _fill_params(torch, model, seed=34)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    for _ in range(3):
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(x)
    bn = model.features[1]
    return (accuracy(out, y, topk=(1, 3)), _np(out), _np(bn.running_var), bn.num_batches_tracked.item(),
            _np(F.softmax(out, dim=1).max(dim=1)[0]))


# ---------------------------------------------------------------- 23. module containers and bookkeeping
def prog_module_bookkeeping(torch):
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
            self.heads = nn.ModuleDict({"a": nn.Linear(4, 2), "b": nn.Linear(4, 1, bias=False)})
            self.scale = nn.Parameter(torch.ones(1))
            self.register_buffer("steps", torch.zeros((), dtype=torch.long))
            self.register_buffer("tmp", torch.ones(2), persistent=False)

        def forward(self, x):
            self.steps += 1
            for i, layer in enumerate(self.layers):
                x = torch.relu(layer(x)) + x if i % 2 == 0 else layer(x)
            return {k: h(x) * self.scale for k, h in self.heads.items()}

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.1)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    net = Net()
    net.apply(init_weights)
    with torch.no_grad():
        net.layers[1].weight.copy_(torch.eye(4) * 0.5)
    x = torch.arange(8.0).view(2, 4) / 8
    out = net(x)
    net(x)
    loss = out["a"].sum() + out["b"].pow(2).sum()
    loss.backward()
    names = [n for n, _ in net.named_parameters()]
    mods = [n for n, _ in net.named_modules()]
    bufs = [n for n, _ in net.named_buffers()]
    n_params = sum(p.numel() for p in net.parameters() if p.requires_grad)
    sd_keys = list(net.state_dict().keys())
    net.zero_grad()
    return (names, mods, bufs, n_params, sd_keys, net.steps.item(), _np(out["a"]), _np(out["b"]),
            net.scale.grad, [type(m).__name__ for m in net.children()], len(net.layers), "b" in net.heads)


# ---------------------------------------------------------------- 24. autograd bookkeeping
def prog_autograd_bookkeeping(torch):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    z = (y ** 2).sum()
    z.backward(retain_graph=True)
    first = _np(x.grad)
    z.backward()  # gradients accumulate
    second = _np(x.grad)
    w = torch.ones(3, requires_grad=True)
    v = x.detach() * w
    v.backward(torch.tensor([1.0, 0.1, 0.01]))
    with torch.no_grad():
        n = x * 2
    with torch.enable_grad():
        e = x * 2
    torch.set_grad_enabled(False)
    s = x * 2
    torch.set_grad_enabled(True)

    @torch.no_grad()
    def infer(t):
        return t * 3

    u = x.clone()
    u.data.mul_(0)  # .data bypasses autograd
    a = torch.randn(3, requires_grad=True)
    b = a.detach().clone()
    jac = torch.autograd.functional.jacobian(lambda t: t ** 2 + t.sum(), torch.tensor([1.0, 2.0]))
    return (first, second, _np(y.grad), _np(w.grad), x.grad_fn is None, n.requires_grad, e.requires_grad,
            s.requires_grad, infer(x).requires_grad, _np(u), y.is_leaf, x.is_leaf, b.requires_grad,
            a.detach().requires_grad, _np(jac), torch.is_grad_enabled())


# ---------------------------------------------------------------- 25. in-place ops and views on plain tensors
def prog_inplace_buffers(torch):
    rng = np.random.default_rng(35)
    running = torch.zeros(4)
    count = torch.tensor(0)
    hist = torch.zeros(5, dtype=torch.long)
    conf = torch.zeros(3, 3, dtype=torch.int64)
    for step in range(5):
        batch = torch.tensor(rng.standard_normal((8, 4)).astype(np.float32))
        running.mul_(0.9).add_(batch.mean(0), alpha=0.1)
        count += batch.size(0)
        b = torch.clamp((batch[:, 0] + 2.5).long(), 0, 4)
        hist += torch.bincount(b, minlength=5)
        t = torch.tensor(rng.integers(0, 3, 8))
        p = torch.tensor(rng.integers(0, 3, 8))
        for ti, pi in zip(t.view(-1), p.view(-1)):
            conf[ti.long(), pi.long()] += 1
    ema = torch.ones(3)
    ema.lerp_(torch.tensor([3.0, 5.0, 7.0]), 0.25)
    v = torch.arange(12.0).view(3, 4)
    row = v[1]
    row.fill_(-1)  # writes through the view
    v.t()[0].zero_()
    v.clamp_(min=-0.5)
    x = torch.ones(2, 3)
    x.masked_fill_(torch.tensor([[True, False, True], [False, False, True]]), 0.0)
    x.index_add_(1, torch.tensor([0, 0]), torch.ones(2, 2))
    x.sub_(0.5).div_(2).pow_(2).sqrt_().neg_().abs_()
    prec = conf.diag().float() / conf.sum(0).clamp(min=1).float()
    return (_np(running), count.item(), hist.tolist(), conf.tolist(), _np(ema), _np(v), _np(x), _np(prec),
            _dt(count.dtype))


# ---------------------------------------------------------------- 26. seeding: reproducible, not torch's stream
def prog_manual_seed(torch):
    torch.manual_seed(42)
    a = torch.randn(4, 3)
    r = torch.rand(5)
    i = torch.randint(0, 10, (6,))
    p = torch.randperm(7)
    torch.manual_seed(42)
    a2 = torch.randn(4, 3)
    g = torch.Generator().manual_seed(1)
    d1 = torch.nn.functional.dropout(torch.ones(1000), p=0.3, training=True)
    layer = torch.nn.Linear(100, 50)
    bound = 1 / math.sqrt(100)
    # distributions and invariants match torch even though the values do not
    return (torch.equal(a, a2), tuple(a.shape), _dt(a.dtype), bool(((r >= 0) & (r < 1)).all()),
            bool(((i >= 0) & (i < 10)).all()), _dt(i.dtype), sorted(p.tolist()),
            round(float((d1 == 0).float().mean()), 1), sorted(set(np.round(_np(d1), 4).tolist())),
            bool(layer.weight.abs().max() <= bound), bool(layer.weight.abs().max() > 0.8 * bound),
            g.initial_seed(), torch.initial_seed())


# ---------------------------------------------------------------- 27. script boilerplate: device, threads, padding
def prog_script_boilerplate(torch):
    pad_sequence = torch.nn.utils.rnn.pad_sequence  # (a "from torch..." import would bypass the module given)
    torch.set_num_threads(1)
    torch.backends.cudnn.benchmark = True
    torch.cuda.manual_seed_all(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    use_mps = torch.backends.mps.is_available()
    nn, F = torch.nn, torch.nn.functional
    model = nn.Sequential(nn.Embedding(10, 4, padding_idx=0), nn.Linear(4, 4), nn.Tanh()).to(device)
    _fill_params(torch, model, seed=36)
    rng = np.random.default_rng(37)
    seqs = [torch.tensor(rng.integers(1, 10, n)) for n in (3, 1, 4)]

    def collate(batch):
        return pad_sequence(batch, batch_first=True, padding_value=0), torch.tensor([len(b) for b in batch])

    loader = torch.utils.data.DataLoader(seqs, batch_size=3, collate_fn=collate)
    ids, lengths = next(iter(loader))
    ids, lengths = ids.to(device), lengths.to(device)
    h = model(ids)
    mask = torch.arange(ids.size(1), device=device)[None, :] < lengths[:, None]
    scores = (h @ h[:, :1].transpose(1, 2)).squeeze(-1)
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    attn = F.softmax(scores, dim=-1)
    pooled = (attn.unsqueeze(-1) * h).sum(1)
    sim = F.cosine_similarity(pooled[:, None, :], pooled[None, :, :], dim=-1)
    dist = F.pairwise_distance(pooled, pooled.flip(0))
    loss = (1 - sim).sum() + dist.sum()
    loss.backward()
    time_major = pad_sequence(seqs, padding_value=-1)
    big = torch.iinfo(torch.int64).max
    return (str(device), use_mps, torch.get_num_threads(), _np(ids), _np(attn), _np(sim), _np(dist),
            _np(model[1].weight.grad), _np(time_major), big, torch.finfo(torch.float32).eps,
            repr(model), str(model[1]), h.device.type, h.is_cuda)


# ---------------------------------------------------------------- 28. LLaMA-style pieces: RMSNorm, rotary, sampling
def prog_llama_pieces(torch):
    nn, F = torch.nn, torch.nn.functional

    class RMSNorm(nn.Module):
        def __init__(self, dim, eps=1e-6):
            super().__init__()
            self.eps = eps
            self.weight = nn.Parameter(torch.ones(dim))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

    def rotary(x, base=10000.0):
        T, D = x.shape[-2], x.shape[-1]
        inv_freq = 1.0 / (base ** (torch.arange(0, D, 2).float() / D))
        freqs = torch.outer(torch.arange(T).float(), inv_freq)
        cos, sin = freqs.cos(), freqs.sin()
        x1, x2 = x[..., ::2], x[..., 1::2]
        return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)

    rng = np.random.default_rng(38)
    x = torch.tensor(rng.standard_normal((2, 5, 8)).astype(np.float32), requires_grad=True)
    norm = RMSNorm(8)
    with torch.no_grad():
        norm.weight.mul_(torch.linspace(0.5, 1.5, 8))
    q = rotary(norm(x))
    att = (q @ q.transpose(-1, -2)) / math.sqrt(q.size(-1))
    att = att.masked_fill(torch.ones(5, 5).tril() == 0, float("-inf")).softmax(-1)
    out = att @ norm(x)
    out.square().sum().backward()
    logits = out[:, -1, :] * 3
    v, _ = torch.topk(logits, 3)
    logits[logits < v[:, [-1]]] = -float("Inf")
    probs = F.softmax(logits / 0.8, dim=-1)
    greedy = torch.argmax(probs, dim=-1, keepdim=True)
    seq = torch.cat((torch.zeros(2, 1, dtype=torch.long), greedy), dim=1)
    return _np(q), _np(out), _np(x.grad), _np(norm.weight.grad), _np(probs), seq.tolist(), (probs > 0).sum(1).tolist()


PROGRAMS = [v for k, v in sorted(globals().items()) if k.startswith("prog_")]


def _compare(e, t, path="out", rtol=2e-4, atol=2e-5):
    if isinstance(t, real_torch.Tensor):
        assert isinstance(e, ember.Tensor), f"{path}: {type(e).__name__} is not a Tensor"
        e, t = _np(e), _np(t)
    if isinstance(t, dict):
        assert isinstance(e, dict) and list(e.keys()) == list(t.keys()), f"{path}: keys {list(e)} != {list(t)}"
        for k in t:
            _compare(e[k], t[k], f"{path}[{k!r}]", rtol, atol)
    elif isinstance(t, (list, tuple)) and not isinstance(t, real_torch.Size):
        assert isinstance(e, (list, tuple)) and len(e) == len(t), f"{path}: {e!r} != {t!r}"
        for i, (a, b) in enumerate(zip(e, t)):
            _compare(a, b, f"{path}[{i}]", rtol, atol)
    elif isinstance(t, np.ndarray):
        assert isinstance(e, np.ndarray), f"{path}: {type(e)} is not an array"
        assert e.shape == t.shape and e.dtype == t.dtype, f"{path}: {e.shape} {e.dtype} != {t.shape} {t.dtype}"
        np.testing.assert_allclose(e, t, rtol=rtol, atol=atol, err_msg=path)
    elif isinstance(t, float):
        assert isinstance(e, float), f"{path}: {type(e).__name__} is not a float"
        np.testing.assert_allclose(e, t, rtol=rtol, atol=atol, err_msg=path)
    elif isinstance(t, real_torch.Size):
        assert tuple(e) == tuple(t), f"{path}: {e} != {t}"
    elif t is None or isinstance(t, (bool, int, str)):
        assert type(e) is type(t) and e == t, f"{path}: {e!r} != {t!r}"
    else:
        raise TypeError(f"{path}: cannot compare {type(t)}")


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda f: f.__name__[5:])
def test_program_gives_torch_numbers(program):
    real_torch.manual_seed(0)
    expected = program(real_torch)
    ember.manual_seed(0)
    got = program(ember)
    _compare(got, expected)


def test_there_are_enough_programs():
    assert len(PROGRAMS) >= 20


# ---------------------------------------------------------------- regressions for what the programs found missing
@pytest.mark.parametrize("call", [
    lambda t: t.bincount(t.tensor([3, 1, 3, 2, 1])),
    lambda t: t.bincount(t.tensor([3, 1, 3], dtype=t.int32), minlength=6),
    lambda t: t.bincount(t.tensor([], dtype=t.long)),
    lambda t: t.tensor([0, 2, 2]).bincount(weights=t.tensor([0.5, 1.0, 2.0])),
    lambda t: t.bincount(t.tensor([0, 2, 2]), weights=t.tensor([1, 2, 3], dtype=t.int32)),
    lambda t: t.bincount(t.tensor([0, 2]), weights=t.tensor([1.0, 2.0], dtype=t.float64)),
    lambda t: t.unique(t.tensor([[2, 1], [1, 3]])),
    lambda t: t.unique(t.tensor([3.0, 1.0, 3.0]), return_inverse=True),
    lambda t: t.tensor([3, 1, 3, 2]).unique(return_counts=True),
    lambda t: t.unique(t.tensor([[2, 1], [1, 3]]), return_inverse=True, return_counts=True),
    lambda t: t.unique(t.tensor([[1, 2], [1, 2], [0, 5]]), dim=0, return_inverse=True, return_counts=True),
    lambda t: t.unique(t.tensor([[1, 1, 0], [2, 2, 5]]), dim=-1),
])
def test_bincount_and_unique_match_torch(call):
    _compare(call(ember), call(real_torch))


@pytest.mark.parametrize("call", [
    lambda t: t.bincount(t.tensor([1.0])),
    lambda t: t.bincount(t.tensor([-1, 2])),
    lambda t: t.bincount(t.ones(2, 2, dtype=t.long)),
    lambda t: t.finfo(t.int32),
    lambda t: t.iinfo(t.float32),
])
def test_bincount_and_info_errors_match_torch(call):
    with pytest.raises(Exception) as expected:
        call(real_torch)
    with pytest.raises(expected.type, match=re.escape(str(expected.value).split("'")[0][:30])):
        call(ember)


def test_cosine_similarity_and_pairwise_distance_match_torch_with_gradients():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((4, 3))
    data[1] = 0.0     # a zero vector: the norm is raised to eps
    data[2] = [1e-9, 0.0, 0.0]  # a tiny one: raised to eps in value, the gradient still goes through the norm
    other = rng.standard_normal((4, 3))
    results = []
    for lib in (ember, real_torch):
        a = lib.tensor(data, requires_grad=True)
        b = lib.tensor(other, requires_grad=True)
        F = lib.nn.functional
        out = [F.cosine_similarity(a, b, dim=1, eps=1e-8), lib.cosine_similarity(a[0], b, dim=-1),
               F.pairwise_distance(a, b), lib.pairwise_distance(a, b[0], p=1.0, keepdim=True),
               F.pairwise_distance(a[0], b[0])]
        sum(o.sum() for o in out).backward()
        results.append(([_np(o) for o in out], _np(a.grad), _np(b.grad)))
    _compare(*results, rtol=1e-10, atol=1e-12)


def test_pad_sequence_matches_torch_forward_and_backward():
    results = []
    for lib in (ember, real_torch):
        seqs = [lib.tensor(np.arange(n * 2, dtype=np.float64).reshape(n, 2), requires_grad=True) for n in (2, 3, 1)]
        a = lib.nn.utils.rnn.pad_sequence(seqs)
        b = lib.nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=-1.0, padding_side="left")
        (a * lib.arange(6.0).view(1, 3, 2)).sum().backward()
        b.pow(2).sum().backward()
        results.append((_np(a), _np(b), [_np(s.grad) for s in seqs]))
    _compare(*results)
    with pytest.raises(RuntimeError, match="empty list"):
        ember.nn.utils.rnn.pad_sequence([])


@pytest.mark.parametrize("dt", ["float16", "float32", "float64", "uint8", "int8", "int32", "int64"])
def test_finfo_iinfo_match_torch(dt):
    e, t = getattr(ember, dt), getattr(real_torch, dt)
    info = "finfo" if "float" in dt else "iinfo"
    ei, ti = getattr(ember, info)(e), getattr(real_torch, info)(t)
    fields = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype") if info == "finfo" \
        else ("bits", "max", "min", "dtype")
    for f in fields:
        assert getattr(ei, f) == getattr(ti, f), f
    assert repr(ei) == repr(ti)


def test_cpu_only_flags_match_torch_cpu_build():
    for lib in (ember, real_torch):
        assert lib.cuda.is_available() is False and lib.cuda.device_count() == 0
        assert lib.backends.mps.is_available() is False and lib.backends.cudnn.is_available() is False
    assert ember.backends.cudnn.enabled is True and ember.backends.cudnn.deterministic is False
    assert repr(ember.finfo()) == repr(real_torch.finfo())


@pytest.mark.parametrize("make", [lambda t: t.zeros(0, dtype=t.long), lambda t: t.zeros(0, 3, dtype=t.long),
                                  lambda t: t.zeros(0, dtype=t.bool), lambda t: t.zeros(0, 3),
                                  lambda t: t.zeros(0, dtype=t.int32)])
def test_empty_tensor_repr_names_non_default_dtypes(make):
    assert repr(make(ember)).replace("ember.", "torch.") == repr(make(real_torch))
