"""TransformerEncoderLayer and TransformerEncoder, with torch's structure and parameter names."""
from __future__ import annotations

import copy
from typing import Callable

from ..._tensor import Tensor
from .._functional import basic as F
from ..._ops.nn_math import gelu, relu
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

__all__ = ["TransformerEncoderLayer", "TransformerEncoder"]


def _activation(activation) -> Callable:
    if callable(activation):
        return activation
    if activation == "relu":
        return relu
    if activation == "gelu":
        return gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with dropout, a residual connection and LayerNorm.

    Args:
        d_model: model dimension.
        nhead: attention heads.
        dim_feedforward: hidden size of the feed-forward block. Default: 2048.
        dropout: dropout after attention, inside and after the feed-forward block. Default: 0.1.
        activation: ``"relu"``, ``"gelu"`` or a callable. Default: ``"relu"``.
        layer_norm_eps: LayerNorm epsilon. Default: 1e-5.
        batch_first: inputs are ``(N, S, E)`` instead of ``(S, N, E)``. Default: False.
        norm_first: LayerNorm before each block (pre-norm) instead of after the residual. Default: False.
        bias: biases of the linear layers and LayerNorms. Default: True.

    Shape:
        - src ``(S, N, E)`` (``(N, S, E)`` with batch_first, or unbatched ``(S, E)``); output the same.

    Example::

        >>> layer = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)
        >>> layer(ember.randn(2, 5, 16)).shape
        ember.Size([2, 5, 16])
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, mask, key_padding_mask, is_causal: bool) -> Tensor:
        out = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=key_padding_mask, need_weights=False,
                             is_causal=is_causal)[0]
        return self.dropout1(out)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer``, then an optional ``norm``.

    Args:
        encoder_layer: the layer to copy (each copy has its own parameters).
        num_layers: number of layers.
        norm: applied to the last layer's output when given.

    Shape:
        - src as the layer's; output the same.

    Example::

        >>> layer = nn.TransformerEncoderLayer(16, 4, 32)
        >>> enc = nn.TransformerEncoder(layer, num_layers=2)
        >>> enc(ember.randn(5, 2, 16)).shape
        ember.Size([5, 2, 16])
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src: Tensor, mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        out = src
        for layer in self.layers:
            out = layer(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return out if self.norm is None else self.norm(out)
