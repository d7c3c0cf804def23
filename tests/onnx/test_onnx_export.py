"""ember.onnx.export itself: ops reached outside leaf modules (checked against onnxruntime and torch), names,
dynamic axes, initializers, opsets, the model's mode, and the errors."""
import io

import numpy as np
import onnx
import pytest
import torch

import ember
import ember.onnx
from ember import nn
from tests.onnx.roundtrip import check, export, run, session


def ops_model(lib):
    """A forward made of tensor functions and methods rather than layers (in ember or torch)."""

    class Ops(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = lib.nn.Parameter(lib.randn(4, 6))
            self.fc = lib.nn.Linear(6, 6)

        def forward(self, x):  # (B, 3, 4)
            b = x.size(0)
            y = x.permute(0, 2, 1).reshape(b, -1).view(b, 4, 3).transpose(1, 2) * 2 - 1
            y += x  # in place
            z = lib.cat([x, y], dim=1)  # (B, 6, 4)
            s = lib.stack([x, y], dim=-1).flatten(2)  # (B, 3, 8)
            m = lib.nn.functional.relu(self.fc(z @ self.w))  # (B, 6, 6)
            m = m / 3 + x.mean(dim=(1, 2), keepdim=True) - lib.sub(m, z[:, :, :1], alpha=2)
            first, rest = s.split([3, 5], dim=2)
            parts = [
                m[:, 1:5:2, -1], m[..., None, 0].squeeze(-1), lib.softmax(m, dim=-1)[:, 0, :3].log_softmax(-1),
                lib.unbind(s, dim=1)[1].tanh(), first.sum(dim=(1, 2)).unsqueeze(1), rest.sum(2)[:, :1],
                s.unsqueeze(1).expand(-1, 2, -1, -1).sigmoid().mean(1)[:, 0],
                m.exp()[:, :1, :1].flatten(1).sqrt(), lib.matmul(x, x.transpose(1, 2)).abs().sum(-1),
                lib.maximum(x.pow(2), x.clamp(-0.5, 0.5)).flatten(1), lib.nn.functional.pad(x, (1, 2))[:, 0],
                x[-1:].expand(b, -1, -1)[:, 2] * 0 + x[:, 0, 0:1], lib.nn.functional.leaky_relu(x[:, :, 1], 0.1),
            ]
            return lib.cat(parts, dim=1), m

    return Ops()


@pytest.mark.parametrize("opset", [17, 18, 21])
def test_function_ops_match_ember_and_torch(opset):
    ember.manual_seed(0)
    model = ops_model(ember)
    data = check(model, ember.randn(2, 3, 4), ember.randn(5, 3, 4), opset_version=opset,
                 input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    twin = ops_model(torch)
    twin.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3, 4)).astype(np.float32)
    with torch.no_grad():
        expected = twin(torch.from_numpy(x))
    for got, e in zip(run(session(data), ember.tensor(x)), expected):
        np.testing.assert_allclose(got, e.numpy(), atol=1e-5, rtol=1e-5)
    assert onnx.load_from_string(data).opset_import[0].version == opset
