"""Each layer kind that ember.onnx.export translates: exported at batch 2, run in onnxruntime at batch 2
and 5 (a dynamic batch axis), outputs equal to ember's."""
import pytest

import ember
from ember import nn
from tests.onnx.roundtrip import check


def _stats(m):
    """A batch norm with running statistics that are not the initial zeros and ones."""
    with ember.no_grad():
        m.running_mean.copy_(ember.randn(m.num_features))
        m.running_var.copy_(ember.rand(m.num_features) + 0.5)
        m.weight.copy_(ember.randn(m.num_features))
    return m


class Recurrent(nn.Module):
    """A recurrent layer's output and final states, with or without given initial states."""

    def __init__(self, rnn, with_state):
        super().__init__()
        self.rnn, self.with_state = rnn, with_state

    def forward(self, x, *state):
        out, h = self.rnn(x, (state if len(state) > 1 else state[0]) if state else None)
        return (out, *h) if isinstance(h, tuple) else (out, h)


def _recurrent(kind, with_state=False, **kw):
    rnn = getattr(nn, kind)(3, 5, **kw)
    return Recurrent(rnn, with_state)


def _recurrent_inputs(kind, with_state=False, **kw):
    def make(n):
        x = ember.randn(n, 4, 3) if kw.get("batch_first") else ember.randn(4, n, 3)
        if not with_state:
            return x
        layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
        states = [ember.randn(layers, n, 5) for _ in range(2 if kind == "LSTM" else 1)]
        return (x, *states)
    return make


