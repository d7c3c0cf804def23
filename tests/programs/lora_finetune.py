"""microsoft/LoRA: https://github.com/microsoft/LoRA (loralib/layers.py, loralib/utils.py and the README's
recipe; MIT License), low-rank adaptation of a frozen model.

loralib's ``Embedding``, ``Linear`` (with ``fan_in_fan_out``, the weight stored transposed through
``weight.data = weight.data.transpose(0, 1)``) and ``MergedLinear`` (a grouped ``F.conv1d`` for the B matrices and
a boolean-index ``zero_pad`` as GPT-2's fused qkv uses it), subclasses calling ``nn.Linear.__init__`` with
``reset_parameters`` overridden, frozen weights (``requires_grad = False``), ``mark_only_lora_as_trainable``
with bias='lora_only', merging into the weights by ``train(False)`` and unmerging by ``train(True)`` through
``.data +=``/``-=``, ``lora_state_dict`` filtering, and loading the base checkpoint then the LoRA one with
``strict=False``. Adapted: a small bag-of-embeddings classifier on synthetic token data, 8 AdamW steps, the
checkpoints written to memory.
"""
import io
import math
from typing import List

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from _harness import text


class LoRALayer():
    def __init__(self, r: int, lora_alpha: int, lora_dropout: float, merge_weights: bool):
        self.r = r
        self.lora_alpha = lora_alpha
        if lora_dropout > 0.:
            self.lora_dropout = nn.Dropout(p=lora_dropout)
        else:
            self.lora_dropout = lambda x: x
        self.merged = False
        self.merge_weights = merge_weights


class Embedding(nn.Embedding, LoRALayer):
    def __init__(self, num_embeddings: int, embedding_dim: int, r: int = 0, lora_alpha: int = 1,
                 merge_weights: bool = True, **kwargs):
        nn.Embedding.__init__(self, num_embeddings, embedding_dim, **kwargs)
        LoRALayer.__init__(self, r=r, lora_alpha=lora_alpha, lora_dropout=0, merge_weights=merge_weights)
        if r > 0:
            self.lora_A = nn.Parameter(self.weight.new_zeros((r, num_embeddings)))
            self.lora_B = nn.Parameter(self.weight.new_zeros((embedding_dim, r)))
            self.scaling = self.lora_alpha / self.r
            self.weight.requires_grad = False
        self.reset_parameters()

    def reset_parameters(self):
        nn.Embedding.reset_parameters(self)
        if hasattr(self, 'lora_A'):
            nn.init.zeros_(self.lora_A)
            nn.init.normal_(self.lora_B)

    def train(self, mode: bool = True):
        nn.Embedding.train(self, mode)
        if mode:
            if self.merge_weights and self.merged:
                if self.r > 0:
                    self.weight.data -= (self.lora_B @ self.lora_A).transpose(0, 1) * self.scaling
                self.merged = False
        else:
            if self.merge_weights and not self.merged:
                if self.r > 0:
                    self.weight.data += (self.lora_B @ self.lora_A).transpose(0, 1) * self.scaling
                self.merged = True
        return self

    def forward(self, x: torch.Tensor):
        if self.r > 0 and not self.merged:
            result = nn.Embedding.forward(self, x)
            after_A = F.embedding(x, self.lora_A.transpose(0, 1), self.padding_idx, self.max_norm,
                                  self.norm_type, self.scale_grad_by_freq, self.sparse)
            result += (after_A @ self.lora_B.transpose(0, 1)) * self.scaling
            return result
        return nn.Embedding.forward(self, x)


