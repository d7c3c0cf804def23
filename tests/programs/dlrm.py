"""facebookresearch/dlrm: https://github.com/facebookresearch/dlrm (dlrm_s_pytorch.py, dlrm_data_pytorch.py;
MIT License), the Deep Learning Recommendation Model on its random-data generator.

``nn.EmbeddingBag(mode="sum", sparse=True)`` tables fed flat indices with offsets, learned per-sample weights
gathered from a Parameter (weighted pooling), MLPs whose weights are set from NumPy draws through
``.weight.data = torch.tensor(W, requires_grad=True)``, the "dot" feature interaction (``bmm`` of the stacked
features with their transpose, lower-triangle pairs picked with two index lists), a sigmoid output clamped by
the loss threshold, ``BCELoss``, SGD and the repository's ``LRPolicyScheduler`` (an ``_LRScheduler`` subclass
with warm-up and polynomial decay read from ``_step_count``), and its NumPy accuracy. Adapted: 3 small tables,
dims 4, batches of 8, 10 steps. The tables' gradients are sparse COO tensors in both (``sparse=True``), which
SGD (the script's default optimizer) applies to the rows they hold.
"""
import numpy as np
import torch
import torch.nn as nn
from torch.optim.lr_scheduler import _LRScheduler


class DLRM_Net(nn.Module):
    def create_mlp(self, ln, sigmoid_layer):
        layers = nn.ModuleList()
        for i in range(0, ln.size - 1):
            n = ln[i]
            m = ln[i + 1]
            LL = nn.Linear(int(n), int(m), bias=True)
            # Xavier-like normal draws, as the script makes them
            mean = 0.0
            std_dev = np.sqrt(2 / (m + n))
            W = np.random.normal(mean, std_dev, size=(m, n)).astype(np.float32)
            std_dev = np.sqrt(1 / m)
            bt = np.random.normal(mean, std_dev, size=m).astype(np.float32)
            LL.weight.data = torch.tensor(W, requires_grad=True)
            LL.bias.data = torch.tensor(bt, requires_grad=True)
            layers.append(LL)
            if i == sigmoid_layer:
                layers.append(nn.Sigmoid())
            else:
                layers.append(nn.ReLU())
        return torch.nn.Sequential(*layers)

    def create_emb(self, m, ln, weighted_pooling=None):
        emb_l = nn.ModuleList()
        v_W_l = []
        for i in range(0, ln.size):
            n = ln[i]
            EE = nn.EmbeddingBag(n, m, mode="sum", sparse=True)
            W = np.random.uniform(low=-np.sqrt(1 / n), high=np.sqrt(1 / n), size=(n, m)).astype(np.float32)
            EE.weight.data = torch.tensor(W, requires_grad=True)
            if weighted_pooling is None:
                v_W_l.append(None)
            else:
                v_W_l.append(torch.ones(n, dtype=torch.float32))
            emb_l.append(EE)
        return emb_l, v_W_l

    def __init__(self, m_spa=None, ln_emb=None, ln_bot=None, ln_top=None, arch_interaction_op=None,
                 arch_interaction_itself=False, sigmoid_bot=-1, sigmoid_top=-1, loss_threshold=0.0,
                 weighted_pooling=None):
        super(DLRM_Net, self).__init__()
        self.output_d = 0
        self.arch_interaction_op = arch_interaction_op
        self.arch_interaction_itself = arch_interaction_itself
        self.loss_threshold = loss_threshold
        if weighted_pooling is not None and weighted_pooling != "fixed":
            self.weighted_pooling = "learned"
        else:
            self.weighted_pooling = weighted_pooling
        self.emb_l, w_list = self.create_emb(m_spa, ln_emb, weighted_pooling)
        if self.weighted_pooling == "learned":
            self.v_W_l = nn.ParameterList()
            for w in w_list:
                self.v_W_l.append(nn.Parameter(w))
        else:
            self.v_W_l = w_list
        self.bot_l = self.create_mlp(ln_bot, sigmoid_bot)
        self.top_l = self.create_mlp(ln_top, sigmoid_top)
        self.loss_fn = torch.nn.BCELoss(reduction="mean")

    def apply_mlp(self, x, layers):
        return layers(x)

    def apply_emb(self, lS_o, lS_i, emb_l, v_W_l):
        ly = []
        for k, sparse_index_group_batch in enumerate(lS_i):
            sparse_offset_group_batch = lS_o[k]
            if v_W_l[k] is not None:
                per_sample_weights = v_W_l[k].gather(0, sparse_index_group_batch)
            else:
                per_sample_weights = None
            E = emb_l[k]
            V = E(sparse_index_group_batch, sparse_offset_group_batch, per_sample_weights=per_sample_weights)
            ly.append(V)
        return ly

    def interact_features(self, x, ly):
        if self.arch_interaction_op == "dot":
            (batch_size, d) = x.shape
            T = torch.cat([x] + ly, dim=1).view((batch_size, -1, d))
            Z = torch.bmm(T, torch.transpose(T, 1, 2))
            _, ni, nj = Z.shape
            offset = 1 if self.arch_interaction_itself else 0
            li = torch.tensor([i for i in range(ni) for j in range(i + offset)])
            lj = torch.tensor([j for i in range(nj) for j in range(i + offset)])
            Zflat = Z[:, li, lj]
            R = torch.cat([x] + [Zflat], dim=1)
        elif self.arch_interaction_op == "cat":
            R = torch.cat([x] + ly, dim=1)
        else:
            raise ValueError("ERROR: --arch-interaction-op=" + self.arch_interaction_op + " is not supported")
        return R

    def forward(self, dense_x, lS_o, lS_i):
        x = self.apply_mlp(dense_x, self.bot_l)
        ly = self.apply_emb(lS_o, lS_i, self.emb_l, self.v_W_l)
        z = self.interact_features(x, ly)
        p = self.apply_mlp(z, self.top_l)
        if 0.0 < self.loss_threshold and self.loss_threshold < 1.0:
            z = torch.clamp(p, min=self.loss_threshold, max=(1.0 - self.loss_threshold))
        else:
            z = p
        return z