# (id, module, input at batch n, the batch dim of each input)
CASES = [
    ("linear", lambda: nn.Linear(6, 4), lambda n: ember.randn(n, 6), 0),
    ("linear_3d", lambda: nn.Linear(6, 4), lambda n: ember.randn(n, 3, 6), 0),
    ("linear_no_bias", lambda: nn.Linear(6, 4, bias=False), lambda n: ember.randn(n, 6), 0),
    ("conv1d", lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), lambda n: ember.randn(n, 3, 11), 0),
    ("conv1d_same_dilated", lambda: nn.Conv1d(2, 4, 4, padding="same", dilation=2), lambda n: ember.randn(n, 2, 9), 0),
    ("conv2d", lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), groups=2),
     lambda n: ember.randn(n, 4, 7, 6), 0),
    ("conv2d_valid_no_bias", lambda: nn.Conv2d(2, 3, 3, padding="valid", bias=False),
     lambda n: ember.randn(n, 2, 5, 5), 0),
    ("conv_transpose1d", lambda: nn.ConvTranspose1d(3, 2, 3, stride=2, padding=1), lambda n: ember.randn(n, 3, 6), 0),
    ("conv_transpose2d", lambda: nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1, groups=2),
     lambda n: ember.randn(n, 4, 5, 4), 0),
    ("conv_transpose2d_output_size", lambda: _Forward(nn.ConvTranspose2d(2, 2, 3, stride=2), output_size=(10, 9)),
     lambda n: ember.randn(n, 2, 4, 4), 0),
    ("max_pool1d", lambda: nn.MaxPool1d(3, stride=2, padding=1), lambda n: ember.randn(n, 3, 10), 0),
    ("max_pool2d", lambda: nn.MaxPool2d(2), lambda n: ember.randn(n, 3, 8, 6), 0),
    ("max_pool2d_padded_dilated", lambda: nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True),
     lambda n: ember.randn(n, 2, 9, 9), 0),
    ("avg_pool1d", lambda: nn.AvgPool1d(3, stride=2, padding=1), lambda n: ember.randn(n, 3, 10), 0),
    ("avg_pool2d_exclude_pad", lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
     lambda n: ember.randn(n, 2, 7, 6), 0),
    ("adaptive_avg_pool1d", lambda: nn.AdaptiveAvgPool1d(4), lambda n: ember.randn(n, 3, 12), 0),
    ("adaptive_avg_pool2d_global", lambda: nn.AdaptiveAvgPool2d(1), lambda n: ember.randn(n, 3, 5, 7), 0),
    ("adaptive_avg_pool2d", lambda: nn.AdaptiveAvgPool2d((2, 3)), lambda n: ember.randn(n, 3, 4, 6), 0),
    ("adaptive_max_pool2d", lambda: nn.AdaptiveMaxPool2d((2, 1)), lambda n: ember.randn(n, 3, 4, 6), 0),
    ("batch_norm1d", lambda: _stats(nn.BatchNorm1d(5)), lambda n: ember.randn(n, 5), 0),
    ("batch_norm1d_3d", lambda: _stats(nn.BatchNorm1d(5)), lambda n: ember.randn(n, 5, 7), 0),
    ("batch_norm2d", lambda: _stats(nn.BatchNorm2d(3)), lambda n: ember.randn(n, 3, 4, 5), 0),
    ("layer_norm", lambda: nn.LayerNorm(6), lambda n: ember.randn(n, 3, 6), 0),
    ("layer_norm_2d_no_affine", lambda: nn.LayerNorm((3, 6), elementwise_affine=False),
     lambda n: ember.randn(n, 3, 6), 0),
    ("group_norm", lambda: nn.GroupNorm(2, 6), lambda n: ember.randn(n, 6, 4, 3), 0),
    ("group_norm_3d_no_affine", lambda: nn.GroupNorm(3, 6, affine=False), lambda n: ember.randn(n, 6, 5), 0),
    ("instance_norm2d", lambda: nn.InstanceNorm2d(3, affine=True), lambda n: ember.randn(n, 3, 4, 5), 0),
    ("rms_norm", lambda: nn.RMSNorm((3, 4), eps=1e-3), lambda n: ember.randn(n, 3, 4), 0),
    ("upsample_nearest", lambda: nn.Upsample(scale_factor=2), lambda n: ember.randn(n, 2, 3, 4), 0),
    ("upsample_nearest_fractional", lambda: nn.Upsample(scale_factor=1.5), lambda n: ember.randn(n, 2, 3, 4), 0),
    ("upsample_linear_size", lambda: nn.Upsample(size=7, mode="linear"), lambda n: ember.randn(n, 2, 3), 0),
    ("upsample_bilinear", lambda: nn.Upsample(size=(5, 7), mode="bilinear"), lambda n: ember.randn(n, 2, 3, 4), 0),
    ("upsampling_bilinear2d", lambda: nn.UpsamplingBilinear2d(scale_factor=2), lambda n: ember.randn(n, 2, 3, 4), 0),
    ("relu", nn.ReLU, lambda n: ember.randn(n, 7), 0),
    ("relu_inplace", lambda: nn.Sequential(nn.Linear(7, 7), nn.ReLU(inplace=True)), lambda n: ember.randn(n, 7), 0),
    ("gelu", nn.GELU, lambda n: ember.randn(n, 7), 0),
    ("gelu_tanh", lambda: nn.GELU(approximate="tanh"), lambda n: ember.randn(n, 7), 0),
    ("sigmoid", nn.Sigmoid, lambda n: ember.randn(n, 7), 0),
    ("tanh", nn.Tanh, lambda n: ember.randn(n, 7), 0),
    ("leaky_relu", lambda: nn.LeakyReLU(0.2), lambda n: ember.randn(n, 7), 0),
    ("elu", lambda: nn.ELU(0.7), lambda n: ember.randn(n, 7), 0),
    ("silu", nn.SiLU, lambda n: ember.randn(n, 7), 0),
    ("prelu", lambda: nn.PReLU(3), lambda n: ember.randn(n, 3, 5), 0),
    ("hardswish", nn.Hardswish, lambda n: ember.randn(n, 7) * 4, 0),
    ("threshold", lambda: nn.Threshold(0.1, 2.0), lambda n: ember.randn(n, 7), 0),
    ("hardtanh", lambda: nn.Hardtanh(-0.5, 0.8), lambda n: ember.randn(n, 7), 0),
    ("softplus", lambda: nn.Softplus(beta=2.0), lambda n: ember.randn(n, 7), 0),
    ("softmax", lambda: nn.Softmax(dim=1), lambda n: ember.randn(n, 7, 3), 0),
    ("log_softmax", lambda: nn.LogSoftmax(dim=-1), lambda n: ember.randn(n, 7), 0),
    ("dropout_eval", lambda: nn.Sequential(nn.Linear(7, 7), nn.Dropout(0.5)), lambda n: ember.randn(n, 7), 0),
    ("embedding", lambda: nn.Embedding(10, 4), lambda n: ember.randint(0, 10, (n, 3)), 0),
    ("embedding_padding_idx", lambda: nn.Embedding(10, 4, padding_idx=0), lambda n: ember.randint(0, 10, (n, 3)), 0),
    ("flatten_unflatten_identity", lambda: nn.Sequential(nn.Flatten(), nn.Identity(), nn.Unflatten(1, (2, 6))),
     lambda n: ember.randn(n, 3, 4), 0),
    ("lstm", lambda: _recurrent("LSTM"), _recurrent_inputs("LSTM"), 1),
    ("lstm_2layer_bidirectional_state", lambda: _recurrent("LSTM", True, num_layers=2, bidirectional=True),
     _recurrent_inputs("LSTM", True, num_layers=2, bidirectional=True), (1, 1, 1)),
    ("gru_batch_first_bidirectional", lambda: _recurrent("GRU", batch_first=True, bidirectional=True),
     _recurrent_inputs("GRU", batch_first=True, bidirectional=True), 0),
    ("gru_2layer_state", lambda: _recurrent("GRU", True, num_layers=2), _recurrent_inputs("GRU", True, num_layers=2),
     (1, 1)),
    ("rnn_tanh", lambda: _recurrent("RNN", num_layers=2), _recurrent_inputs("RNN", num_layers=2), 1),
    ("rnn_relu_no_bias", lambda: _recurrent("RNN", nonlinearity="relu", bias=False, bidirectional=True),
     _recurrent_inputs("RNN", bidirectional=True), 1),
    ("multihead_attention", lambda: _SelfAttention(nn.MultiheadAttention(8, 2)), lambda n: ember.randn(5, n, 8), 1),
    ("multihead_attention_batch_first_causal",
     lambda: _SelfAttention(nn.MultiheadAttention(8, 4, batch_first=True), causal=True),
     lambda n: ember.randn(n, 5, 8), 0),
    ("transformer_encoder_layer", lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1),
     lambda n: ember.randn(4, n, 8), 1),
    ("transformer_encoder_layer_gelu_norm_first",
     lambda: nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", batch_first=True, norm_first=True),
     lambda n: ember.randn(n, 4, 8), 0),
]


class _Forward(nn.Module):
    """A module called with extra keyword arguments."""

    def __init__(self, module, **kwargs):
        super().__init__()
        self.module, self.kwargs = module, kwargs

    def forward(self, x):
        return self.module(x, **self.kwargs)


class _SelfAttention(nn.Module):
    def __init__(self, attn, causal=False):
        super().__init__()
        self.attn, self.causal = attn, causal

    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1 if self.attn.batch_first else 0]) \
            if self.causal else None
        out, weights = self.attn(x, x, x, attn_mask=mask)
        return out, weights


@pytest.mark.parametrize("make_model, make_input, batch_dim", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_layer(make_model, make_input, batch_dim):
    ember.manual_seed(0)
    model = make_model()
    args, other = make_input(2), make_input(5)
    args, other = (args if isinstance(args, tuple) else (args,)), (other if isinstance(other, tuple) else (other,))
    dims = batch_dim if isinstance(batch_dim, tuple) else (batch_dim,) * len(args)
    names = [f"input_{i}" for i in range(len(args))]
    check(model, args, other, input_names=names,
          dynamic_axes={n: {d: "batch"} for n, d in zip(names, dims)})
