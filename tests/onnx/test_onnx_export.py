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
                z[:, [0, 2]].flatten(1), m[:, 0, [1, 3]], x.amax(dim=(1, 2))[:, None], x.max(2)[0],
                x.min(1, keepdim=True)[0].flatten(1), x[:, 0, :1] * 0 + x.min(), x.var(1),
                x.std(dim=2, keepdim=True).flatten(1), lib.nn.functional.normalize(x, dim=-1).flatten(1),
                x.norm(dim=1),
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


def test_names_dynamic_symbols_and_initializers():
    """Graph inputs and outputs carry the given names and symbolic sizes (a list of axes gets torch's generated
    symbol names); parameters are initializers named by their state_dict keys."""
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    proto = onnx.load_from_string(export(model, ember.randn(2, 6), input_names=["signal"], output_names=["logits"],
                                         dynamic_axes={"signal": [0], "logits": {0: "n"}}))
    graph = proto.graph
    assert [i.name for i in graph.input] == ["signal"] and [o.name for o in graph.output] == ["logits"]
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    assert dims(graph.input[0]) == ["signal_dynamic_axes_1", 6] and dims(graph.output[0]) == ["n", 3]
    stored = {i.name: onnx.numpy_helper.to_array(i) for i in graph.initializer}
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(stored[name], value.numpy())


def test_default_names_and_params_as_inputs():
    """Without names, inputs are named after forward's parameters; export_params=False makes the parameters
    inputs that the caller feeds."""
    ember.manual_seed(0)
    model = nn.Linear(4, 2)
    x = ember.randn(3, 4)
    sess = session(export(model, x, export_params=False))
    assert [i.name for i in sess.get_inputs()] == ["input", "weight", "bias"]
    assert [o.name for o in sess.get_outputs()] == ["output"]
    got = sess.run(None, {"input": x.numpy(), "weight": model.weight.detach().numpy(),
                          "bias": model.bias.detach().numpy()})[0]
    np.testing.assert_allclose(got, model(x).detach().numpy(), atol=1e-6)


def test_exports_in_eval_mode_to_a_path_and_restores_the_mode(tmp_path):
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.BatchNorm1d(4)).train()
    seen = []
    model.register_forward_hook(lambda m, i, o: seen.append((m[1].training, ember.onnx.is_in_onnx_export())))
    ember.onnx.export(model, (ember.randn(3, 4),), tmp_path / "model.onnx", dynamo=True, verify=False)
    assert seen and all(s == (False, True) for s in seen) and not ember.onnx.is_in_onnx_export()
    assert all(m.training for m in model.modules())
    x = ember.randn(3, 4)
    got = session((tmp_path / "model.onnx").read_bytes()).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, model.eval()(x).detach().numpy(), atol=1e-5)


def test_training_mode_and_errors_mirror_torch():
    assert {m.name: m.value for m in ember.onnx.TrainingMode} == \
        {n: int(m) for n, m in torch.onnx.TrainingMode.__members__.items()}
    assert [c.__name__ for c in ember.onnx.errors.UnsupportedOperatorError.__mro__[:3]] == \
        [c.__name__ for c in torch.onnx.errors.UnsupportedOperatorError.__mro__[:3]]
    assert ember.onnx.OnnxExporterError is ember.onnx.errors.OnnxExporterError


class _Forward(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class _Square(ember.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * x

    @staticmethod
    def backward(ctx, g):
        return g


@pytest.mark.parametrize("model, name", [
    (_Forward(lambda x: x.cumsum(1)), "Cumsum"),
    (_Forward(lambda x: _Square.apply(x)), "_Square"),
    (nn.Conv1d(2, 2, 3, padding=1, padding_mode="reflect"), "Conv1d"),
    (nn.AvgPool1d(2, ceil_mode=True), "AvgPool1d"),
])
def test_unsupported_op_raises_naming_it(model, name):
    with pytest.raises(ember.onnx.errors.UnsupportedOperatorError, match=f"'{name}'"):
        ember.onnx.export(model, ember.randn(2, 2, 5), io.BytesIO())


def test_constants_that_depend_on_the_inputs_raise():
    """A value computed from the inputs by something that is not an ember op (a comparison) cannot be frozen
    into a constant; nor can a tensor made at the example's batch size when that size is dynamic."""
    mask_model = _Forward(lambda x: (x > 0).float() * x)
    with pytest.raises(ember.onnx.OnnxExporterError, match="depends on the input values"):
        ember.onnx.export(mask_model, ember.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]]), io.BytesIO())
    sized = _Forward(lambda x: x + ember.ones(x.shape[0], 3))
    with pytest.raises(ember.onnx.OnnxExporterError, match="changes shape with the dynamic axes"):
        ember.onnx.export(sized, ember.randn(2, 3), io.BytesIO(), dynamic_axes={"x": [0]})
    check(sized, ember.randn(2, 3))  # at a fixed size it is a constant


def test_bad_arguments():
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        ember.onnx.export(nn.Linear(2, 2), ember.randn(1, 2), io.BytesIO(), foo=1)
    with pytest.raises(ValueError, match="opset"):
        ember.onnx.export(nn.Linear(2, 2), ember.randn(1, 2), io.BytesIO(), opset_version=9)


def test_import_ember_exposes_onnx():
    """As torch.onnx after ``import torch``; the onnx package itself is imported only by export."""
    import subprocess
    import sys
    code = ("import sys, ember; print(ember.onnx.export.__name__, ember.onnx.errors.UnsupportedOperatorError.__name__, "
            "'onnx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["export", "UnsupportedOperatorError", "False"], out.stderr


def test_control_flow_follows_the_example():
    """A branch on a value is frozen at the example's path, with a warning (torch's tracer warns too); with
    dynamic axes, where sizes must be followed, it is an error."""
    branchy = _Forward(lambda x: x * 2 if float(x[0, 0]) > 0 else x - 1)
    x = ember.tensor([[1.0, -1.0, -2.0, -3.0]])  # the second run's shuffled values start with -2.0
    with pytest.warns(UserWarning, match="path the example inputs took"):
        data = export(branchy, x)
    np.testing.assert_allclose(run(session(data), x)[0], (x * 2).numpy())
    with pytest.raises(ember.onnx.OnnxExporterError, match="control flow"):
        ember.onnx.export(branchy, x, io.BytesIO(), dynamic_axes={"x": [0]})


def test_a_mask_given_as_input_raises():
    """Masks and index arrays are exported as constants: one that comes from an input is an error, not a
    constant that would be wrong for other inputs."""
    attn = nn.MultiheadAttention(8, 2, batch_first=True)
    with pytest.raises(ember.onnx.OnnxExporterError, match="depends on the inputs"):
        ember.onnx.export(lambda x, pad: attn(x, x, x, key_padding_mask=pad, need_weights=False)[0],
                          (ember.randn(2, 5, 8), ember.tensor([[False, False, True, True, True]] * 2)), io.BytesIO())