class LRPolicyScheduler(_LRScheduler):
    def __init__(self, optimizer, num_warmup_steps, decay_start_step, num_decay_steps):
        self.num_warmup_steps = num_warmup_steps
        self.decay_start_step = decay_start_step
        self.decay_end_step = decay_start_step + num_decay_steps
        self.num_decay_steps = num_decay_steps
        if self.decay_start_step < self.num_warmup_steps:
            raise ValueError("Learning rate warmup must finish before the decay starts")
        super(LRPolicyScheduler, self).__init__(optimizer)

    def get_lr(self):
        step_count = self._step_count
        if step_count < self.num_warmup_steps:
            scale = 1.0 - (self.num_warmup_steps - step_count) / self.num_warmup_steps
            lr = [base_lr * scale for base_lr in self.base_lrs]
            self.last_lr = lr
        elif self.decay_start_step <= step_count and step_count < self.decay_end_step:
            decayed_steps = step_count - self.decay_start_step
            scale = ((self.num_decay_steps - decayed_steps) / self.num_decay_steps) ** 2
            min_lr = 0.0000001
            lr = [max(min_lr, base_lr * scale) for base_lr in self.base_lrs]
            self.last_lr = lr
        else:
            if self.num_decay_steps > 0:
                lr = self.last_lr
            else:
                lr = self.base_lrs
        return lr


def generate_random_input_batch(m_den, ln_emb, n, num_indices_per_lookup):
    """dlrm_data_pytorch's random batch: dense features, then per table offsets and sorted unique indices."""
    Xt = torch.tensor(np.random.rand(n, m_den).astype(np.float32))
    lS_emb_offsets, lS_emb_indices = [], []
    for size in ln_emb:
        lS_batch_offsets, lS_batch_indices = [], []
        offset = 0
        for _ in range(n):
            r = np.random.random(1)
            sparse_group_size = np.int64(max(1, np.round(r * min(size, num_indices_per_lookup))[0]))
            r = np.random.random(sparse_group_size)
            sparse_group = np.unique(np.round(r * (size - 1)).astype(np.int64))
            sparse_group_size = np.int32(sparse_group.size)
            lS_batch_offsets += [offset]
            lS_batch_indices += sparse_group.tolist()
            offset += sparse_group_size
        lS_emb_offsets.append(torch.tensor(lS_batch_offsets))
        lS_emb_indices.append(torch.tensor(lS_batch_indices))
    T = torch.tensor(np.round(np.random.rand(n, 1)).astype(np.float32))
    return Xt, lS_emb_offsets, lS_emb_indices, T


def main(init):
    np.random.seed(123)
    m_spa, m_den = 4, 5
    ln_emb = np.array([10, 7, 12])
    ln_bot = np.array([m_den, 8, m_spa])
    num_fea = ln_emb.size + 1
    num_int = (num_fea * (num_fea - 1)) // 2 + ln_bot[-1]
    ln_top = np.array([num_int, 8, 1])
    dlrm = init(torch, DLRM_Net(m_spa, ln_emb, ln_bot, ln_top, arch_interaction_op="dot", sigmoid_top=ln_top.size - 2,
                                loss_threshold=1e-6, weighted_pooling="learned"))
    optimizer = torch.optim.SGD(dlrm.parameters(), lr=0.2)
    lr_scheduler = LRPolicyScheduler(optimizer, num_warmup_steps=3, decay_start_step=5, num_decay_steps=4)
    batches = [generate_random_input_batch(m_den, ln_emb, 8, 3) for _ in range(10)]
    losses, accs = [], []
    for X, lS_o, lS_i, T in batches:
        Z = dlrm(X, lS_o, lS_i)
        E = dlrm.loss_fn(Z, T)
        L = E.detach().cpu().numpy()
        S = Z.detach().cpu().numpy()
        A = np.sum((np.round(S, 0) == T.detach().cpu().numpy()).astype(np.uint8))
        optimizer.zero_grad()
        E.backward()
        optimizer.step()
        lr_scheduler.step()
        losses.append(float(L))
        accs.append(int(A))
    return {"losses": losses, "metric": [accs, lr_scheduler.get_last_lr()[0], [w.tolist() for w in dlrm.v_W_l]]}
