"""Whole models exported and run in onnxruntime: the examples' models, a small transformer encoder and an
LSTM language model, with a dynamic batch axis; and the exported files against torch modules with the
same weights."""
import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember.examples import fashion_mnist, mnist1d
from tests.onnx.roundtrip import check, export, run, session


def _dynamic_batch(model, make_input, **kwargs):
    return check(model, make_input(2), make_input(5), input_names=["x"], output_names=["logits"],
                 dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, **kwargs)


@pytest.mark.parametrize("name", list(mnist1d.MODELS))
def test_mnist1d_models(name):
    ember.manual_seed(0)
    _dynamic_batch(mnist1d.MODELS[name](), lambda n: ember.randn(n, 40))


@pytest.mark.parametrize("name", ["MLP", "CNN"])
def test_fashion_mnist_models(name):
    ember.manual_seed(0)
    model = getattr(fashion_mnist, name)()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):  # trained-looking statistics, not the initial zeros and ones
            m.running_mean.copy_(ember.randn(m.num_features) * 0.1)
            m.running_var.copy_(ember.rand(m.num_features) + 0.5)
    _dynamic_batch(model, lambda n: ember.rand(n, 1, 28, 28))


def encoder(lib, vocab=20, d=16, heads=4, length=12, batch_first=True, causal=False):
    """Token embedding plus learned positions, a two-layer transformer encoder, a linear head (in ember or torch)."""

    class Encoder(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.pos = lib.nn.Embedding(vocab, d), lib.nn.Parameter(lib.randn(length, d) * 0.1)
            layer = lib.nn.TransformerEncoderLayer(d, heads, dim_feedforward=32, dropout=0.1, batch_first=batch_first)
            self.encoder = lib.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = lib.nn.Linear(d, vocab)

        def forward(self, tokens):
            x = self.embed(tokens) + self.pos[:tokens.shape[1]]
            if not batch_first:
                x = x.transpose(0, 1)
            mask = lib.nn.Transformer.generate_square_subsequent_mask(tokens.shape[1]) if causal else None
            h = self.encoder(x, mask=mask)
            return self.head(h if batch_first else h.transpose(0, 1))

    return Encoder()


def language_model(lib, vocab=30, d=8, hidden=12):
    """An LSTM language model: embedding, two LSTM layers, a linear head over the vocabulary."""

    class LanguageModel(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = lib.nn.Embedding(vocab, d)
            self.lstm = lib.nn.LSTM(d, hidden, num_layers=2, batch_first=True)
            self.head = lib.nn.Linear(hidden, vocab)

        def forward(self, tokens):
            out, (h, c) = self.lstm(self.embed(tokens))
            return self.head(out), h, c

    return LanguageModel()


def _torch_twin(model, make):
    """The same model built with torch, holding the ember model's weights."""
    twin = make(torch)
    twin.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    return twin.eval()


@pytest.mark.parametrize("batch_first, causal", [(True, False), (False, True)])
def test_transformer_encoder(batch_first, causal):
    ember.manual_seed(0)
    model = encoder(ember, batch_first=batch_first, causal=causal)
    _dynamic_batch(model, lambda n: ember.randint(0, 20, (n, 12)))


def test_lstm_language_model_dynamic_batch_and_length():
    ember.manual_seed(0)
    model = language_model(ember)
    check(model, ember.randint(0, 30, (2, 7)), ember.randint(0, 30, (5, 3)), input_names=["tokens"],
          output_names=["logits", "h", "c"],
          dynamic_axes={"tokens": {0: "batch", 1: "length"}, "logits": {0: "batch", 1: "length"},
                        "h": {1: "batch"}, "c": {1: "batch"}})


@pytest.mark.parametrize("make, vocab, length", [
    (language_model, 30, 7),
    (lambda lib: encoder(lib, causal=True), 20, 12),
], ids=["lstm_language_model", "transformer_encoder"])
def test_onnx_outputs_match_torch(make, vocab, length):
    """The exported file, run by onnxruntime, gives torch's outputs for the same weights and inputs."""
    ember.manual_seed(0)
    model = make(ember).eval()
    twin = _torch_twin(model, make)
    sess = session(export(model, ember.randint(0, vocab, (2, length)), input_names=["tokens"],
                          dynamic_axes={"tokens": [0]}))
    tokens = np.random.default_rng(0).integers(0, vocab, (4, length))
    with torch.no_grad():
        expected = twin(torch.from_numpy(tokens))
    got = run(sess, ember.tensor(tokens))
    for g, e in zip(got, expected if isinstance(expected, tuple) else (expected,)):
        np.testing.assert_allclose(g, e.numpy(), atol=1e-5, rtol=1e-5)


def test_mnist1d_gru_matches_torch():
    """A bidirectional batch-first GRU: torch's gate order (r, z, n) reordered into ONNX's (z, r, h)."""
    ember.manual_seed(0)
    model = mnist1d.GRUClassifier().eval()
    twin = torch.nn.Module()
    twin.gru, twin.linear = torch.nn.GRU(1, 6, batch_first=True, bidirectional=True), torch.nn.Linear(2 * 6 * 40, 10)
    twin.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    sess = session(export(model, ember.randn(2, 40), input_names=["x"], dynamic_axes={"x": [0]}))
    x = np.random.default_rng(1).standard_normal((3, 40)).astype(np.float32)
    with torch.no_grad():
        out, _ = twin.gru(torch.from_numpy(x).unsqueeze(-1))
        expected = twin.linear(out.flatten(1))
    np.testing.assert_allclose(run(sess, ember.tensor(x))[0], expected.numpy(), atol=1e-5, rtol=1e-5)