class Linear(nn.Linear, LoRALayer):
    def __init__(self, in_features: int, out_features: int, r: int = 0, lora_alpha: int = 1,
                 lora_dropout: float = 0., fan_in_fan_out: bool = False, merge_weights: bool = True, **kwargs):
        nn.Linear.__init__(self, in_features, out_features, **kwargs)
        LoRALayer.__init__(self, r=r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                           merge_weights=merge_weights)
        self.fan_in_fan_out = fan_in_fan_out
        if r > 0:
            self.lora_A = nn.Parameter(self.weight.new_zeros((r, in_features)))
            self.lora_B = nn.Parameter(self.weight.new_zeros((out_features, r)))
            self.scaling = self.lora_alpha / self.r
            self.weight.requires_grad = False
        self.reset_parameters()
        if fan_in_fan_out:
            self.weight.data = self.weight.data.transpose(0, 1)

    def reset_parameters(self):
        nn.Linear.reset_parameters(self)
        if hasattr(self, 'lora_A'):
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
            nn.init.zeros_(self.lora_B)

    def train(self, mode: bool = True):
        def T(w):
            return w.transpose(0, 1) if self.fan_in_fan_out else w
        nn.Linear.train(self, mode)
        if mode:
            if self.merge_weights and self.merged:
                if self.r > 0:
                    self.weight.data -= T(self.lora_B @ self.lora_A) * self.scaling
                self.merged = False
        else:
            if self.merge_weights and not self.merged:
                if self.r > 0:
                    self.weight.data += T(self.lora_B @ self.lora_A) * self.scaling
                self.merged = True
        return self

    def forward(self, x: torch.Tensor):
        def T(w):
            return w.transpose(0, 1) if self.fan_in_fan_out else w
        if self.r > 0 and not self.merged:
            result = F.linear(x, T(self.weight), bias=self.bias)
            result += (self.lora_dropout(x) @ self.lora_A.transpose(0, 1) @ self.lora_B.transpose(0, 1)) \
                * self.scaling
            return result
        return F.linear(x, T(self.weight), bias=self.bias)


