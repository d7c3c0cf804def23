"""Anomaly detection: NaN gradients raise naming the backward node, and the forward trace is reported."""
import warnings

import numpy as np
import pytest
import torch

import ember

LIBS = {"ember": ember, "torch": torch}


def nan_backward_fn(lib):
    class NanGrad(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    return NanGrad


def forward_of_the_culprit(fn, x):
    return fn.apply(x)


def _trace_warnings(caught) -> list:
    return [str(w.message) for w in caught if str(w.message).startswith("Error detected")]


def test_nan_in_backward_raises_like_torch():
    msgs, traces = {}, {}
    for name, lib in LIBS.items():
        x = lib.ones(3, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # the forward's trace is reported as a UserWarning, as torch's
            with lib.autograd.detect_anomaly():
                y = forward_of_the_culprit(nan_backward_fn(lib), x)
                with pytest.raises(RuntimeError) as e:
                    y.sum().backward()
        msgs[name], traces[name] = str(e.value), _trace_warnings(caught)
    assert msgs["ember"] == msgs["torch"] == "Function 'NanGradBackward' returned nan values in its 0th output."
    for trace in traces.values():
        assert len(trace) == 1
        assert trace[0].startswith("Error detected in NanGradBackward. Traceback of forward call that caused the "
                                   "error:\n")
        assert "forward_of_the_culprit" in trace[0]  # the forward call's stack


def test_nan_passes_silently_without_anomaly_mode():
    x = ember.ones(3, requires_grad=True)
    nan_backward_fn(ember).apply(x).sum().backward()
    assert np.isnan(x.grad.numpy()).all()


def test_builtin_op_nan_is_caught():
    # log's backward is g / x: a zero gradient at x = 0 gives 0 / 0 = nan
    x = ember.tensor([0.0, 1.0], requires_grad=True)
    with ember.autograd.detect_anomaly():
        y = ember.log(x)
        with pytest.raises(RuntimeError, match="Function 'LogBackward0' returned nan values in its 0th output."):
            y.backward(ember.tensor([0.0, 1.0]))
    tx = torch.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autograd.detect_anomaly():
            with pytest.raises(RuntimeError, match="Function 'LogBackward0' returned nan values in its 0th output."):
                torch.log(tx).backward(torch.tensor([0.0, 1.0]))


def test_exception_in_backward_reports_forward_trace():
    class Broken(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom")

    x = ember.ones(2, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ember.autograd.detect_anomaly():
            y = forward_of_the_culprit(Broken, x)
            with pytest.raises(ValueError, match="boom"):
                y.sum().backward()
    assert _trace_warnings(caught)[0].startswith("Error detected in BrokenBackward")


def test_anomaly_mode_switches():
    assert not ember.autograd.is_anomaly_enabled()
    with ember.autograd.detect_anomaly():
        assert ember.autograd.is_anomaly_enabled()
    assert not ember.autograd.is_anomaly_enabled()
    ember.autograd.set_detect_anomaly(True)
    try:
        assert ember.autograd.is_anomaly_enabled()
        x = ember.tensor([1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()  # a healthy graph runs normally
        assert x.grad.tolist() == [2.0, 4.0]
    finally:
        ember.autograd.set_detect_anomaly(False)
    assert not ember.autograd.is_anomaly_enabled()
