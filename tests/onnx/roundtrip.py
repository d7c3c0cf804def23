"""Export a model, check the file with onnx's checker, run it in onnxruntime and compare with ember."""
from __future__ import annotations

import io

import numpy as np
import onnx
import onnxruntime as ort

import ember
import ember.onnx  # noqa: F401


def export(model, args, **kwargs) -> bytes:
    """The ONNX file ember.onnx.export writes, after onnx.checker's full check (with shape inference) and a
    check that every initializer is used."""
    buf = io.BytesIO()
    ember.onnx.export(model, args, buf, **kwargs)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    used = {name for node in proto.graph.node for name in node.input}
    assert all(i.name in used for i in proto.graph.initializer), "an initializer that no node reads"
    return buf.getvalue()


def session(data: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def run(sess: ort.InferenceSession, inputs) -> list:
    """onnxruntime's outputs for a tensor or a tuple of tensors, fed in order."""
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    return sess.run(None, {i.name: t.numpy() for i, t in zip(sess.get_inputs(), inputs)})


def flat(out) -> list:
    if isinstance(out, ember.Tensor):
        return [out]
    return [t for o in out for t in flat(o)]


def check(model, args, *others, atol: float = 1e-5, **kwargs) -> bytes:
    """Export ``model`` (in eval mode) on ``args``; onnxruntime's outputs on ``args`` and on each of ``others``
    (say, another batch size) equal ember's within ``atol``."""
    model.eval()
    data = export(model, args, **kwargs)
    sess = session(data)
    for inputs in (args, *others):
        with ember.no_grad():
            expected = flat(model(*(inputs if isinstance(inputs, tuple) else (inputs,))))
        got = run(sess, inputs)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g.shape == tuple(e.shape)
            np.testing.assert_allclose(g, e.numpy(), atol=atol, rtol=1e-5)
    return data