class MergedLinear(nn.Linear, LoRALayer):
    def __init__(self, in_features: int, out_features: int, r: int = 0, lora_alpha: int = 1,
                 lora_dropout: float = 0., enable_lora: List[bool] = [False], fan_in_fan_out: bool = False,
                 merge_weights: bool = True, **kwargs):
        nn.Linear.__init__(self, in_features, out_features, **kwargs)
        LoRALayer.__init__(self, r=r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                           merge_weights=merge_weights)
        assert out_features % len(enable_lora) == 0, 'The length of enable_lora must divide out_features'
        self.enable_lora = enable_lora
        self.fan_in_fan_out = fan_in_fan_out
        if r > 0 and any(enable_lora):
            self.lora_A = nn.Parameter(self.weight.new_zeros((r * sum(enable_lora), in_features)))
            self.lora_B = nn.Parameter(self.weight.new_zeros((out_features // len(enable_lora) * sum(enable_lora),
                                                              r)))
            self.scaling = self.lora_alpha / self.r
            self.weight.requires_grad = False
            self.lora_ind = self.weight.new_zeros((out_features, ), dtype=torch.bool).view(len(enable_lora), -1)
            self.lora_ind[enable_lora, :] = True
            self.lora_ind = self.lora_ind.view(-1)
        self.reset_parameters()
        if fan_in_fan_out:
            self.weight.data = self.weight.data.transpose(0, 1)

    def reset_parameters(self):
        nn.Linear.reset_parameters(self)
        if hasattr(self, 'lora_A'):
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
            nn.init.zeros_(self.lora_B)

    def zero_pad(self, x):
        result = x.new_zeros((*x.shape[:-1], self.out_features))
        result = result.view(-1, self.out_features)
        result[:, self.lora_ind] = x.reshape(-1, self.out_features // len(self.enable_lora) * sum(self.enable_lora))
        return result.view((*x.shape[:-1], self.out_features))

    def _delta_w(self):
        # the B blocks of the enabled projections times A, one conv group each
        return F.conv1d(self.lora_A.data.unsqueeze(0), self.lora_B.data.unsqueeze(-1),
                        groups=sum(self.enable_lora)).squeeze(0)

    def train(self, mode: bool = True):
        def T(w):
            return w.transpose(0, 1) if self.fan_in_fan_out else w
        nn.Linear.train(self, mode)
        if mode:
            if self.merge_weights and self.merged:
                if self.r > 0 and any(self.enable_lora):
                    self.weight.data -= self.zero_pad(T(self._delta_w() * self.scaling))
                self.merged = False
        else:
            if self.merge_weights and not self.merged:
                if self.r > 0 and any(self.enable_lora):
                    self.weight.data += self.zero_pad(T(self._delta_w() * self.scaling))
                self.merged = True
        return self

    def forward(self, x: torch.Tensor):
        def T(w):
            return w.transpose(0, 1) if self.fan_in_fan_out else w
        if self.merged:
            return F.linear(x, T(self.weight), bias=self.bias)
        result = F.linear(x, T(self.weight), bias=self.bias)
        if self.r > 0:
            after_A = F.linear(self.lora_dropout(x), self.lora_A)
            after_B = F.conv1d(after_A.transpose(-2, -1), self.lora_B.unsqueeze(-1),
                               groups=sum(self.enable_lora)).transpose(-2, -1)
            result += self.zero_pad(after_B) * self.scaling
        return result


def mark_only_lora_as_trainable(model: nn.Module, bias: str = 'none') -> None:
    for n, p in model.named_parameters():
        if 'lora_' not in n:
            p.requires_grad = False
    if bias == 'none':
        return
    elif bias == 'all':
        for n, p in model.named_parameters():
            if 'bias' in n:
                p.requires_grad = True
    elif bias == 'lora_only':
        for m in model.modules():
            if isinstance(m, LoRALayer) and hasattr(m, 'bias') and m.bias is not None:
                m.bias.requires_grad = True
    else:
        raise NotImplementedError


def lora_state_dict(model: nn.Module, bias: str = 'none'):
    my_state_dict = model.state_dict()
    if bias == 'none':
        return {k: my_state_dict[k] for k in my_state_dict if 'lora_' in k}
    elif bias == 'all':
        return {k: my_state_dict[k] for k in my_state_dict if 'lora_' in k or 'bias' in k}
    elif bias == 'lora_only':
        to_return = {}
        for k in my_state_dict:
            if 'lora_' in k:
                to_return[k] = my_state_dict[k]
                bias_name = k.split('lora_')[0] + 'bias'
                if bias_name in my_state_dict:
                    to_return[bias_name] = my_state_dict[bias_name]
        return to_return
    raise NotImplementedError


class Classifier(nn.Module):
    """A bag-of-embeddings text classifier with a GPT-2-style fused qkv projection."""

    def __init__(self, vocab, dim, classes, r):
        super().__init__()
        self.wte = Embedding(vocab, dim, r=r, lora_alpha=2 * r)
        self.c_attn = MergedLinear(dim, 3 * dim, r=r, lora_alpha=2 * r, enable_lora=[True, False, True],
                                   fan_in_fan_out=True)  # as GPT-2's Conv1D stores it (merging needs it)
        self.c_proj = Linear(3 * dim, dim, r=r, lora_alpha=2 * r, fan_in_fan_out=True)
        self.head = nn.Linear(dim, classes)

    def forward(self, idx):
        h = self.wte(idx)
        h = F.gelu(self.c_attn(h))
        h = self.c_proj(h) + self.wte(idx)
        return self.head(h.mean(1))


def main(init):
    vocab, dim, classes, r = 20, 8, 3, 2
    tokens = torch.tensor(text(16 * 6, vocab).reshape(16, 6))
    labels = torch.tensor(np.random.default_rng(2).integers(0, classes, 16))
    base = init(torch, Classifier(vocab, dim, classes, r=0), "base")  # the "pretrained" checkpoint
    model = init(torch, Classifier(vocab, dim, classes, r=r), "lora")
    model.load_state_dict(base.state_dict(), strict=False)
    mark_only_lora_as_trainable(model, bias='lora_only')
    model.head.weight.requires_grad_(True)  # a fresh task head trains in full
    model.head.bias.requires_grad_(True)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-2)
    losses = []
    model.train()
    for step in range(8):
        loss = F.cross_entropy(model(tokens), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        unmerged = model(tokens)
        model.eval()  # merges the adapters into the frozen weights
        merged = model(tokens)
        merged_weight = model.c_attn.weight.clone()
        model.train()  # unmerges them
        restored = (model.c_attn.weight - base.c_attn.weight).abs().max().item()
    buf = io.BytesIO()
    torch.save(lora_state_dict(model, bias='lora_only'), buf)
    buf.seek(0)
    fresh = Classifier(vocab, dim, classes, r=r)
    fresh.load_state_dict(base.state_dict(), strict=False)
    result = fresh.load_state_dict(torch.load(buf), strict=False)
    fresh.head.load_state_dict(model.head.state_dict())
    with torch.no_grad():
        reloaded = fresh(tokens)
    return {"losses": losses,
            "metric": [trainable, sorted(result.missing_keys), unmerged.tolist(), merged.tolist(),
                       merged_weight.sum().item(), restored, reloaded.tolist()]}
